package careplan

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves pathways and care plans.
type Handler struct {
	svc *Service
	val *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, val *web.Validator) *Handler { return &Handler{svc: svc, val: val} }

// EnrolRequest enrols a patient in a pathway.
type EnrolRequest struct {
	Pathway          string            `json:"pathway" validate:"required,max=64"`
	Anchors          map[string]string `json:"anchors" validate:"max=4"`
	Comorbidities    []string          `json:"comorbidities" validate:"omitempty,max=30,dive,max=32"`
	PlannedAdmission bool              `json:"planned_admission"`
}

// EventRequest records an event; date defaults to today. Planned marks an
// admission planned ahead (计划内入院) or not; left out, a correction keeps
// what was recorded. It is refused on other events.
type EventRequest struct {
	Event   string `json:"event" validate:"required,max=16"`
	Date    string `json:"date" validate:"max=10"`
	Planned *bool  `json:"planned"`
}

// TransitionRequest moves a plan to a stage by hand.
type TransitionRequest struct {
	Stage  string `json:"stage" validate:"required,max=64"`
	Reason string `json:"reason" validate:"required,max=600"`
}

// RiskRequest overrides the risk level, or hands it back to the rules with "auto".
type RiskRequest struct {
	Level  string `json:"level" validate:"required,oneof=low medium high auto"`
	Reason string `json:"reason" validate:"required,max=600"`
}

// CloseRequest closes a plan (结案); note is required for reason "other".
type CloseRequest struct {
	Reason string `json:"reason" validate:"required,max=32"`
	Note   string `json:"note" validate:"max=800"`
}

// ComorbiditiesRequest replaces a patient's comorbidities.
type ComorbiditiesRequest struct {
	Codes []string `json:"codes" validate:"max=30,dive,max=32"`
}

// ComorbiditiesResponse lists a patient's comorbidities.
type ComorbiditiesResponse struct {
	Items []Comorbidity `json:"items"`
}

// PlanList is a patient's plans.
type PlanList struct {
	Items []PlanSummary `json:"items"`
}

// HistoryList is a plan's history.
type HistoryList struct {
	Items []HistoryView `json:"items"`
}

// CaseloadList is one page of active plans.
type CaseloadList struct {
	Items      []CaseloadItem `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// PathwayList lists the pathways.
type PathwayList struct {
	Items []PathwaySummary `json:"items"`
}

// PathwaySummary is a pathway without its stages' contents.
type PathwaySummary struct {
	PathwayRef
	Source []string   `json:"source"`
	Stages []StageRef `json:"stages"`
}

// Current handles GET /patients/:patientID/plan: the active plan.
func (h *Handler) Current(c *gin.Context) {
	v, err := h.svc.Current(c.Request.Context(), access.GrantFrom(c).PatientID)
	respond(c, http.StatusOK, forCaller(c, v), err)
}

// List handles GET /patients/:patientID/plans.
func (h *Handler) List(c *gin.Context) {
	items, err := h.svc.Plans(c.Request.Context(), access.GrantFrom(c).PatientID)
	if !isStaff(c) {
		for i := range items {
			items[i] = items[i].ForFamily()
		}
	}
	respond(c, http.StatusOK, PlanList{Items: items}, err)
}

// Get handles GET /patients/:patientID/plans/:planID.
func (h *Handler) Get(c *gin.Context) {
	v, err := h.svc.View(c.Request.Context(), access.GrantFrom(c).PatientID, c.Param("planID"))
	respond(c, http.StatusOK, forCaller(c, v), err)
}

// History handles GET /patients/:patientID/plans/:planID/history.
func (h *Handler) History(c *gin.Context) {
	items, err := h.svc.History(c.Request.Context(), access.GrantFrom(c).PatientID, c.Param("planID"))
	if !isStaff(c) {
		for i := range items {
			items[i] = items[i].ForFamily()
		}
	}
	respond(c, http.StatusOK, HistoryList{Items: items}, err)
}

// isStaff: the caller sees a plan as staff do (the CM's closing note).
func isStaff(c *gin.Context) bool { return access.GrantFrom(c).Relation == access.RelationStaff }

func forCaller(c *gin.Context, v PlanView) PlanView {
	if isStaff(c) {
		return v
	}
	return v.ForFamily()
}

// Close handles POST /patients/:patientID/plans/:planID/close (结案).
func (h *Handler) Close(c *gin.Context) {
	var req CloseRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	patientID := access.GrantFrom(c).PatientID
	plan, err := h.svc.Close(c.Request.Context(), a, patientID, c.Param("planID"), Closure{Reason: req.Reason, Note: req.Note})
	h.planAfter(c, http.StatusOK, patientID, plan, err)
}

// Enrol handles POST /patients/:patientID/plans.
func (h *Handler) Enrol(c *gin.Context) {
	var req EnrolRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	patientID := access.GrantFrom(c).PatientID
	plan, err := h.svc.Enrol(c.Request.Context(), a, patientID, Enrolment{Pathway: req.Pathway, Anchors: req.Anchors,
		Comorbidities: req.Comorbidities, PlannedAdmission: req.PlannedAdmission})
	h.planAfter(c, http.StatusCreated, patientID, plan, err)
}

// RecordEvent handles POST /patients/:patientID/plans/:planID/events.
func (h *Handler) RecordEvent(c *gin.Context) {
	var req EventRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	patientID := access.GrantFrom(c).PatientID
	plan, err := h.svc.RecordEvent(c.Request.Context(), a, patientID, c.Param("planID"), Event{Name: req.Event, Date: req.Date, Planned: req.Planned})
	h.planAfter(c, http.StatusOK, patientID, plan, err)
}

// Transition handles POST /patients/:patientID/plans/:planID/transitions.
func (h *Handler) Transition(c *gin.Context) {
	var req TransitionRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	patientID := access.GrantFrom(c).PatientID
	plan, err := h.svc.Transition(c.Request.Context(), a, patientID, c.Param("planID"), req.Stage, req.Reason)
	h.planAfter(c, http.StatusOK, patientID, plan, err)
}

// SetRisk handles PUT /patients/:patientID/plans/:planID/risk.
func (h *Handler) SetRisk(c *gin.Context) {
	var req RiskRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	patientID := access.GrantFrom(c).PatientID
	plan, err := h.svc.SetRisk(c.Request.Context(), a, patientID, c.Param("planID"), req.Level, req.Reason)
	h.planAfter(c, http.StatusOK, patientID, plan, err)
}

// planAfter answers a write with the plan as it now stands.
func (h *Handler) planAfter(c *gin.Context, status int, patientID string, plan Plan, err error) {
	if err != nil {
		web.Error(c, err)
		return
	}
	v, err := h.svc.View(c.Request.Context(), patientID, plan.ID)
	respond(c, status, v, err)
}

// CompleteTask handles POST /patients/:patientID/plans/:planID/tasks/:taskID/done.
func (h *Handler) CompleteTask(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	g := access.GrantFrom(c)
	t, err := h.svc.CompleteTask(c.Request.Context(), a, g.Relation, g.PatientID, c.Param("planID"), c.Param("taskID"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, TaskViewOf(t, h.svc.Today()))
}

// SetComorbidities handles PUT /patients/:patientID/comorbidities.
func (h *Handler) SetComorbidities(c *gin.Context) {
	var req ComorbiditiesRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	if req.Codes == nil {
		web.Error(c, apperr.Invalid("codes", "invalid_field", "缺少必填字段 codes"))
		return
	}
	codes, err := h.svc.SetComorbidities(c.Request.Context(), access.GrantFrom(c).PatientID, req.Codes)
	resp := ComorbiditiesResponse{Items: []Comorbidity{}}
	for _, code := range codes {
		cm, _ := ComorbidityByCode(code)
		resp.Items = append(resp.Items, cm)
	}
	respond(c, http.StatusOK, resp, err)
}

// Comorbidities handles GET /comorbidities: the codes a CM may record.
func (h *Handler) Comorbidities(c *gin.Context) {
	web.OK(c, ComorbiditiesResponse{Items: Comorbidities})
}

// Caseload handles GET /plans: the staff member's active plans, newest first.
func (h *Handler) Caseload(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	limit := 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			web.Error(c, apperr.Invalid("limit", "invalid_limit", "limit 必须是 1 到 200 之间的整数"))
			return
		}
		limit = n
	}
	q := CaseloadQuery{Scope: access.StaffPatients(a, "patients"), Pathway: c.Query("pathway"), Cursor: c.Query("cursor"), Limit: limit + 1}
	if len(q.Cursor) > 36 {
		web.Error(c, apperr.Invalid("cursor", "invalid_cursor", "分页游标无效"))
		return
	}
	if r := c.Query("risk_level"); r != "" {
		if !contains(riskLevels, r) {
			web.Error(c, apperr.Invalid("risk_level", "invalid_risk_level", "risk_level 必须是 low、medium 或 high"))
			return
		}
		q.RiskLevel = r
	}
	items, err := h.svc.Caseload(c.Request.Context(), q)
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := CaseloadList{Items: items}
	if len(items) > limit {
		resp.Items = items[:limit]
		resp.NextCursor = items[limit-1].ID
	}
	web.OK(c, resp)
}

// Pathways handles GET /pathways.
func (h *Handler) Pathways(c *gin.Context) {
	resp := PathwayList{Items: []PathwaySummary{}}
	for _, p := range h.svc.Pathways().All() {
		sum := PathwaySummary{PathwayRef: refOf(p), Source: p.Source, Stages: []StageRef{}}
		for _, st := range p.Stages {
			sum.Stages = append(sum.Stages, StageRef{Key: st.Key, Name: st.Name, Phase: st.Phase})
		}
		resp.Items = append(resp.Items, sum)
	}
	web.OK(c, resp)
}

// Pathway handles GET /pathways/:key: the whole template.
func (h *Handler) Pathway(c *gin.Context) {
	p, ok := h.svc.Pathways().Pathway(c.Param("key"))
	if !ok {
		web.Error(c, apperr.NotFound("路径"))
		return
	}
	web.OK(c, p)
}

func respond(c *gin.Context, status int, v any, err error) {
	if err != nil {
		web.Error(c, err)
		return
	}
	c.JSON(status, v)
}
