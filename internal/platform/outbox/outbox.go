// Package outbox makes "this change happened, so background work must
// follow" reliable: an event is written in the same database transaction as
// the change, and a relay hands committed events to the job queue (asynq) as
// tasks whose type is the event's topic. Redis down delays the work; it never
// loses it. Handlers must be idempotent: delivery is at least once, and the
// task id is the event id so a relay retry does not enqueue twice.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/database"
)

// Event is one pending piece of background work.
type Event struct {
	ID           string
	Topic        string
	Payload      []byte
	Queue        string
	CreatedAt    time.Time
	DispatchedAt *time.Time
	Attempts     int
	LastError    string
}

func (Event) TableName() string { return "outbox_events" }

// Add records an event inside tx, the transaction of the change it follows.
func Add(tx *gorm.DB, topic, queue string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("outbox: encode %s: %w", topic, err)
	}
	e := Event{ID: database.NewID(), Topic: topic, Payload: b, Queue: queue, CreatedAt: time.Now().UTC()}
	if err := tx.Create(&e).Error; err != nil {
		return fmt.Errorf("outbox: add %s: %w", topic, err)
	}
	return nil
}

// Enqueuer is the job queue.
type Enqueuer interface {
	Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Relay moves committed events to the queue.
type Relay struct {
	db    *gorm.DB
	queue Enqueuer
	log   *slog.Logger
	now   func() time.Time
}

// NewRelay builds a relay.
func NewRelay(db *gorm.DB, queue Enqueuer, log *slog.Logger, now func() time.Time) *Relay {
	return &Relay{db: db, queue: queue, log: log, now: now}
}

// Run relays every interval until ctx ends.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.RelayOnce(ctx, 200); err != nil && ctx.Err() == nil {
			r.log.Warn("outbox relay", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RelayOnce hands up to limit undispatched events to the queue, oldest
// first, and returns how many went. An event the queue refuses stays for the
// next round. Several relays may run: the task id makes enqueueing idempotent.
func (r *Relay) RelayOnce(ctx context.Context, limit int) (int, error) {
	var events []Event
	if err := r.db.WithContext(ctx).Where("dispatched_at IS NULL").Order("id").Limit(limit).Find(&events).Error; err != nil {
		return 0, fmt.Errorf("outbox: read pending: %w", err)
	}
	sent := 0
	for _, e := range events {
		opts := []asynq.Option{asynq.TaskID(e.ID), asynq.MaxRetry(10)}
		if e.Queue != "" {
			opts = append(opts, asynq.Queue(e.Queue))
		}
		_, err := r.queue.Enqueue(ctx, asynq.NewTask(e.Topic, e.Payload), opts...)
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			r.db.WithContext(ctx).Model(&Event{}).Where("id = ?", e.ID).
				Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": truncate(err.Error(), 255)})
			return sent, fmt.Errorf("outbox: enqueue %s: %w", e.Topic, err)
		}
		now := r.now().UTC()
		if err := r.db.WithContext(ctx).Model(&Event{}).Where("id = ?", e.ID).Update("dispatched_at", now).Error; err != nil {
			return sent, fmt.Errorf("outbox: mark %s dispatched: %w", e.ID, err)
		}
		sent++
	}
	return sent, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
