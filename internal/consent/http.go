package consent

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/web"
)

// StaffDirectory names the staff member who recorded a consent.
type StaffDirectory interface {
	StaffByID(ctx context.Context, id string) (auth.Staff, error)
}

// Handler serves /me/consents and /patients/:patientID/consents.
type Handler struct {
	svc   *Service
	staff StaffDirectory
	val   *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, staff StaffDirectory, val *web.Validator) *Handler {
	return &Handler{svc: svc, staff: staff, val: val}
}

// Recorder is who wrote a consent down: the person in the app, or a staff member.
type Recorder struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"` // staff only
}

// View is a consent record as its owner (and the patient's care team) sees it.
type View struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind"`
	Version        string     `json:"version,omitempty"`
	FamilyLinkID   string     `json:"family_link_id,omitempty"`
	Relationship   string     `json:"relationship,omitempty"`
	Scopes         []string   `json:"scopes,omitempty"`
	GivenBy        string     `json:"given_by"`
	Method         string     `json:"method"`
	RecordedBy     Recorder   `json:"recorded_by"`
	GrantedAt      time.Time  `json:"granted_at"`
	Active         bool       `json:"active"`
	WithdrawnAt    *time.Time `json:"withdrawn_at,omitempty"`
	WithdrawReason string     `json:"withdraw_reason,omitempty"`
	WithdrawMethod string     `json:"withdraw_method,omitempty"`
}

func (h *Handler) views(ctx context.Context, cs []Consent) ([]View, error) {
	names := map[string]string{}
	out := make([]View, 0, len(cs))
	for _, c := range cs {
		v, err := h.view(ctx, c, names)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (h *Handler) view(ctx context.Context, c Consent, names map[string]string) (View, error) {
	v := View{ID: c.ID, Kind: c.Kind, Version: c.Version, Relationship: c.Relationship, GivenBy: c.GivenBy, Method: c.Method,
		RecordedBy: Recorder{Kind: c.RecordedByKind}, GrantedAt: c.GrantedAt, Active: c.Active(),
		WithdrawnAt: c.WithdrawnAt, WithdrawReason: c.WithdrawReason, WithdrawMethod: c.WithdrawMethod}
	if c.FamilyLinkID != nil {
		v.FamilyLinkID = *c.FamilyLinkID
	}
	for _, sc := range access.ParseScopes(c.Scopes) {
		v.Scopes = append(v.Scopes, string(sc))
	}
	if c.RecordedByKind == string(auth.KindStaff) {
		name, ok := names[c.RecordedByID]
		if !ok {
			st, err := h.staff.StaffByID(ctx, c.RecordedByID)
			if err != nil {
				return View{}, err
			}
			name = st.DisplayName
			names[c.RecordedByID] = name
		}
		v.RecordedBy.Name = name
	}
	return v, nil
}

// PrivacyPolicyStatus says whether the user must (re)accept the privacy policy.
type PrivacyPolicyStatus struct {
	CurrentVersion string `json:"current_version"`
	Accepted       bool   `json:"accepted"`
}

// MineResponse is GET /me/consents.
type MineResponse struct {
	PrivacyPolicy PrivacyPolicyStatus `json:"privacy_policy"`
	Items         []View              `json:"items"`
}

// Mine handles GET /api/v1/me/consents: the user's privacy-policy acceptances.
func (h *Handler) Mine(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if a.Kind != auth.KindUser {
		web.Error(c, auth.ErrUserOnly)
		return
	}
	ctx := c.Request.Context()
	accepted, err := h.svc.PrivacyPolicyAccepted(ctx, a.ID)
	if err != nil {
		web.Error(c, err)
		return
	}
	cs, err := h.svc.OfUser(ctx, a.ID)
	if err != nil {
		web.Error(c, err)
		return
	}
	items, err := h.views(ctx, cs)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, MineResponse{PrivacyPolicy: PrivacyPolicyStatus{CurrentVersion: h.svc.cfg.PrivacyPolicyVersion, Accepted: accepted}, Items: items})
}

// AcceptRequest accepts a privacy-policy version.
type AcceptRequest struct {
	Kind    string `json:"kind" validate:"required,oneof=privacy_policy"`
	Version string `json:"version" validate:"required,max=32"`
}

// Accept handles POST /api/v1/me/consents: 201 when recorded, 200 when it already was.
func (h *Handler) Accept(c *gin.Context) {
	var req AcceptRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	cs, created, err := h.svc.AcceptPrivacyPolicy(c.Request.Context(), a, req.Version)
	h.respond(c, cs, created, err)
}

func (h *Handler) respond(c *gin.Context, cs Consent, created bool, err error) {
	if err != nil {
		web.Error(c, err)
		return
	}
	v, err := h.view(c.Request.Context(), cs, map[string]string{})
	if err != nil {
		web.Error(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, v)
}

// HealthDataStatus says whether the patient's health-data consent is in force.
type HealthDataStatus struct {
	CurrentVersion string `json:"current_version"`
	Active         bool   `json:"active"`
}

// PatientResponse is GET /patients/:patientID/consents.
type PatientResponse struct {
	HealthData HealthDataStatus `json:"health_data"`
	Items      []View           `json:"items"`
}

// List handles GET /api/v1/patients/:patientID/consents.
func (h *Handler) List(c *gin.Context) {
	ctx := c.Request.Context()
	patientID := access.GrantFrom(c).PatientID
	records, err := h.svc.OfPatient(ctx, patientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := PatientResponse{HealthData: HealthDataStatus{CurrentVersion: h.svc.cfg.HealthDataVersion}}
	for _, r := range records {
		if r.Kind == KindHealthData && r.Active() {
			resp.HealthData.Active = true
		}
	}
	if resp.Items, err = h.views(ctx, records); err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, resp)
}

// GrantRequest records the patient's health-data consent. Staff recording
// what the patient or a guardian told them fill given_by, method and given_at.
type GrantRequest struct {
	Kind    string     `json:"kind" validate:"required,oneof=health_data"`
	Version string     `json:"version" validate:"required,max=32"`
	GivenBy string     `json:"given_by" validate:"omitempty,oneof=patient guardian"`
	Method  string     `json:"method" validate:"omitempty,oneof=in_app in_person phone"`
	GivenAt *time.Time `json:"given_at"`
}

// Grant handles POST /api/v1/patients/:patientID/consents.
func (h *Handler) Grant(c *gin.Context) {
	var req GrantRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	cs, created, err := h.svc.GrantHealthData(c.Request.Context(), a, access.GrantFrom(c).PatientID, req.Version,
		EvidenceInput{GivenBy: req.GivenBy, Method: req.Method, GivenAt: req.GivenAt})
	h.respond(c, cs, created, err)
}

// WithdrawRequest withdraws a consent; staff say how the patient told them.
type WithdrawRequest struct {
	Method string `json:"method" validate:"omitempty,oneof=in_app in_person phone"`
}

// Withdraw handles POST /api/v1/patients/:patientID/consents/:consentID/withdraw.
func (h *Handler) Withdraw(c *gin.Context) {
	var req WithdrawRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	id := c.Param("consentID")
	if len(id) > 36 {
		web.Error(c, ErrNotFound)
		return
	}
	cs, err := h.svc.Withdraw(c.Request.Context(), a, access.GrantFrom(c).PatientID, id, req.Method)
	h.respond(c, cs, false, err)
}
