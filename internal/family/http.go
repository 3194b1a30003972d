package family

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// Auditor records audit events.
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Handler serves the family routes: the patient's members and invitations,
// a CM's registration, and the code routes a relative uses.
type Handler struct {
	svc     *Service
	auditor Auditor
	val     *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, auditor Auditor, val *web.Validator) *Handler {
	return &Handler{svc: svc, auditor: auditor, val: val}
}

// MemberView is a relative's link as the patient sees it.
type MemberView struct {
	ID           string     `json:"id"`
	Relationship string     `json:"relationship"`
	Scopes       []string   `json:"scopes"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

func memberView(l Link) MemberView {
	return MemberView{ID: l.ID, Relationship: l.Relationship, Scopes: scopeNames(access.ParseScopes(l.Scopes)),
		Status: l.Status, CreatedAt: l.CreatedAt, RevokedAt: l.RevokedAt}
}

// MembersResponse lists the patient's relatives.
type MembersResponse struct {
	Items []MemberView `json:"items"`
}

// Members handles GET /api/v1/patients/:patientID/family/members.
func (h *Handler) Members(c *gin.Context) {
	links, err := h.svc.Members(c.Request.Context(), access.GrantFrom(c).PatientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := MembersResponse{Items: make([]MemberView, 0, len(links))}
	for _, l := range links {
		resp.Items = append(resp.Items, memberView(l))
	}
	web.OK(c, resp)
}

// ScopesRequest sets a relative's scopes.
type ScopesRequest struct {
	Scopes []string `json:"scopes" validate:"max=16,dive,max=32"`
}

// ChangeScopes handles PUT /api/v1/patients/:patientID/family/members/:linkID/scopes.
func (h *Handler) ChangeScopes(c *gin.Context) {
	var req ScopesRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	l, err := h.svc.ChangeScopes(c.Request.Context(), a, access.GrantFrom(c).PatientID, idParam(c, "linkID"), req.Scopes)
	h.member(c, l, err)
}

// Revoke handles POST /api/v1/patients/:patientID/family/members/:linkID/revoke.
func (h *Handler) Revoke(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	l, err := h.svc.Revoke(c.Request.Context(), a, access.GrantFrom(c).PatientID, idParam(c, "linkID"))
	h.member(c, l, err)
}

func (h *Handler) member(c *gin.Context, l Link, err error) {
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, memberView(l))
}

// idParam is an id from the path; an over-long one matches nothing.
func idParam(c *gin.Context, name string) string {
	id := c.Param(name)
	if len(id) > 36 {
		return ""
	}
	return id
}

// InvitationView is an invitation as the patient sees it; never its code.
type InvitationView struct {
	ID            string     `json:"id"`
	Relationship  string     `json:"relationship"`
	Scopes        []string   `json:"scopes"`
	Status        string     `json:"status"`
	IssuedBy      string     `json:"issued_by"`
	ConsentMethod string     `json:"consent_method"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	AcceptedAt    *time.Time `json:"accepted_at,omitempty"`
	LinkID        string     `json:"link_id,omitempty"`
	WithdrawnAt   *time.Time `json:"withdrawn_at,omitempty"`
}

func invitationView(inv Invitation, now time.Time) InvitationView {
	v := InvitationView{ID: inv.ID, Relationship: inv.Relationship, Scopes: scopeNames(access.ParseScopes(inv.Scopes)),
		Status: inv.State(now), IssuedBy: issuer(inv), ConsentMethod: inv.ConsentMethod,
		CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt, AcceptedAt: inv.AcceptedAt, WithdrawnAt: inv.WithdrawnAt}
	if inv.LinkID != nil {
		v.LinkID = *inv.LinkID
	}
	return v
}

func issuer(inv Invitation) string {
	if inv.IssuedByKind == string(auth.KindStaff) {
		return "staff"
	}
	return "patient"
}

// InvitationsResponse lists the patient's invitations.
type InvitationsResponse struct {
	Items []InvitationView `json:"items"`
}

// Invitations handles GET /api/v1/patients/:patientID/family/invitations.
func (h *Handler) Invitations(c *gin.Context) {
	invs, err := h.svc.Invitations(c.Request.Context(), access.GrantFrom(c).PatientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	now := h.svc.now().UTC()
	resp := InvitationsResponse{Items: make([]InvitationView, 0, len(invs))}
	for _, inv := range invs {
		resp.Items = append(resp.Items, invitationView(inv, now))
	}
	web.OK(c, resp)
}

// InviteRequest is the patient's invitation.
type InviteRequest struct {
	Relationship string   `json:"relationship" validate:"required,max=64"`
	Scopes       []string `json:"scopes" validate:"max=16,dive,max=32"`
}

// IssuedResponse carries the code, shown this once: the mini-program draws
// a QR code for Page with Scene (wxacode.getUnlimited), or shares Path.
type IssuedResponse struct {
	Invitation InvitationView `json:"invitation"`
	Code       string         `json:"code"`
	Page       string         `json:"page"`
	Scene      string         `json:"scene"`
	Path       string         `json:"path"`
}

// Invite handles POST /api/v1/patients/:patientID/family/invitations (the patient).
func (h *Handler) Invite(c *gin.Context) {
	var req InviteRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	h.issue(c, NewInvitation{Relationship: req.Relationship, Scopes: req.Scopes})
}

// ConsentRecord is how the patient consented, as a CM records it.
type ConsentRecord struct {
	GivenBy string     `json:"given_by" validate:"required,oneof=patient guardian"`
	Method  string     `json:"method" validate:"required,oneof=in_person phone"`
	GivenAt *time.Time `json:"given_at"`
}

// RegisterRequest is a CM's registration of a relative for a patient who
// cannot use the phone, with the patient's recorded consent.
type RegisterRequest struct {
	Relationship string        `json:"relationship" validate:"required,max=64"`
	Scopes       []string      `json:"scopes" validate:"max=16,dive,max=32"`
	Consent      ConsentRecord `json:"consent"`
}

// Register handles POST /api/v1/patients/:patientID/family/registrations
// (staff): it issues an invitation the relative accepts with their own
// WeChat, so no one is bound to a patient without holding the code.
func (h *Handler) Register(c *gin.Context) {
	var req RegisterRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	h.issue(c, NewInvitation{Relationship: req.Relationship, Scopes: req.Scopes,
		Consent: consent.EvidenceInput{GivenBy: req.Consent.GivenBy, Method: req.Consent.Method, GivenAt: req.Consent.GivenAt}})
}

func (h *Handler) issue(c *gin.Context, in NewInvitation) {
	a, _ := auth.ActorFrom(c)
	is, err := h.svc.Invite(c.Request.Context(), a, access.GrantFrom(c).PatientID, in)
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, IssuedResponse{Invitation: invitationView(is.Invitation, h.svc.now().UTC()),
		Code: is.Code, Page: AcceptPage, Scene: is.Code, Path: PagePath(is.Code)})
}

// WithdrawInvitation handles POST /api/v1/patients/:patientID/family/invitations/:invitationID/withdraw.
func (h *Handler) WithdrawInvitation(c *gin.Context) {
	inv, err := h.svc.WithdrawInvitation(c.Request.Context(), access.GrantFrom(c).PatientID, idParam(c, "invitationID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, invitationView(inv, h.svc.now().UTC()))
}

// ScopeView is a scope with its description.
type ScopeView struct {
	Scope string `json:"scope"`
	Label string `json:"label"`
}

// PreviewResponse is what the holder of a code sees before accepting.
type PreviewResponse struct {
	PatientName  string      `json:"patient_name"` // masked: 张*国
	Relationship string      `json:"relationship"`
	Scopes       []ScopeView `json:"scopes"`
	IssuedBy     string      `json:"issued_by"`
	IssuerName   string      `json:"issuer_name,omitempty"`
	ExpiresAt    time.Time   `json:"expires_at"`
}

// Preview handles GET /api/v1/family/invitations/:code.
func (h *Handler) Preview(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	p, att, err := h.svc.Preview(c.Request.Context(), a, c.ClientIP(), c.Param("code"))
	h.attempt(c, a, att, err)
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := PreviewResponse{PatientName: p.PatientName, Relationship: p.Invitation.Relationship, Scopes: []ScopeView{},
		IssuedBy: issuer(p.Invitation), IssuerName: p.IssuerName, ExpiresAt: p.Invitation.ExpiresAt}
	for _, sc := range access.ParseScopes(p.Invitation.Scopes) {
		resp.Scopes = append(resp.Scopes, ScopeView{Scope: string(sc), Label: ScopeLabels[sc]})
	}
	web.OK(c, resp)
}

// AcceptedResponse is the relative the caller now follows.
type AcceptedResponse struct {
	LinkID       string   `json:"link_id"`
	PatientID    string   `json:"patient_id"`
	Name         string   `json:"name"`
	Relationship string   `json:"relationship"`
	Scopes       []string `json:"scopes"`
}

// Accept handles POST /api/v1/family/invitations/:code/accept.
func (h *Handler) Accept(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	acc, att, err := h.svc.Accept(c.Request.Context(), a, c.ClientIP(), c.Param("code"))
	h.attempt(c, a, att, err)
	if err != nil {
		web.Error(c, err)
		return
	}
	l := acc.Link
	web.OK(c, AcceptedResponse{LinkID: l.ID, PatientID: l.PatientID, Name: acc.PatientName, Relationship: l.Relationship,
		Scopes: scopeNames(access.ParseScopes(l.Scopes))})
}

// attempt audits and, when refused, logs one use of an invitation code.
// Neither the log nor the audit event holds the code: the route is logged
// as its template, and the object is the invitation's id when one was found.
func (h *Handler) attempt(c *gin.Context, a auth.Actor, att Attempt, err error) {
	result := audit.ResultOK
	switch {
	case err == nil:
	case web.Status(err) >= 500:
		result = audit.ResultError // web.Error logs it
	default:
		result = audit.ResultDenied
		reason := ""
		if e, ok := apperr.As(err); ok {
			reason = e.Code
		}
		web.Logger(c).Warn("invitation code refused", "route", c.FullPath(), "reason", reason, "ip", c.ClientIP(), "invitation_id", att.InvitationID)
	}
	if a.Kind == "" {
		return
	}
	e := audit.Event{ActorKind: string(a.Kind), ActorID: a.ID, ActorRole: string(a.Role),
		IP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: web.RequestIDOf(c),
		Action: c.Request.Method + " " + c.FullPath(), ObjectType: "family_invitation", ObjectID: att.InvitationID, Result: result}
	if att.PatientID != "" {
		e.PatientID = &att.PatientID
	}
	if err := h.auditor.Record(context.WithoutCancel(c.Request.Context()), e); err != nil {
		web.Logger(c).Error("audit event lost", "error", err.Error())
	}
}
