package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// TaskPurge is the daily retention job: it deletes audit events older than
// audit.retention_days (at least 180; the database refuses less).
const TaskPurge = "audit.purge"

// purgeBatch bounds one delete, so a first purge of a large table does not
// hold a long transaction.
const purgeBatch = 5000

// PurgeHandler returns the handler of TaskPurge.
func (s *Store) PurgeHandler(retention time.Duration, log *slog.Logger) asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		n, err := s.Purge(ctx, retention, purgeBatch)
		if n > 0 {
			log.Info("purged audit events past retention", "count", n, "retention_days", int(retention.Hours()/24))
		}
		return err
	}
}
