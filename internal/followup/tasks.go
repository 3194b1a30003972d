package followup

import (
	"context"

	"github.com/hibiken/asynq"
)

// SyncHandler is the periodic job that creates the follow-ups plans call for.
func (s *Service) SyncHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		_, err := s.Sync(ctx)
		return err
	}
}

// ScanHandler is the periodic job that flags overdue follow-ups and escalates them.
func (s *Service) ScanHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		_, _, err := s.Scan(ctx)
		return err
	}
}
