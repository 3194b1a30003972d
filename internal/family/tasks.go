package family

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

// Events written to the outbox with the change, for the realtime layer: a
// relative's live connections (WebSocket) must not outlive their access.
// The policy already refuses their next request; these let the hub close
// what is open now. The realtime hub must subscribe to both (see LinkEvent).
const (
	// TaskLinkRevoked: a link ended (the patient revoked it, or a consent
	// covering it was withdrawn). Close every connection of UserID that
	// carries PatientID's data.
	TaskLinkRevoked = "family.link_revoked"
	// TaskLinkScopesChanged: the patient changed what a relative may see.
	// Close (or re-check) UserID's connections on PatientID's data.
	TaskLinkScopesChanged = "family.link_scopes_changed"
)

// LinkEvent is the payload of both events.
type LinkEvent struct {
	LinkID    string    `json:"link_id"`
	PatientID string    `json:"patient_id"`
	UserID    string    `json:"user_id"`
	Scopes    []string  `json:"scopes,omitempty"` // scopes_changed: the new scopes
	Reason    string    `json:"reason,omitempty"` // link_revoked: why
	At        time.Time `json:"at"`
}

func emit(tx *gorm.DB, topic string, e LinkEvent) error {
	// Critical: until it is handled, a revoked relative's open socket may still receive pushes.
	return outbox.Add(tx, topic, queue.Critical, e)
}

// HandleLinkEvent adapts a function of a LinkEvent into a task handler for
// either topic. A malformed payload is not retried.
func HandleLinkEvent(f func(ctx context.Context, topic string, e LinkEvent) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var e LinkEvent
		if err := json.Unmarshal(t.Payload(), &e); err != nil {
			return fmt.Errorf("decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		return f(ctx, t.Type(), e)
	}
}
