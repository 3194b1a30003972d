package queue_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/platform/cache"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/queue"
)

// Each test runs on dbtest.Redis (miniredis by default, the real Redis named
// by CAREPATH_TEST_REDIS_ADDR otherwise) and on the embedded default's
// in-process Redis (see redisBackends). asynq keeps its keys under its own
// "asynq:" namespace, and the worker serves the fixed queues critical,
// default and low, so on a shared Redis each test uses task types and task
// ids of its own and deletes its tasks when it ends.

// waitTimeout bounds every wait; generous because it is only reached on failure.
const waitTimeout = 30 * time.Second

func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// logBuffer collects the worker's logs so a test can show them on failure
// and check that nothing was logged as an error.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	rdb       redis.UniversalClient
	client    *queue.Client
	inspector *asynq.Inspector
	logs      *logBuffer
}

// redisBackends runs test once on dbtest.Redis and once on the in-process
// Redis of the embedded default (cache.StartEmbedded, whose clock follows the
// wall clock), since the embedded default runs the worker on it.
func redisBackends(t *testing.T, test func(t *testing.T, h *harness)) {
	backends := []struct {
		name string
		open func(t *testing.T) redis.UniversalClient
	}{
		{"dbtest", func(t *testing.T) redis.UniversalClient {
			rdb, _ := dbtest.Redis(t)
			return rdb
		}},
		{"embedded", func(t *testing.T) redis.UniversalClient {
			e, err := cache.StartEmbedded()
			if err != nil {
				t.Fatalf("StartEmbedded: %v", err)
			}
			t.Cleanup(e.Close)
			rdb, err := cache.Open(context.Background(), cache.Options{Addrs: []string{e.Addr()}})
			if err != nil {
				t.Fatalf("cache.Open: %v", err)
			}
			t.Cleanup(func() { rdb.Close() })
			return rdb
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, newHarness(t, b.open(t))) })
	}
}

func newHarness(t *testing.T, rdb redis.UniversalClient) *harness {
	t.Helper()
	h := &harness{rdb: rdb, client: queue.NewClient(rdb), inspector: asynq.NewInspectorFromRedisClient(rdb), logs: &logBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker logs:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) newWorker() *queue.Worker {
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return queue.NewWorker(h.rdb, 2, time.UTC, log)
}

// start runs w until the test ends (or stop is called) and returns stop,
// which cancels the worker and waits for Run to return its error.
func start(t *testing.T, w *queue.Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitTimeout):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// deleteTask removes a task the test enqueued, whatever state it is in.
func (h *harness) deleteTask(t *testing.T, queueName, id string) {
	t.Cleanup(func() {
		err := h.inspector.DeleteTask(queueName, id)
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Logf("delete task %s: %v", id, err)
		}
	})
}

// waitForState polls the task until cond holds or the deadline passes.
func (h *harness) waitForState(t *testing.T, queueName, id string, cond func(*asynq.TaskInfo) bool) *asynq.TaskInfo {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last *asynq.TaskInfo
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = h.inspector.GetTaskInfo(queueName, id)
		if lastErr == nil && cond(last) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("task %s: %v", id, lastErr)
	}
	t.Fatalf("task %s: state %v, retried %d, last error %q: condition never held", id, last.State, last.Retried, last.LastErr)
	return nil
}

// waitForCompletion polls until a successful task is gone: asynq deletes a
// completed task that has no retention.
func (h *harness) waitForCompletion(t *testing.T, queueName, id string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		info, err := h.inspector.GetTaskInfo(queueName, id)
		if errors.Is(err, asynq.ErrTaskNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
		if info.State != asynq.TaskStateActive {
			t.Fatalf("task %s after its handler succeeded: state %v, want it removed", id, info.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("task %s still active %v after its handler returned", id, waitTimeout)
}

func TestEnqueuedTaskReachesHandler(t *testing.T) {
	redisBackends(t, func(t *testing.T, h *harness) {
		tests := []struct {
			name    string
			queue   string
			payload []byte
		}{
			{"critical queue", queue.Critical, []byte(`{"alert_id":"a1"}`)},
			{"default queue", queue.Default, []byte(`{"patient_id":"p1","text":"复诊提醒"}`)},
			{"low queue", queue.Low, []byte(`{"export":"monthly"}`)},
			{"no payload", queue.Default, nil},
		}
		type delivery struct {
			payload []byte
			queue   string
		}
		w := h.newWorker()
		taskTypes := make([]string, len(tests))
		received := make([]chan delivery, len(tests))
		for i := range tests {
			taskTypes[i] = unique("test:echo:")
			ch := make(chan delivery, 1)
			received[i] = ch
			w.Handle(taskTypes[i], func(ctx context.Context, task *asynq.Task) error {
				q, _ := asynq.GetQueueName(ctx)
				ch <- delivery{payload: task.Payload(), queue: q}
				return nil
			})
		}
		start(t, w)

		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := unique("task-")
				h.deleteTask(t, tt.queue, id)
				info, err := h.client.Enqueue(context.Background(), asynq.NewTask(taskTypes[i], tt.payload), asynq.Queue(tt.queue), asynq.TaskID(id))
				if err != nil {
					t.Fatalf("Enqueue: %v", err)
				}
				if got, want := info.Queue, tt.queue; got != want {
					t.Errorf("enqueued on queue %q, want %q", got, want)
				}
				select {
				case got := <-received[i]:
					if !bytes.Equal(got.payload, tt.payload) {
						t.Errorf("handler got payload %q, want %q", got.payload, tt.payload)
					}
					if got.queue != tt.queue {
						t.Errorf("handler ran from queue %q, want %q", got.queue, tt.queue)
					}
				case <-time.After(waitTimeout):
					t.Fatalf("handler did not receive the task within %v", waitTimeout)
				}
				h.waitForCompletion(t, tt.queue, id)
			})
		}
	})
}

// A failing task is kept for a retry (asynq's own back-off, 15s or more, so
// the test runs the retry now through the inspector) and archived once
// MaxRetry is used up; the handler sees both attempts.
func TestFailedTaskIsRetriedThenArchived(t *testing.T) {
	redisBackends(t, func(t *testing.T, h *harness) {
		w := h.newWorker()
		taskType := unique("test:fail:")
		var attempts atomic.Int32
		w.Handle(taskType, func(ctx context.Context, task *asynq.Task) error {
			attempts.Add(1)
			return errors.New("pharmacy system unavailable")
		})
		start(t, w)

		id := unique("task-")
		h.deleteTask(t, queue.Default, id)
		if _, err := h.client.Enqueue(context.Background(), asynq.NewTask(taskType, []byte("x")),
			asynq.Queue(queue.Default), asynq.TaskID(id), asynq.MaxRetry(1)); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}

		info := h.waitForState(t, queue.Default, id, func(ti *asynq.TaskInfo) bool { return ti.State == asynq.TaskStateRetry })
		if got, want := info.Retried, 1; got != want {
			t.Errorf("after the first failure: retried %d, want %d", got, want)
		}
		if got, want := info.LastErr, "pharmacy system unavailable"; got != want {
			t.Errorf("last error %q, want %q", got, want)
		}
		if !info.NextProcessAt.After(info.LastFailedAt) {
			t.Errorf("next attempt at %v, not after the failure at %v", info.NextProcessAt, info.LastFailedAt)
		}

		if err := h.inspector.RunTask(queue.Default, id); err != nil {
			t.Fatalf("RunTask: %v", err)
		}
		info = h.waitForState(t, queue.Default, id, func(ti *asynq.TaskInfo) bool { return ti.State == asynq.TaskStateArchived })
		if got, want := info.Retried, 1; got != want {
			t.Errorf("archived with retried %d, want %d", got, want)
		}
		if got, want := attempts.Load(), int32(2); got != want {
			t.Errorf("handler ran %d times, want %d", got, want)
		}
	})
}

func TestSkipRetryArchivesAtOnce(t *testing.T) {
	redisBackends(t, func(t *testing.T, h *harness) {
		w := h.newWorker()
		taskType := unique("test:skip:")
		w.Handle(taskType, func(ctx context.Context, task *asynq.Task) error {
			return fmt.Errorf("malformed payload: %w", asynq.SkipRetry)
		})
		start(t, w)

		id := unique("task-")
		h.deleteTask(t, queue.Default, id)
		if _, err := h.client.Enqueue(context.Background(), asynq.NewTask(taskType, nil), asynq.Queue(queue.Default), asynq.TaskID(id)); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		info := h.waitForState(t, queue.Default, id, func(ti *asynq.TaskInfo) bool { return ti.State == asynq.TaskStateArchived })
		if got, want := info.Retried, 0; got != want {
			t.Errorf("retried %d, want %d", got, want)
		}
	})
}

func TestRunReturnsAfterCancel(t *testing.T) {
	redisBackends(t, func(t *testing.T, h *harness) {
		w := h.newWorker()
		if err := w.Every("0 3 * * *", asynq.NewTask(unique("test:nightly:"), nil), asynq.Queue(queue.Low)); err != nil {
			t.Fatalf("Every: %v", err)
		}
		stop := start(t, w)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := errorLines(h.logs.String()); got != "" {
			t.Errorf("shutdown logged errors:\n%s", got)
		}
	})
}

// A task running when the worker is told to stop finishes before Run
// returns, and is not handed out again.
func TestRunDrainsRunningTask(t *testing.T) {
	redisBackends(t, func(t *testing.T, h *harness) {
		w := h.newWorker()
		taskType := unique("test:slow:")
		started, release := make(chan struct{}), make(chan struct{})
		var runs atomic.Int32
		var ctxErr atomic.Value
		w.Handle(taskType, func(ctx context.Context, task *asynq.Task) error {
			if runs.Add(1) == 1 {
				close(started)
			}
			<-release
			ctxErr.Store(fmt.Sprint(ctx.Err()))
			return nil
		})
		stop := start(t, w)

		id := h.startTask(t, taskType, started)

		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		// Release the task only once the server reports it is shutting down
		// (its heartbeat, every 5s, carries the state), so the drain is what
		// is being tested rather than an ordinary finish.
		h.waitForServer(t, id, "closed")
		close(release)

		if err := <-stopped; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got, want := ctxErr.Load(), "<nil>"; got != want {
			t.Errorf("task context error while draining: %v, want %v", got, want)
		}
		if got, want := runs.Load(), int32(1); got != want {
			t.Errorf("handler ran %d times, want %d", got, want)
		}
		if _, err := h.inspector.GetTaskInfo(queue.Default, id); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("task after drain: GetTaskInfo error %v, want %v (completed and removed)", err, asynq.ErrTaskNotFound)
		}
	})
}

// A task still running when the grace after the stop is over is asked to
// stop (its context ends): a long one (a batch of pushes) stops at its next
// safe point instead of being cut off when the process exits, and the
// queue keeps it for another run.
func TestRunAsksALongTaskToStop(t *testing.T) {
	redisBackends(t, func(t *testing.T, h *harness) {
		w := h.newWorker()
		w.SetShutdownGrace(100 * time.Millisecond)
		taskType := unique("test:long:")
		started := make(chan struct{})
		var steps atomic.Int32
		var ctxErr atomic.Value
		w.Handle(taskType, func(ctx context.Context, task *asynq.Task) error {
			if steps.Add(1) == 1 {
				close(started)
			}
			for ctx.Err() == nil { // one step after another until asked to stop
				time.Sleep(10 * time.Millisecond)
				steps.Add(1)
			}
			ctxErr.Store(ctx.Err())
			return fmt.Errorf("stopped between steps: %w", ctx.Err())
		})
		stop := start(t, w)

		id := h.startTask(t, taskType, started)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := ctxErr.Load(); got != context.Canceled {
			t.Fatalf("the long task's context: %v, want it cancelled once the grace was over", got)
		}
		if info, err := h.inspector.GetTaskInfo(queue.Default, id); err != nil || info.State == asynq.TaskStateArchived {
			t.Fatalf("the stopped task after the shutdown: %+v, %v; want it kept for another run", info, err)
		}
	})
}

// startTask enqueues a task of taskType on the Default queue and waits until
// its handler has closed started; it returns the task's id.
func (h *harness) startTask(t *testing.T, taskType string, started <-chan struct{}) string {
	t.Helper()
	id := unique("task-")
	h.deleteTask(t, queue.Default, id)
	if _, err := h.client.Enqueue(context.Background(), asynq.NewTask(taskType, nil), asynq.Queue(queue.Default), asynq.TaskID(id)); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	select {
	case <-started:
	case <-time.After(waitTimeout):
		t.Fatal("task never started")
	}
	return id
}

// waitForServer polls the registered worker servers until the one running
// task id reports status.
func (h *harness) waitForServer(t *testing.T, taskID, status string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	last := "not registered"
	for time.Now().Before(deadline) {
		servers, err := h.inspector.Servers()
		if err != nil {
			t.Fatalf("Servers: %v", err)
		}
		for _, s := range servers {
			for _, wk := range s.ActiveWorkers {
				if wk.TaskID == taskID {
					last = s.Status
					if s.Status == status {
						return
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server running %s: status %q, want %q", taskID, last, status)
}

func errorLines(logs string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
