package account

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/web"
)

// Handler serves the account routes.
type Handler struct {
	svc *Service
	val *web.Validator
}

// NewHandler builds the handler.
func NewHandler(svc *Service, val *web.Validator) *Handler { return &Handler{svc: svc, val: val} }

// DeactivateRequest is the body of POST /me/deactivate.
type DeactivateRequest struct {
	Confirm string `json:"confirm"`
	Reason  string `json:"reason"`
}

// DeactivateResponse says what happened and what is kept.
type DeactivateResponse struct {
	DeactivatedAt         time.Time `json:"deactivated_at"`
	RecordsRetainedNotice string    `json:"records_retained_notice"`
}

// Deactivate handles POST /api/v1/me/deactivate.
func (h *Handler) Deactivate(c *gin.Context) {
	var req DeactivateRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	d, err := h.svc.Deactivate(c.Request.Context(), a, Request{
		Confirm: req.Confirm, Reason: req.Reason, IP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: web.RequestIDOf(c),
	})
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, DeactivateResponse{DeactivatedAt: d.DeactivatedAt.Truncate(time.Second), RecordsRetainedNotice: RecordsRetainedNotice})
}
