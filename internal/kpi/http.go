package kpi

import (
	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves the KPI report.
type Handler struct {
	svc *Service
}

// NewHandler builds the handler.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Get handles GET /kpis?from=&to=: the caller's scope (a CM's caseload, a
// lead's department, an admin's hospital) over [from, to), dates in the
// hospital's zone, by default the last 30 days including today. Aggregates
// only: no patient appears in the answer.
func (h *Handler) Get(c *gin.Context) {
	p, err := h.svc.ParsePeriod(c.Query("from"), c.Query("to"))
	if err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	r, err := h.svc.Report(c.Request.Context(), actor, p)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, r)
}
