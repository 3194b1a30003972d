package careplan

import (
	"context"

	"github.com/hibiken/asynq"
)

// AdvanceHandler is the periodic job that moves plans whose next stage has
// arrived and refreshes due dates and risk levels.
func (s *Service) AdvanceHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		_, err := s.AdvanceDue(ctx)
		return err
	}
}
