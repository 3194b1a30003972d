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

// ProposeHandler is the periodic catch-up that proposes the current stages' appointments.
func (s *Service) ProposeHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		_, err := s.ProposeDue(ctx)
		return err
	}
}

// StageChangedHandler is the worker's handler of careplan.stage_changed.
func (s *Service) StageChangedHandler() asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error { return s.HandleStageChanged(ctx, t.Payload()) }
}
