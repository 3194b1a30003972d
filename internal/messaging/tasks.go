package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
)

// HandleReplyWaiting is the task handler for TopicReplyWaiting until the
// notification pipeline exists: it validates and acknowledges the event so
// the queue does not retry it forever. The notification feature replaces it
// with one that sends the "new message waiting" subscription message.
func HandleReplyWaiting(log *slog.Logger) func(context.Context, *asynq.Task) error {
	return func(_ context.Context, t *asynq.Task) error {
		var ev ReplyWaiting
		if err := json.Unmarshal(t.Payload(), &ev); err != nil {
			return fmt.Errorf("%s: %w: %w", TopicReplyWaiting, err, asynq.SkipRetry)
		}
		log.Info("reply waiting; no notification pipeline yet", "patient_id", ev.PatientID, "thread_id", ev.ThreadID, "seq", ev.Seq)
		return nil
	}
}
