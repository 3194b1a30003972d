package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// RequestHandler handles TopicRequest, and any topic whose payload convert
// turns into a Request (a feature's own event, e.g. a stage change).
func (s *Service) RequestHandler(convert func(payload []byte) (Request, bool, error)) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		req, ok, err := convert(t.Payload())
		if err != nil {
			return fmt.Errorf("%s: %w: %w", t.Type(), err, asynq.SkipRetry)
		}
		if !ok {
			return nil
		}
		if err := s.Handle(ctx, req); err != nil {
			if errors.Is(err, errBadRequest) {
				return fmt.Errorf("%s: %w: %w", t.Type(), err, asynq.SkipRetry)
			}
			return err
		}
		return nil
	}
}

// DecodeRequest is the converter of TopicRequest.
func DecodeRequest(payload []byte) (Request, bool, error) {
	var r Request
	err := json.Unmarshal(payload, &r)
	return r, err == nil, err
}

// SendHandler handles TaskSend: one push, or a batch planned together.
func (s *Service) SendHandler() asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var st sendTask
		if err := json.Unmarshal(t.Payload(), &st); err != nil || (st.PushID == "") == (len(st.PushIDs) == 0) {
			return fmt.Errorf("%s: bad payload: %w", TaskSend, asynq.SkipRetry)
		}
		if len(st.PushIDs) > 0 {
			return s.SendBatch(ctx, st.PushIDs)
		}
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, ok := asynq.GetMaxRetry(ctx)
		lastTry := ok && retried >= maxRetry
		return s.Send(ctx, st.PushID, lastTry)
	}
}

// DailyRemindersHandler handles TaskDailyReminders.
func (s *Service) DailyRemindersHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		n, err := s.PlanDailyReminders(ctx)
		if err == nil && n > 0 {
			s.Log.Info("daily reminders planned", "count", n)
		}
		return err
	}
}
