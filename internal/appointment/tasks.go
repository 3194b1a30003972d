package appointment

import (
	"context"

	"github.com/hibiken/asynq"
)

// RemindHandler is the periodic job that writes due reminders.
func (s *Service) RemindHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		_, err := s.RemindDue(ctx)
		return err
	}
}
