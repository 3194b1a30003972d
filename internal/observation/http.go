package observation

import (
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves readings, trends and the symptom checklist.
type Handler struct {
	svc *Service
	val *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, val *web.Validator) *Handler { return &Handler{svc: svc, val: val} }

func reporter(c *gin.Context) Reporter {
	a, _ := auth.ActorFrom(c)
	return Reporter{Actor: a, Grant: access.GrantFrom(c)}
}

// Report handles POST /api/v1/patients/:patientID/observations. The
// Idempotency-Key header (or the body's id) makes a retry return the first result.
func (h *Handler) Report(c *gin.Context) {
	var in Input
	if err := h.val.BindJSON(c, &in); err != nil {
		web.Error(c, err)
		return
	}
	key := c.GetHeader(idempotency.Header)
	switch {
	case key != "" && in.ID != "" && key != in.ID:
		web.Error(c, errKeyMismatch)
		return
	case key == "":
		key = in.ID
	}
	if key != "" && !idempotency.ValidKey(key) {
		web.Error(c, errBadKey)
		return
	}
	out, err := h.svc.Report(c.Request.Context(), reporter(c), in, key)
	if err != nil {
		web.Error(c, err)
		return
	}
	out.Write(c.Writer)
}

// BatchRequest is a mini-program's offline queue.
type BatchRequest struct {
	Items []json.RawMessage `json:"items"`
}

// ReportBatch handles POST /api/v1/patients/:patientID/observations/batch:
// up to 100 readings, each with its own id, answered item by item.
func (h *Handler) ReportBatch(c *gin.Context) {
	var req BatchRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	if len(req.Items) == 0 || len(req.Items) > MaxBatch {
		web.Error(c, apperr.Invalid("items", "invalid_batch_size", "items 必须包含 1 到 100 条数据").WithDetail("max", MaxBatch))
		return
	}
	res, err := h.svc.ReportBatch(c.Request.Context(), reporter(c), req.Items)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, res)
}

// List handles GET /api/v1/patients/:patientID/observations.
func (h *Handler) List(c *gin.Context) {
	limit, err := web.QueryLimit(c, 50, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	page, err := h.svc.List(c.Request.Context(), access.GrantFrom(c).PatientID, c.Query("type"), c.Query("cursor"), limit)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, page)
}

// Trend handles GET /api/v1/patients/:patientID/trends/:type?range=7d|30d|90d|1y.
func (h *Handler) Trend(c *gin.Context) {
	t, err := h.svc.Trend(c.Request.Context(), access.GrantFrom(c).PatientID, c.Param("type"), c.Query("range"))
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, t)
}

// ChecklistResponse is the symptom checklist of a patient.
type ChecklistResponse struct {
	Items []Symptom `json:"items"`
}

// Checklist handles GET /api/v1/patients/:patientID/symptom-checklist.
func (h *Handler) Checklist(c *gin.Context) {
	items, err := h.svc.Checklist(c.Request.Context(), access.GrantFrom(c).PatientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, ChecklistResponse{Items: items})
}
