package export

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/web"
)

// Auditor records audit events.
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Handler serves the export routes (access.DataExport: the patient only).
type Handler struct {
	svc     *Service
	auditor Auditor
	loc     *time.Location
}

// NewHandler builds the handler; loc is the hospital's zone (file name, summary times).
func NewHandler(svc *Service, auditor Auditor, loc *time.Location) *Handler {
	return &Handler{svc: svc, auditor: auditor, loc: loc}
}

// ContentType is FHIR's JSON media type.
const ContentType = "application/fhir+json"

// Bundle handles GET /patients/:patientID/export.
func (h *Handler) Bundle(c *gin.Context) {
	patientID := access.GrantFrom(c).PatientID
	b, err := h.svc.Bundle(c.Request.Context(), patientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	body, err := json.Marshal(b)
	if err != nil {
		web.Error(c, err)
		return
	}
	// The guard audits reads by others; a copy of everything is audited
	// whoever takes it (the patient is the only one who can).
	h.record(c, patientID, "fhir_bundle", b.ID)
	c.Header("Content-Disposition", `attachment; filename="carepath-export-`+h.svc.now().In(h.loc).Format("20060102")+`.json"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, ContentType, body)
}

// Summary handles GET /patients/:patientID/export/summary.
func (h *Handler) Summary(c *gin.Context) {
	patientID := access.GrantFrom(c).PatientID
	s, err := h.svc.Summary(c.Request.Context(), patientID, h.loc)
	if err != nil {
		web.Error(c, err)
		return
	}
	h.record(c, patientID, "export_summary", "")
	c.Header("Cache-Control", "no-store")
	web.OK(c, s)
}

func (h *Handler) record(c *gin.Context, patientID, objectType, objectID string) {
	a, _ := auth.ActorFrom(c)
	err := h.auditor.Record(context.WithoutCancel(c.Request.Context()), audit.Event{
		ActorKind: string(a.Kind), ActorID: a.ID, ActorRole: string(a.Role),
		IP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: web.RequestIDOf(c),
		Action: c.Request.Method + " " + c.FullPath(), PatientID: &patientID,
		ObjectType: objectType, ObjectID: objectID, Result: audit.ResultOK,
	})
	if err != nil {
		web.Logger(c).Error("audit event lost", "error", err.Error())
	}
}
