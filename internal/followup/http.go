package followup

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves follow-ups.
type Handler struct {
	svc *Service
	val *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, val *web.Validator) *Handler { return &Handler{svc: svc, val: val} }

// View is a follow-up as the CM sees it.
type View struct {
	ID          string       `json:"id"`
	PatientID   string       `json:"patient_id"`
	PlanID      *string      `json:"plan_id"`
	Source      string       `json:"source"`
	Title       string       `json:"title"`
	Channel     string       `json:"channel"`
	WindowStart time.Time    `json:"window_start"`
	WindowEnd   time.Time    `json:"window_end"`
	Status      string       `json:"status"`
	Overdue     bool         `json:"overdue"`
	EscalatedAt *time.Time   `json:"escalated_at"`
	Outcome     *OutcomeView `json:"outcome"`
}

// OutcomeView is a recorded outcome.
type OutcomeView struct {
	Reached    bool      `json:"reached"`
	Symptoms   string    `json:"symptoms"`
	Adherence  string    `json:"adherence"`
	Problems   string    `json:"problems"`
	NextAction string    `json:"next_action"`
	RecordedBy string    `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
}

// List is a list of follow-ups.
type List struct {
	Items []View `json:"items"`
}

// AddRequest plans a follow-up by hand.
type AddRequest struct {
	Title      string `json:"title" validate:"required,max=128"`
	Channel    string `json:"channel" validate:"required"`
	DueOn      string `json:"due_on" validate:"required"`
	WindowDays int    `json:"window_days" validate:"min=0,max=30"`
}

// RescheduleRequest moves a follow-up.
type RescheduleRequest struct {
	Channel    string `json:"channel"`
	DueOn      string `json:"due_on" validate:"required"`
	WindowDays int    `json:"window_days" validate:"min=0,max=30"`
}

// OutcomeRequest records a follow-up's outcome.
type OutcomeRequest struct {
	Reached    *bool  `json:"reached"`
	Symptoms   string `json:"symptoms" validate:"max=2000"`
	Adherence  string `json:"adherence"`
	Problems   string `json:"problems" validate:"max=2000"`
	NextAction string `json:"next_action" validate:"max=2000"`
}

func (h *Handler) view(f Followup) View {
	v := View{ID: f.ID, PatientID: f.PatientID, PlanID: f.PlanID, Source: f.Source, Title: f.Title, Channel: f.Channel,
		WindowStart: f.WindowStart.UTC(), WindowEnd: f.WindowEnd.UTC(), Status: f.Status, Overdue: Overdue(f, h.svc.now()),
		EscalatedAt: f.EscalatedAt}
	if f.Status == StatusDone && f.RecordedAt != nil {
		v.Outcome = &OutcomeView{Reached: f.Reached != nil && *f.Reached, Symptoms: f.Symptoms, Adherence: f.Adherence,
			Problems: f.Problems, NextAction: f.NextAction, RecordedBy: f.RecordedByID, RecordedAt: f.RecordedAt.UTC()}
	}
	return v
}

func (h *Handler) list(items []Followup) List {
	out := List{Items: make([]View, 0, len(items))}
	for _, f := range items {
		out.Items = append(out.Items, h.view(f))
	}
	return out
}

// List handles GET /patients/:patientID/followups.
func (h *Handler) List(c *gin.Context) {
	limit, err := web.QueryLimit(c, 100, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	items, err := h.svc.List(c.Request.Context(), access.GrantFrom(c).PatientID, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, h.list(items))
}

// Add handles POST /patients/:patientID/followups.
func (h *Handler) Add(c *gin.Context) {
	var req AddRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	f, err := h.svc.Add(c.Request.Context(), access.GrantFrom(c).PatientID, req.Title, req.Channel, req.DueOn, req.WindowDays)
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, h.view(f))
}

// Reschedule handles POST /patients/:patientID/followups/:followupID/reschedule.
func (h *Handler) Reschedule(c *gin.Context) {
	var req RescheduleRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	f, err := h.svc.Reschedule(c.Request.Context(), access.GrantFrom(c).PatientID, c.Param("followupID"), req.Channel, req.DueOn, req.WindowDays)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, h.view(f))
}

// Record handles POST /patients/:patientID/followups/:followupID/outcome.
func (h *Handler) Record(c *gin.Context) {
	var req OutcomeRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	f, err := h.svc.Record(c.Request.Context(), actor, access.GrantFrom(c).PatientID, c.Param("followupID"), Outcome{Reached: req.Reached,
		Symptoms: req.Symptoms, Adherence: req.Adherence, Problems: req.Problems, NextAction: req.NextAction})
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, h.view(f))
}

// Worklist handles GET /followups[?view=escalated]: the caller's open
// follow-ups (a CM's caseload, a lead's department), overdue first.
func (h *Handler) Worklist(c *gin.Context) {
	escalated := false
	switch c.Query("view") {
	case "":
	case "escalated":
		escalated = true
	default:
		web.Error(c, apperr.Invalid("view", "invalid_view", "view 只能是 escalated"))
		return
	}
	limit, err := web.QueryLimit(c, 100, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	items, err := h.svc.Worklist(c.Request.Context(), actor, escalated, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, h.list(items))
}
