package alert

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves alerts and thresholds.
type Handler struct {
	svc     *Service
	stream  *Stream
	policy  *access.Policy
	auditor access.Auditor
	val     *web.Validator
}

// NewHandler builds the handler. Routes by alert id check the policy
// themselves (the alert's patient is known only after loading it).
func NewHandler(svc *Service, stream *Stream, policy *access.Policy, auditor access.Auditor, val *web.Validator) *Handler {
	return &Handler{svc: svc, stream: stream, policy: policy, auditor: auditor, val: val}
}

// Stream handles GET /api/v1/alerts/stream (see Stream.Serve).
func (h *Handler) Stream(c *gin.Context) { h.stream.Serve(c) }

// View is an alert as the API shows it. Staff fields (owner, who acted, the
// CM's note) are left out for patients and relatives.
type View struct {
	ID              string             `json:"id"`
	PatientID       string             `json:"patient_id"`
	PatientName     string             `json:"patient_name,omitempty"`
	Kind            string             `json:"kind"`
	Rule            string             `json:"rule"`
	Severity        string             `json:"severity"`
	VitalType       string             `json:"vital_type"`
	Status          string             `json:"status"`
	Summary         string             `json:"summary"`
	Occurrences     int                `json:"occurrences"`
	FirstRaisedAt   time.Time          `json:"first_raised_at"`
	LastTriggeredAt time.Time          `json:"last_triggered_at"`
	OwnerID         string             `json:"owner_id,omitempty"`
	AcknowledgedAt  *time.Time         `json:"acknowledged_at,omitempty"`
	AcknowledgedBy  string             `json:"acknowledged_by,omitempty"`
	ResolvedAt      *time.Time         `json:"resolved_at,omitempty"`
	ResolvedBy      string             `json:"resolved_by,omitempty"`
	ActionTaken     string             `json:"action_taken,omitempty"`
	ResolutionNote  string             `json:"resolution_note,omitempty"`
	Readings        []observation.View `json:"readings,omitempty"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ViewOf converts an alert; staff see who acted and the note.
func ViewOf(a Alert, staff bool) View {
	v := View{
		ID: a.ID, PatientID: a.PatientID, Kind: a.Kind, Rule: a.Rule, Severity: a.Severity, VitalType: a.VitalType,
		Status: a.Status, Summary: a.Summary, Occurrences: a.Occurrences,
		FirstRaisedAt: a.FirstRaisedAt.UTC(), LastTriggeredAt: a.LastTriggeredAt.UTC(),
		AcknowledgedAt: utc(a.AcknowledgedAt), ResolvedAt: utc(a.ResolvedAt),
	}
	if staff {
		v.OwnerID, v.AcknowledgedBy, v.ResolvedBy = deref(a.OwnerID), deref(a.AcknowledgedBy), deref(a.ResolvedBy)
		v.ActionTaken, v.ResolutionNote = a.ActionTaken, a.ResolutionNote
	}
	return v
}

// ListResponse is one page of alerts.
type ListResponse struct {
	Items      []View `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func filterOf(c *gin.Context) (Filter, error) {
	limit, err := web.QueryLimit(c, 50, 200)
	return Filter{Status: c.Query("status"), Severity: c.Query("severity"), Cursor: c.Query("cursor"), Limit: limit}, err
}

// ForPatient handles GET /api/v1/patients/:patientID/alerts.
func (h *Handler) ForPatient(c *gin.Context) {
	grant := access.GrantFrom(c)
	f, err := filterOf(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	rows, next, err := h.svc.List(c.Request.Context(), ListQuery{PatientID: grant.PatientID}, f)
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := ListResponse{Items: make([]View, 0, len(rows)), NextCursor: next}
	for _, a := range rows {
		resp.Items = append(resp.Items, ViewOf(a, grant.Relation == access.RelationStaff))
	}
	web.OK(c, resp)
}

// List handles GET /api/v1/alerts: the alerts of the staff member's patients
// (a CM's caseload, a lead's department), active ones by default.
func (h *Handler) List(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	f, err := filterOf(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	ctx := c.Request.Context()
	rows, next, err := h.svc.List(ctx, ListQuery{Scope: access.StaffPatients(a, "patients")}, f)
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := ListResponse{Items: make([]View, 0, len(rows)), NextCursor: next}
	names := map[string]string{}
	for _, al := range rows {
		v := ViewOf(al, true)
		if _, ok := names[al.PatientID]; !ok {
			if names[al.PatientID], err = h.svc.patients.Name(ctx, al.PatientID); err != nil {
				web.Error(c, err)
				return
			}
		}
		v.PatientName = names[al.PatientID]
		resp.Items = append(resp.Items, v)
	}
	web.OK(c, resp)
}

// authorize loads an alert's patient access for a staff member: alerts of
// patients not in their care are "not found". Every attempt is audited.
func (h *Handler) authorize(c *gin.Context, id string) (auth.Actor, Alert, error) {
	a, _ := auth.ActorFrom(c)
	ctx := c.Request.Context()
	al, err := h.svc.store.ByID(ctx, id)
	if err != nil {
		return a, Alert{}, err
	}
	if _, err := h.policy.Check(ctx, a, access.ClinicalManage, al.PatientID); err != nil {
		h.audit(c, a, al, audit.ResultDenied)
		return a, Alert{}, ErrNotFound
	}
	return a, al, nil
}

func (h *Handler) audit(c *gin.Context, a auth.Actor, al Alert, result string) {
	pid := al.PatientID
	err := h.auditor.Record(context.WithoutCancel(c.Request.Context()), audit.Event{
		ActorKind: string(a.Kind), ActorID: a.ID, ActorRole: string(a.Role), IP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
		RequestID: web.RequestIDOf(c), Action: c.Request.Method + " " + c.FullPath(), PatientID: &pid,
		ObjectType: "alert", ObjectID: al.ID, Result: result,
	})
	if err != nil {
		web.Logger(c).Error("audit event lost", "error", err.Error())
	}
}

// Get handles GET /api/v1/alerts/:alertID: the alert with its readings.
func (h *Handler) Get(c *gin.Context) {
	a, al, err := h.authorize(c, c.Param("alertID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	ctx := c.Request.Context()
	_, readings, err := h.svc.Get(ctx, al.ID)
	if err != nil {
		web.Error(c, err)
		return
	}
	v := ViewOf(al, true)
	if v.PatientName, err = h.svc.patients.Name(ctx, al.PatientID); err != nil {
		web.Error(c, err)
		return
	}
	v.Readings = make([]observation.View, 0, len(readings))
	for _, r := range readings {
		v.Readings = append(v.Readings, observation.ViewOf(r))
	}
	h.audit(c, a, al, audit.ResultOK)
	web.OK(c, v)
}

// Acknowledge handles POST /api/v1/alerts/:alertID/acknowledge.
func (h *Handler) Acknowledge(c *gin.Context) {
	a, al, err := h.authorize(c, c.Param("alertID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	updated, err := h.svc.Acknowledge(c.Request.Context(), a, al.ID)
	h.respond(c, a, al, updated, err)
}

// ResolveRequest closes an alert.
type ResolveRequest struct {
	ActionTaken string `json:"action_taken" validate:"required,max=32"`
	Note        string `json:"note" validate:"required,max=4000"`
}

// Resolve handles POST /api/v1/alerts/:alertID/resolve.
func (h *Handler) Resolve(c *gin.Context) {
	var req ResolveRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, al, err := h.authorize(c, c.Param("alertID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	updated, err := h.svc.Resolve(c.Request.Context(), a, al.ID, Resolution{ActionTaken: req.ActionTaken, Note: req.Note})
	h.respond(c, a, al, updated, err)
}

func (h *Handler) respond(c *gin.Context, a auth.Actor, al, updated Alert, err error) {
	if err != nil {
		h.audit(c, a, al, audit.ResultError)
		web.Error(c, err)
		return
	}
	h.audit(c, a, al, audit.ResultOK)
	web.OK(c, ViewOf(updated, true))
}

// ThresholdsView shows a patient's thresholds layer by layer.
type ThresholdsView struct {
	PatientID string             `json:"patient_id"`
	Effective map[string]float64 `json:"effective"`
	Defaults  map[string]float64 `json:"defaults"`
	Pathway   map[string]float64 `json:"pathway"`
	Patient   map[string]float64 `json:"patient"`
	UpdatedAt *time.Time         `json:"updated_at,omitempty"`
	UpdatedBy string             `json:"updated_by,omitempty"`
	Specs     []ThresholdSpec    `json:"specs"`
}

func thresholdsView(patientID string, l Layers) ThresholdsView {
	return ThresholdsView{
		PatientID: patientID, Effective: l.Effective.Map(), Defaults: l.Defaults.Map(),
		Pathway: l.Pathway, Patient: l.Patient, UpdatedAt: utc(l.UpdatedAt), UpdatedBy: l.UpdatedBy, Specs: ThresholdSpecs,
	}
}

// Thresholds handles GET /api/v1/patients/:patientID/alert-thresholds.
func (h *Handler) Thresholds(c *gin.Context) {
	pid := access.GrantFrom(c).PatientID
	l, err := h.svc.Thresholds(c.Request.Context(), pid)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, thresholdsView(pid, l))
}

// SetThresholdsRequest replaces the patient's own overrides ({} clears them).
type SetThresholdsRequest struct {
	Overrides map[string]float64 `json:"overrides" validate:"required"`
}

// SetThresholds handles PUT /api/v1/patients/:patientID/alert-thresholds.
func (h *Handler) SetThresholds(c *gin.Context) {
	var req SetThresholdsRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	pid := access.GrantFrom(c).PatientID
	l, err := h.svc.SetOverrides(c.Request.Context(), a, pid, Overrides(req.Overrides))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, thresholdsView(pid, l))
}
