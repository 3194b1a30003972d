package outbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type failingQueue struct{}

func (failingQueue) Enqueue(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return nil, errors.New("redis: connection refused")
}

func TestEventsFollowOnlyCommittedChangesAndAreRelayedOnce(t *testing.T) {
	db := dbtest.New(t)
	rdb, prefix := dbtest.Redis(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	topic := "test:" + prefix + "stage_changed"
	queueName := "q" + prefix[7:19]

	// A rolled-back change leaves no event behind.
	_ = db.Transaction(func(tx *gorm.DB) error {
		if err := outbox.Add(tx, topic, queueName, map[string]string{"plan": "rolled-back"}); err != nil {
			t.Fatal(err)
		}
		return errors.New("rollback")
	})
	if err := db.Transaction(func(tx *gorm.DB) error {
		return outbox.Add(tx, topic, queueName, map[string]string{"plan": "p1"})
	}); err != nil {
		t.Fatal(err)
	}

	// Redis down: the event waits, with the failure counted.
	down := outbox.NewRelay(db, failingQueue{}, log, time.Now)
	if n, err := down.RelayOnce(ctx, 10); err == nil || n != 0 {
		t.Fatalf("relay with the queue down: %d, %v; want 0 and an error", n, err)
	}
	var pending []outbox.Event
	db.Where("dispatched_at IS NULL").Find(&pending)
	if len(pending) != 1 || pending[0].Attempts != 1 {
		t.Fatalf("pending after a failed relay: %+v, want one event with one attempt", pending)
	}

	relay := outbox.NewRelay(db, queue.NewClient(rdb), log, time.Now)
	if n, err := relay.RelayOnce(ctx, 10); err != nil || n != 1 {
		t.Fatalf("relay: %d, %v; want 1", n, err)
	}
	if n, err := relay.RelayOnce(ctx, 10); err != nil || n != 0 {
		t.Fatalf("second relay: %d, %v; want nothing left", n, err)
	}
	// A relay that crashed after enqueueing but before marking must not enqueue twice.
	db.Model(&outbox.Event{}).Where("1 = 1").Update("dispatched_at", nil)
	if n, err := relay.RelayOnce(ctx, 10); err != nil || n != 1 {
		t.Fatalf("re-relay: %d, %v", n, err)
	}
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	tasks, err := inspector.ListPendingTasks(queueName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inspector.DeleteQueue(queueName, true) })
	if len(tasks) != 1 || tasks[0].Type != topic || string(tasks[0].Payload) != `{"plan":"p1"}` {
		t.Fatalf("queued tasks: %+v, want exactly the committed event", tasks)
	}
}
