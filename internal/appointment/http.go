package appointment

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves appointments.
type Handler struct {
	svc *Service
	val *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, val *web.Validator) *Handler { return &Handler{svc: svc, val: val} }

// View is an appointment as the API shows it.
type View struct {
	ID              string      `json:"id"`
	PatientID       string      `json:"patient_id"`
	Kind            string      `json:"kind"`
	KindName        string      `json:"kind_name"`
	Title           string      `json:"title"`
	StartsAt        time.Time   `json:"starts_at"`
	EndsAt          time.Time   `json:"ends_at"`
	DurationMinutes int         `json:"duration_minutes"`
	Department      string      `json:"department"`
	Clinician       string      `json:"clinician"`
	Location        string      `json:"location"`
	Directions      string      `json:"directions"`
	Preparation     string      `json:"preparation"`
	Status          string      `json:"status"`
	CancelReason    string      `json:"cancel_reason,omitempty"`
	Reschedule      *Reschedule `json:"reschedule"`
	SourceTaskID    *string     `json:"source_task_id"`
	ConfirmedAt     *time.Time  `json:"confirmed_at"`
	CancelledAt     *time.Time  `json:"cancelled_at"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
}

// Reschedule is a patient's pending request for another time.
type Reschedule struct {
	PreferredTimes []time.Time `json:"preferred_times"`
	Note           string      `json:"note"`
	RequestedAt    time.Time   `json:"requested_at"`
}

// ViewOf shows a.
func ViewOf(a Appointment) View {
	v := View{ID: a.ID, PatientID: a.PatientID, Kind: a.Kind, KindName: Kinds[a.Kind], Title: Summary(a),
		StartsAt: a.StartsAt.UTC(), EndsAt: a.EndsAt.UTC(), DurationMinutes: int(a.EndsAt.Sub(a.StartsAt) / time.Minute),
		Department: a.Department, Clinician: a.Clinician, Location: a.Location, Directions: a.Directions,
		Preparation: a.Preparation, Status: a.Status, CancelReason: a.CancelReason, SourceTaskID: a.SourceTaskID,
		ConfirmedAt: a.ConfirmedAt, CancelledAt: a.CancelledAt, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
	if a.Status == StatusRescheduleRequested && a.RequestedAt != nil {
		r := &Reschedule{PreferredTimes: []time.Time{}, Note: a.RescheduleNote, RequestedAt: a.RequestedAt.UTC()}
		_ = json.Unmarshal([]byte(a.PreferredTimes), &r.PreferredTimes)
		v.Reschedule = r
	}
	return v
}

// Warning is a booking problem worth a second look that does not stop it.
type Warning struct {
	Code          string    `json:"code"`
	Message       string    `json:"message"`
	AppointmentID string    `json:"appointment_id"`
	StartsAt      time.Time `json:"starts_at"`
	EndsAt        time.Time `json:"ends_at"`
}

// Saved is a created or edited appointment with its warnings.
type Saved struct {
	Appointment View      `json:"appointment"`
	Warnings    []Warning `json:"warnings"`
}

// List is a list of appointments.
type List struct {
	Items []View `json:"items"`
}

// Request is what the CM writes.
type Request struct {
	Kind         string    `json:"kind" validate:"required,max=24"`
	Title        string    `json:"title" validate:"max=128"`
	StartsAt     time.Time `json:"starts_at" validate:"required"`
	EndsAt       time.Time `json:"ends_at" validate:"required"`
	Department   string    `json:"department" validate:"max=64"`
	Clinician    string    `json:"clinician" validate:"max=64"`
	Location     string    `json:"location" validate:"max=128"`
	Directions   string    `json:"directions" validate:"max=1000"`
	Preparation  string    `json:"preparation" validate:"max=2000"`
	SourceTaskID *string   `json:"source_task_id" validate:"omitempty,max=36"`
}

func (r Request) input() Input {
	return Input{Kind: r.Kind, Title: r.Title, StartsAt: r.StartsAt, EndsAt: r.EndsAt, Department: r.Department,
		Clinician: r.Clinician, Location: r.Location, Directions: r.Directions, Preparation: r.Preparation, SourceTaskID: r.SourceTaskID}
}

// AcceptRequest is the CM's acceptance of a proposal; absent fields keep
// the proposal's values, a new start without an end keeps the length.
type AcceptRequest struct {
	StartsAt   *time.Time `json:"starts_at"`
	EndsAt     *time.Time `json:"ends_at"`
	Department *string    `json:"department" validate:"omitempty,max=64"`
	Clinician  *string    `json:"clinician" validate:"omitempty,max=64"`
	Location   *string    `json:"location" validate:"omitempty,max=128"`
	Directions *string    `json:"directions" validate:"omitempty,max=1000"`
}

// DismissRequest is the CM's reason for not taking a proposal up.
type DismissRequest struct {
	Reason string `json:"reason" validate:"max=255"`
}

// CloseRequest records how an appointment ended.
type CloseRequest struct {
	Status string `json:"status" validate:"required"`
	Reason string `json:"reason" validate:"max=255"`
}

// CancelRequest is a patient's cancellation.
type CancelRequest struct {
	Reason string `json:"reason" validate:"max=255"`
}

// RescheduleRequest asks for another time.
type RescheduleRequest struct {
	PreferredTimes []time.Time `json:"preferred_times"`
	Note           string      `json:"note" validate:"max=255"`
}

func saved(a Appointment, overlaps []Overlap) Saved {
	s := Saved{Appointment: ViewOf(a), Warnings: []Warning{}}
	for _, o := range overlaps {
		s.Warnings = append(s.Warnings, Warning{Code: "overlap", Message: "与该患者的另一预约时间重叠",
			AppointmentID: o.AppointmentID, StartsAt: o.StartsAt.UTC(), EndsAt: o.EndsAt.UTC()})
	}
	return s
}

func listOf(list []Appointment) List {
	out := List{Items: make([]View, 0, len(list))}
	for _, a := range list {
		out.Items = append(out.Items, ViewOf(a))
	}
	return out
}

// List handles GET /patients/:patientID/appointments[?when=upcoming|past&limit=].
func (h *Handler) List(c *gin.Context) {
	past := false
	switch c.Query("when") {
	case "", "upcoming":
	case "past":
		past = true
	default:
		web.Error(c, apperr.Invalid("when", "invalid_when", "when 只能是 upcoming 或 past"))
		return
	}
	limit, err := web.QueryLimit(c, 50, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	list, err := h.svc.List(c.Request.Context(), access.GrantFrom(c).PatientID, past, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, listOf(list))
}

// Get handles GET /patients/:patientID/appointments/:appointmentID.
func (h *Handler) Get(c *gin.Context) {
	g := access.GrantFrom(c)
	get := h.svc.PatientsOwn
	if g.Relation == access.RelationStaff {
		get = h.svc.Get
	}
	a, err := get(c.Request.Context(), g.PatientID, c.Param("appointmentID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, ViewOf(a))
}

// Create handles POST /patients/:patientID/appointments.
func (h *Handler) Create(c *gin.Context) {
	var req Request
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	a, overlaps, err := h.svc.Create(c.Request.Context(), actor, access.GrantFrom(c).PatientID, req.input())
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, saved(a, overlaps))
}

// Update handles PUT /patients/:patientID/appointments/:appointmentID.
func (h *Handler) Update(c *gin.Context) {
	var req Request
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, overlaps, err := h.svc.Update(c.Request.Context(), access.GrantFrom(c).PatientID, c.Param("appointmentID"), req.input())
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, saved(a, overlaps))
}

// Close handles POST /patients/:patientID/appointments/:appointmentID/close.
func (h *Handler) Close(c *gin.Context) {
	var req CloseRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	a, err := h.svc.Close(c.Request.Context(), actor, access.GrantFrom(c).PatientID, c.Param("appointmentID"), req.Status, req.Reason)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, ViewOf(a))
}

// Confirm handles POST /patients/:patientID/appointments/:appointmentID/confirm.
func (h *Handler) Confirm(c *gin.Context) {
	h.respond(c, "confirm", nil, func(tx *Service, actor auth.Actor, patientID, id string) (Appointment, error) {
		return tx.Confirm(c.Request.Context(), actor, patientID, id)
	})
}

// Cancel handles POST /patients/:patientID/appointments/:appointmentID/cancel.
func (h *Handler) Cancel(c *gin.Context) {
	var req CancelRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	h.respond(c, "cancel", req, func(tx *Service, actor auth.Actor, patientID, id string) (Appointment, error) {
		return tx.Cancel(c.Request.Context(), actor, patientID, id, req.Reason)
	})
}

// RequestReschedule handles POST /patients/:patientID/appointments/:appointmentID/reschedule-request.
func (h *Handler) RequestReschedule(c *gin.Context) {
	var req RescheduleRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	h.respond(c, "reschedule_request", req, func(tx *Service, actor auth.Actor, patientID, id string) (Appointment, error) {
		return tx.RequestReschedule(c.Request.Context(), actor, patientID, id, req.PreferredTimes, req.Note)
	})
}

// Calendar handles GET /patients/:patientID/calendar.ics.
func (h *Handler) Calendar(c *gin.Context) {
	b, err := h.svc.Calendar(c.Request.Context(), access.GrantFrom(c).PatientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="appointments.ics"`)
	c.Data(http.StatusOK, "text/calendar; charset=utf-8", b)
}

// Requests handles GET /appointments/requests: the CM's queue of reschedule requests.
func (h *Handler) Requests(c *gin.Context) {
	limit, err := web.QueryLimit(c, 50, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	list, err := h.svc.Requests(c.Request.Context(), actor, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, listOf(list))
}

// Proposals handles GET /appointments/proposals: the CM's queue of
// appointments pathways proposed for their patients.
func (h *Handler) Proposals(c *gin.Context) {
	limit, err := web.QueryLimit(c, 50, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	list, err := h.svc.Proposals(c.Request.Context(), actor, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, listOf(list))
}

// AcceptProposal handles POST /patients/:patientID/appointments/:appointmentID/accept-proposal.
func (h *Handler) AcceptProposal(c *gin.Context) {
	var req AcceptRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	h.respondAny(c, "accept_proposal", req, func(tx *Service, actor auth.Actor, patientID, id string) (any, error) {
		a, overlaps, err := tx.Accept(c.Request.Context(), actor, patientID, id, Acceptance{StartsAt: req.StartsAt,
			EndsAt: req.EndsAt, Department: req.Department, Clinician: req.Clinician, Location: req.Location, Directions: req.Directions})
		return saved(a, overlaps), err
	})
}

// DismissProposal handles POST /patients/:patientID/appointments/:appointmentID/dismiss-proposal.
func (h *Handler) DismissProposal(c *gin.Context) {
	var req DismissRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	h.respond(c, "dismiss_proposal", req, func(tx *Service, actor auth.Actor, patientID, id string) (Appointment, error) {
		return tx.Dismiss(c.Request.Context(), actor, patientID, id, req.Reason)
	})
}
