package questionnaire

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves questionnaires.
type Handler struct {
	svc *Service
	val *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, val *web.Validator) *Handler { return &Handler{svc: svc, val: val} }

// DefinitionView is a questionnaire as the client renders it (without scores).
type DefinitionView struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	Source  string `json:"source"`
	Items   []Item `json:"items"`
}

// View is an assigned questionnaire and its answers.
type View struct {
	ID             string         `json:"id"`
	PatientID      string         `json:"patient_id"`
	Questionnaire  DefinitionView `json:"questionnaire"`
	FollowupID     *string        `json:"followup_id"`
	Status         string         `json:"status"`
	AssignedAt     time.Time      `json:"assigned_at"`
	AssignedByKind string         `json:"assigned_by_kind"`
	Answers        map[string]any `json:"answers"`
	Score          *float64       `json:"score"`
	Band           string         `json:"band"`
	BandName       string         `json:"band_name"`
	Alert          bool           `json:"alert"`
	AnsweredAt     *time.Time     `json:"answered_at"`
	AnsweredByKind string         `json:"answered_by_kind"`
}

// List is a list of assigned questionnaires.
type List struct {
	Items []View `json:"items"`
}

// Definitions is the questionnaire library.
type Definitions struct {
	Items []DefinitionView `json:"items"`
}

// AssignRequest sends a questionnaire to the patient.
type AssignRequest struct {
	Questionnaire string `json:"questionnaire" validate:"required,max=64"`
}

// AnswerRequest is the patient's answers by item key.
type AnswerRequest struct {
	Answers map[string]json.RawMessage `json:"answers"`
}

func definitionView(d *Definition) DefinitionView {
	return DefinitionView{Key: d.Key, Name: d.Name, Version: d.Version, Source: d.Source, Items: d.Items}
}

func (h *Handler) view(a Assignment) View {
	v := View{ID: a.ID, PatientID: a.PatientID, FollowupID: a.FollowupID, Status: a.Status, AssignedAt: a.AssignedAt.UTC(),
		AssignedByKind: a.AssignedByKind, Score: a.Score, Band: a.Band, Alert: a.Alert, AnsweredAt: a.AnsweredAt,
		AnsweredByKind: a.AnsweredByKind, Questionnaire: DefinitionView{Key: a.Questionnaire, Version: a.Version, Items: []Item{}}}
	if d, ok := h.svc.lib.Get(a.Questionnaire); ok {
		v.Questionnaire = definitionView(d)
		for _, b := range d.Scoring.Bands {
			if b.Label == a.Band {
				v.BandName = b.Name
			}
		}
	}
	if a.Answers != "" {
		_ = json.Unmarshal([]byte(a.Answers), &v.Answers)
	}
	return v
}

func (h *Handler) list(items []Assignment) List {
	out := List{Items: make([]View, 0, len(items))}
	for _, a := range items {
		out.Items = append(out.Items, h.view(a))
	}
	return out
}

// Definitions handles GET /questionnaires: the library.
func (h *Handler) Definitions(c *gin.Context) {
	out := Definitions{Items: []DefinitionView{}}
	for _, d := range h.svc.lib.All() {
		out.Items = append(out.Items, definitionView(d))
	}
	web.OK(c, out)
}

// List handles GET /patients/:patientID/questionnaires.
func (h *Handler) List(c *gin.Context) {
	limit, err := web.QueryLimit(c, 50, 200)
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

// Get handles GET /patients/:patientID/questionnaires/:assignmentID.
func (h *Handler) Get(c *gin.Context) {
	a, err := h.svc.Get(c.Request.Context(), access.GrantFrom(c).PatientID, c.Param("assignmentID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, h.view(a))
}

// Assign handles POST /patients/:patientID/questionnaires.
func (h *Handler) Assign(c *gin.Context) {
	var req AssignRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	a, err := h.svc.Assign(c.Request.Context(), actor, access.GrantFrom(c).PatientID, req.Questionnaire, nil)
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(http.StatusCreated, h.view(a))
}

// Answer handles POST /patients/:patientID/questionnaires/:assignmentID/answers.
func (h *Handler) Answer(c *gin.Context) {
	var req AnswerRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	key := c.GetHeader(idempotency.Header)
	if err := idempotency.CheckKey(key); err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	out, err := h.svc.AnswerOnce(c.Request.Context(), actor, key, access.GrantFrom(c).PatientID, c.Param("assignmentID"), req.Answers,
		func(a Assignment) any { return h.view(a) })
	if err != nil {
		web.Error(c, err)
		return
	}
	out.Write(c.Writer)
}

// Flagged handles GET /questionnaires/flagged: responses past their threshold, of the caller's patients.
func (h *Handler) Flagged(c *gin.Context) {
	limit, err := web.QueryLimit(c, 50, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	items, err := h.svc.Flagged(c.Request.Context(), actor, limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, h.list(items))
}
