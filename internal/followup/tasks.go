package followup

import (
	"context"
	"encoding/json"
	"fmt"

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

// PlanClosedHandler handles careplan.plan_closed ({"plan_id": ...}): the
// plan's pending follow-ups are cancelled.
func (s *Service) PlanClosedHandler() asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var ev struct {
			PlanID string `json:"plan_id"`
		}
		if err := json.Unmarshal(t.Payload(), &ev); err != nil || ev.PlanID == "" {
			return fmt.Errorf("plan_closed payload: %v: %w", err, asynq.SkipRetry)
		}
		_, err := s.PlanClosed(ctx, ev.PlanID)
		return err
	}
}
