// Package queue wires hibiken/asynq (background jobs on Redis): a client to
// enqueue, and a worker with its scheduler. Features register their handlers;
// this package knows none of them.
package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Queue names, by priority.
const (
	Critical = "critical" // alerts to case managers
	Default  = "default"  // pushes, reminders
	Low      = "low"      // exports, housekeeping
)

// Client enqueues tasks.
type Client struct {
	c *asynq.Client
}

// NewClient wraps an existing Redis connection.
func NewClient(rdb redis.UniversalClient) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rdb)}
}

// Enqueue adds a task.
func (c *Client) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	info, err := c.c.EnqueueContext(ctx, t, opts...)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return info, nil
}

// shutdownTimeout is how long a stopping worker waits for running tasks
// before handing them back to the queue; shutdownGrace is how long of it they
// may run on undisturbed. After the grace their context is cancelled, so a
// long task (a batch of pushes) stops at its next safe point and records
// what it did, instead of being cut off mid-step when the process exits.
const (
	shutdownTimeout = 20 * time.Second
	shutdownGrace   = 8 * time.Second
)

// Worker runs task handlers and periodic tasks until its context ends.
type Worker struct {
	server    *asynq.Server
	scheduler *asynq.Scheduler
	mux       *asynq.ServeMux
	log       *slog.Logger
	grace     time.Duration
	stopTasks context.CancelFunc // cancels the running tasks' context
	running   sync.WaitGroup     // handlers still running
}

// NewWorker builds a worker over rdb with the given concurrency, serving
// the Critical, Default and Low queues.
func NewWorker(rdb redis.UniversalClient, concurrency int, loc *time.Location, log *slog.Logger) *Worker {
	return NewWorkerOn(rdb, map[string]int{Critical: 6, Default: 3, Low: 1}, concurrency, loc, log)
}

// NewWorkerOn builds a worker serving the given queues with their weights
// (tests and benchmarks sharing one Redis use queues of their own).
func NewWorkerOn(rdb redis.UniversalClient, queues map[string]int, concurrency int, loc *time.Location, log *slog.Logger) *Worker {
	// asynq's Shutdown does not cancel running handlers; this context does.
	tasks, stopTasks := context.WithCancel(context.Background())
	server := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		BaseContext:     func() context.Context { return tasks },
		Concurrency:     concurrency,
		Queues:          queues,
		ShutdownTimeout: shutdownTimeout,
		Logger:          slogAdapter{log},
		LogLevel:        asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			log.Warn("task failed", "type", t.Type(), "error", err.Error())
		}),
	})
	scheduler := asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{Location: loc, Logger: slogAdapter{log}, LogLevel: asynq.WarnLevel})
	return &Worker{server: server, scheduler: scheduler, mux: asynq.NewServeMux(), log: log, grace: shutdownGrace, stopTasks: stopTasks}
}

// SetShutdownGrace changes how long running tasks run on undisturbed once
// the worker is told to stop (tests).
func (w *Worker) SetShutdownGrace(d time.Duration) { w.grace = d }

// Handle registers a task handler.
func (w *Worker) Handle(taskType string, h asynq.HandlerFunc) {
	w.mux.HandleFunc(taskType, func(ctx context.Context, t *asynq.Task) error {
		w.running.Add(1)
		defer w.running.Done()
		return h(ctx, t)
	})
}

// Every registers a periodic task with a cron spec in the hospital's zone.
func (w *Worker) Every(cronspec string, t *asynq.Task, opts ...asynq.Option) error {
	if _, err := w.scheduler.Register(cronspec, t, opts...); err != nil {
		return fmt.Errorf("schedule %s: %w", t.Type(), err)
	}
	return nil
}

// Run serves tasks until ctx ends, then lets running tasks finish — those
// still running after the grace are asked to stop (their context ends) —
// or re-queues them, before returning.
func (w *Worker) Run(ctx context.Context) error {
	defer w.stopTasks()
	if err := w.server.Start(w.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := w.scheduler.Start(); err != nil {
		w.server.Shutdown()
		return fmt.Errorf("start scheduler: %w", err)
	}
	<-ctx.Done()
	deadline := time.Now().Add(shutdownTimeout)
	w.scheduler.Shutdown()
	ask := time.AfterFunc(w.grace, w.stopTasks)
	defer ask.Stop()
	w.server.Shutdown()
	// asynq stops waiting for a handler as soon as its context ends (and
	// hands the task back); wait for the handlers themselves, so that one
	// stopping at its next safe point (a batch recording its last chunk)
	// gets there before the process exits.
	finished := make(chan struct{})
	go func() { w.running.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Until(deadline)):
		w.log.Warn("worker stopped with tasks still running")
	}
	return nil
}

// slogAdapter lets asynq log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }

// Error demotes one message: a scheduler built over a caller's Redis client
// logs "Failed to close redis client connection: redis connection is shared"
// at ERROR on every clean shutdown (hibiken/asynq#1068, asynq v0.26), because
// it rightly refuses to close a connection it does not own.
func (a slogAdapter) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if strings.Contains(msg, "redis connection is shared") {
		a.l.Debug(msg)
		return
	}
	a.l.Error(msg)
}

func (a slogAdapter) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
