package family

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

func TestHandleLinkEvent(t *testing.T) {
	var got LinkEvent
	var topic string
	h := HandleLinkEvent(func(_ context.Context, tp string, e LinkEvent) error {
		topic, got = tp, e
		return nil
	})
	want := LinkEvent{LinkID: "l1", PatientID: "p1", UserID: "u1", Reason: "link_revoked", At: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	payload, _ := json.Marshal(want)
	if err := h(context.Background(), asynq.NewTask(TaskLinkRevoked, payload)); err != nil {
		t.Fatal(err)
	}
	if topic != TaskLinkRevoked || got.LinkID != want.LinkID || got.UserID != want.UserID || !got.At.Equal(want.At) {
		t.Fatalf("handled %s %+v, want %s %+v", topic, got, TaskLinkRevoked, want)
	}
	err := h(context.Background(), asynq.NewTask(TaskLinkRevoked, []byte("{not json")))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a malformed payload: %v, want SkipRetry", err)
	}
}
