package education

import (
	"context"

	"github.com/hibiken/asynq"
)

// StageChangedHandler is the worker's handler of careplan.stage_changed.
func (s *Service) StageChangedHandler() asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error { return s.HandleStageChanged(ctx, t.Payload()) }
}

// AssignDueHandler is the periodic job that pushes articles whose day has come.
func (s *Service) AssignDueHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		_, err := s.AssignAllDue(ctx)
		return err
	}
}
