package patient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// Link is a relative a WeChat user follows.
type Link struct {
	PatientID    string
	Relationship string
	Scopes       []string
}

// LinkLister lists the relatives a user follows (the family feature).
type LinkLister interface {
	ActiveLinksOf(ctx context.Context, userID string) ([]Link, error)
}

// PhoneBinder binds a phone from a getPhoneNumber code (the auth feature).
type PhoneBinder interface {
	BindPhone(ctx context.Context, a auth.Actor, code string) (string, error)
}

// StaffLoader loads a staff account for /me.
type StaffLoader interface {
	StaffByID(ctx context.Context, id string) (auth.Staff, error)
	UserByID(ctx context.Context, id string) (auth.User, error)
}

// Handler serves /me and patient records.
type Handler struct {
	svc      *Service
	links    LinkLister
	phones   PhoneBinder
	accounts StaffLoader
	val      *web.Validator
	meCache  *MeCache
}

// UseMeCache answers /me from c while nothing it shows has changed.
func (h *Handler) UseMeCache(c *MeCache) { h.meCache = c }

// NewHandler builds the handler.
func NewHandler(svc *Service, links LinkLister, phones PhoneBinder, accounts StaffLoader, val *web.Validator) *Handler {
	return &Handler{svc: svc, links: links, phones: phones, accounts: accounts, val: val}
}

// Relative is a patient a family member follows.
type Relative struct {
	PatientID    string   `json:"patient_id"`
	Name         string   `json:"name"`
	Relationship string   `json:"relationship"`
	Scopes       []string `json:"scopes"`
}

// UserView is the WeChat account itself.
type UserView struct {
	ID          string `json:"id"`
	PhoneBound  bool   `json:"phone_bound"`
	PhoneMasked string `json:"phone_masked,omitempty"`
}

// MeResponse says who the caller is.
type MeResponse struct {
	Kind      auth.ActorKind  `json:"kind"`
	Role      auth.Role       `json:"role"`
	User      *UserView       `json:"user,omitempty"`
	Patient   *Profile        `json:"patient"`
	Relatives []Relative      `json:"relatives"`
	Staff     *auth.StaffView `json:"staff,omitempty"`
}

// Me handles GET /api/v1/me.
func (h *Handler) Me(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	key, now := string(a.Kind)+":"+a.ID+":"+string(a.Role), time.Now()
	if body, ok := h.meCache.get(key, now); ok {
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
		return
	}
	version := h.meCache.version()
	resp, err := h.me(c.Request.Context(), a)
	if err != nil {
		web.Error(c, err)
		return
	}
	body, err := json.Marshal(resp)
	if err != nil {
		web.Error(c, fmt.Errorf("encode /me: %w", err))
		return
	}
	h.meCache.put(key, body, version, now)
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

func (h *Handler) me(ctx context.Context, a auth.Actor) (MeResponse, error) {
	resp := MeResponse{Kind: a.Kind, Role: a.Role, Relatives: []Relative{}}
	if a.Kind == auth.KindStaff {
		st, err := h.accounts.StaffByID(ctx, a.ID)
		if err != nil {
			return MeResponse{}, fmt.Errorf("load staff: %w", err)
		}
		v := auth.ViewOfStaff(st)
		resp.Staff = &v
		return resp, nil
	}
	u, err := h.accounts.UserByID(ctx, a.ID)
	if err != nil {
		return MeResponse{}, fmt.Errorf("load user: %w", err)
	}
	phone, err := h.svc.sealer.Open(u.PhoneEnc)
	if err != nil {
		return MeResponse{}, fmt.Errorf("open user phone: %w", err)
	}
	resp.User = &UserView{ID: u.ID, PhoneBound: phone != "", PhoneMasked: MaskPhone(phone)}
	p, ok, err := h.svc.store.ByUserID(ctx, a.ID)
	if err != nil {
		return MeResponse{}, err
	}
	if ok {
		pr, err := h.svc.ProfileOf(p)
		if err != nil {
			return MeResponse{}, err
		}
		resp.Patient = &pr
	}
	links, err := h.links.ActiveLinksOf(ctx, a.ID)
	if err != nil {
		return MeResponse{}, err
	}
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = l.PatientID
	}
	names, err := h.svc.Names(ctx, ids)
	if err != nil {
		return MeResponse{}, err
	}
	for _, l := range links {
		resp.Relatives = append(resp.Relatives, Relative{PatientID: l.PatientID, Name: names[l.PatientID], Relationship: l.Relationship, Scopes: l.Scopes})
	}
	return resp, nil
}

// BindPhoneRequest carries the code from <button open-type="getPhoneNumber">.
type BindPhoneRequest struct {
	Code string `json:"code" validate:"required,max=128"`
}

// BindPhone handles POST /api/v1/me/phone: it stores the phone and links a
// patient record a CM created earlier with the same phone.
func (h *Handler) BindPhone(c *gin.Context) {
	var req BindPhoneRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	ctx := c.Request.Context()
	index, err := h.phones.BindPhone(ctx, a, req.Code)
	if err != nil {
		web.Error(c, err)
		return
	}
	if _, err := h.svc.store.LinkUserByPhone(ctx, a.ID, index); err != nil {
		web.Error(c, err)
		return
	}
	resp, err := h.me(ctx, a)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, resp)
}

// Get handles GET /api/v1/patients/:patientID.
func (h *Handler) Get(c *gin.Context) {
	pr, err := h.svc.Profile(c.Request.Context(), access.GrantFrom(c).PatientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, pr)
}

// ListResponse is one page of patients.
type ListResponse struct {
	Items      []Profile `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// List handles GET /api/v1/patients: the staff member's own patients.
func (h *Handler) List(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	cursor, limit, err := web.Page(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	q := ListQuery{Scope: access.StaffPatients(a, "patients"), Cursor: cursor, Limit: limit + 1}
	if risk := c.Query("risk_level"); risk != "" {
		if risk != RiskLow && risk != RiskMedium && risk != RiskHigh {
			web.Error(c, apperr.Invalid("risk_level", "invalid_risk_level", "risk_level 必须是 low、medium 或 high"))
			return
		}
		q.RiskLevel = risk
	}
	if phone := c.Query("phone"); phone != "" {
		q.PhoneIndex = h.svc.sealer.Index(NormalizePhone(phone))
	}
	rows, err := h.svc.store.List(c.Request.Context(), q)
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := ListResponse{Items: make([]Profile, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		resp.NextCursor = rows[limit-1].ID
	}
	for _, p := range rows {
		pr, err := h.svc.ProfileOf(p)
		if err != nil {
			web.Error(c, err)
			return
		}
		resp.Items = append(resp.Items, pr)
	}
	web.OK(c, resp)
}

// CreateRequest registers a patient record, possibly before the patient ever
// opens the mini-program (binding the same phone links it later).
type CreateRequest struct {
	Name      string `json:"name" validate:"required,max=96"`
	Phone     string `json:"phone" validate:"max=20"`
	IDNumber  string `json:"id_number" validate:"max=18"`
	Gender    string `json:"gender" validate:"omitempty,oneof=M F U"`
	BirthDate string `json:"birth_date" validate:"omitempty,datetime=2006-01-02"`
	MRN       string `json:"mrn" validate:"max=32"`
	Bed       string `json:"bed" validate:"max=32"`
}

// Create handles POST /api/v1/patients: a CM or lead registers a patient in
// their own department; a CM becomes the patient's case manager.
func (h *Handler) Create(c *gin.Context) {
	var req CreateRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	if a.DepartmentID == "" {
		web.Error(c, apperr.New(apperr.KindForbidden, "no_department", "您的账号未归属科室，不能登记患者"))
		return
	}
	in := NewPatient{HospitalID: a.HospitalID, DepartmentID: a.DepartmentID, MRN: req.MRN, Name: req.Name,
		Phone: req.Phone, IDNumber: req.IDNumber, Gender: req.Gender, Bed: req.Bed}
	if a.Role == auth.RoleCM {
		in.AssignedCMID = a.ID
	}
	if req.BirthDate != "" {
		b, _ := time.Parse(time.DateOnly, req.BirthDate)
		in.BirthDate = &b
	}
	p, err := h.svc.Register(c.Request.Context(), in)
	if err != nil {
		web.Error(c, err)
		return
	}
	pr, err := h.svc.ProfileOf(p)
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, pr)
}
