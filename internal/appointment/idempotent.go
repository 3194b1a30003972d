package appointment

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/web"
)

// SetKeys makes the patient's responses (confirm, cancel, reschedule
// request) and the CM's answers to proposals (accept, dismiss) honour the Idempotency-Key header: the key and the first
// response are stored in the transaction of the change.
func (s *Service) SetKeys(keys *idempotency.Store) { s.keys = keys }

// Respond runs one of the patient's responses at most once per key (key
// may be empty): work runs on a Service bound to the key's transaction, so
// the change and the remembered response commit together. op and body are
// what a retry must repeat exactly; the same key with another body is 409.
func (s *Service) Respond(ctx context.Context, actor auth.Actor, key, op, patientID, id string, body any,
	work func(tx *Service) (Appointment, error)) (idempotency.Outcome, error) {
	return s.respond(ctx, actor, key, op, patientID, id, body, func(tx *Service) (any, error) {
		a, err := work(tx)
		return ViewOf(a), err
	})
}

// respond is Respond for any response body (an accepted proposal answers
// with its overlap warnings).
func (s *Service) respond(ctx context.Context, actor auth.Actor, key, op, patientID, id string, body any,
	work func(tx *Service) (any, error)) (idempotency.Outcome, error) {
	if s.keys == nil {
		v, err := work(s)
		if err != nil {
			return idempotency.Outcome{}, err
		}
		b, err := json.Marshal(v)
		return idempotency.Outcome{Status: http.StatusOK, Body: b}, err
	}
	b, _ := json.Marshal(body) // request types of plain fields
	k := idempotency.Key{ActorID: actor.ID, Key: key,
		Hash: idempotency.Hash([]byte("appointment."+op), []byte(patientID), []byte(id), b)}
	return s.keys.Do(ctx, k, func(tx *gorm.DB) (int, any, error) {
		bound := *s
		bound.store = s.store.in(tx)
		v, err := work(&bound)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, v, nil
	})
}

// respond answers a patient's response through Respond.
func (h *Handler) respond(c *gin.Context, op string, body any, work func(tx *Service, actor auth.Actor, patientID, id string) (Appointment, error)) {
	h.respondAny(c, op, body, func(tx *Service, actor auth.Actor, patientID, id string) (any, error) {
		a, err := work(tx, actor, patientID, id)
		return ViewOf(a), err
	})
}

// respondAny answers through respond with any response body.
func (h *Handler) respondAny(c *gin.Context, op string, body any, work func(tx *Service, actor auth.Actor, patientID, id string) (any, error)) {
	key := c.GetHeader(idempotency.Header)
	if err := idempotency.CheckKey(key); err != nil {
		web.Error(c, err)
		return
	}
	actor, _ := auth.ActorFrom(c)
	patientID, id := grantPatient(c), c.Param("appointmentID")
	out, err := h.svc.respond(c.Request.Context(), actor, key, op, patientID, id, body, func(tx *Service) (any, error) {
		return work(tx, actor, patientID, id)
	})
	if err != nil {
		web.Error(c, err)
		return
	}
	out.Write(c.Writer)
}

func grantPatient(c *gin.Context) string { return access.GrantFrom(c).PatientID }
