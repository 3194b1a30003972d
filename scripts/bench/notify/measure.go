package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/queue"
)

// stmtCounter counts SQL statements by kind and table while on.
type stmtCounter struct {
	on atomic.Bool
	mu sync.Mutex
	m  map[string]int
}

func countStatements(db *gorm.DB) (*stmtCounter, error) {
	c := &stmtCounter{m: map[string]int{}}
	count := func(kind string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			if !c.on.Load() {
				return
			}
			sql := tx.Statement.SQL.String()
			what := kind + " " + tx.Statement.Table
			if kind == "raw" || kind == "row" {
				what = kind + " " + strings.Join(strings.Fields(sql), " ")
				if len(what) > 60 {
					what = what[:60] + "…"
				}
			}
			c.mu.Lock()
			c.m[what]++
			c.mu.Unlock()
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("*").Register("bench:count_create", count("INSERT")),
		cb.Query().After("*").Register("bench:count_query", count("SELECT")),
		cb.Update().After("*").Register("bench:count_update", count("UPDATE")),
		cb.Delete().After("*").Register("bench:count_delete", count("DELETE")),
		cb.Row().After("*").Register("bench:count_row", count("row")),
		cb.Raw().After("*").Register("bench:count_raw", count("raw")),
	} {
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *stmtCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.m {
		n += v
	}
	return n
}

type stmtCount struct {
	what string
	n    int
}

func (c *stmtCounter) top(k int) []stmtCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []stmtCount
	for w, n := range c.m {
		out = append(out, stmtCount{w, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n })
	return out[:min(k, len(out))]
}

// redisCounter is a go-redis hook counting round trips (a pipeline is one) while on.
type redisCounter struct {
	on    atomic.Bool
	trips atomic.Int64
}

var rc = &redisCounter{}

func (r *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if r.on.Load() {
			r.trips.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if r.on.Load() {
			r.trips.Add(1)
		}
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*redisCounter)(nil)

// redisCalls is the total of INFO commandstats calls (commands inside Lua
// scripts included); the server is shared, so this counts other clients too.
func redisCalls(ctx context.Context, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		_, rest, ok := strings.Cut(line, "calls=")
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		c, _ := strconv.ParseInt(v, 10, 64)
		n += c
	}
	return n
}

// cpuSample is user+system CPU of this process, mariadbd and redis-server.
type cpuSample struct{ self, db, redis time.Duration }

func sampleCPU() cpuSample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpuSample{self: self, db: procCPU("mariadbd", "mysqld"), redis: procCPU("redis-server")}
}

// procCPU is the CPU of the processes of these names, from /proc (0 if not found).
func procCPU(names ...string) time.Duration {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	var total time.Duration
	for _, f := range comms {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(b))
		match := false
		for _, n := range names {
			match = match || name == n
		}
		if !match {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(f), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fields) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		total += time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	return total
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// noopTasks measures asynq alone: n tasks with the send task's options
// (unique id, ProcessAt now, retries, 24 h retention) enqueued by 16
// clients, then served by a worker of the given concurrency whose handler
// does nothing.
func noopTasks(ctx context.Context, rdb redis.UniversalClient, qname string, n, concurrency int, log *slog.Logger) (int, time.Duration, time.Duration, error) {
	defer asynq.NewInspectorFromRedisClient(rdb).DeleteQueue(qname, true)
	client := queue.NewClient(rdb)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for c := range 16 {
		wg.Go(func() {
			for i := c; i < n; i += 16 {
				_, err := client.Enqueue(ctx, asynq.NewTask("bench.noop", []byte(`{"push_id":"01JBENCHNOOP000000000000000"}`)),
					asynq.TaskID(fmt.Sprintf("noop:%d", i)), asynq.ProcessAt(time.Now()), asynq.Queue(qname),
					asynq.MaxRetry(5), asynq.Retention(24*time.Hour))
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	enq := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, 0, err
	}
	var served atomic.Int64
	w := queue.NewWorkerOn(rdb, map[string]int{qname: 1}, concurrency, time.UTC, log)
	w.Handle("bench.noop", func(context.Context, *asynq.Task) error {
		served.Add(1)
		return nil
	})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start = time.Now()
	go func() { done <- w.Run(wctx) }()
	deadline := time.Now().Add(10 * time.Minute)
	for served.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	stop()
	if err := <-done; err != nil {
		return 0, 0, 0, err
	}
	return int(served.Load()), enq, took, nil
}

// queueEmpty reports whether asynq holds no task of the queue: none
// pending, running, scheduled or waiting for a retry.
func queueEmpty(ctx context.Context, rdb *redis.Client, qname string) bool {
	pipe := rdb.Pipeline()
	pending := pipe.LLen(ctx, "asynq:{"+qname+"}:pending")
	active := pipe.LLen(ctx, "asynq:{"+qname+"}:active")
	scheduled := pipe.ZCard(ctx, "asynq:{"+qname+"}:scheduled")
	retry := pipe.ZCard(ctx, "asynq:{"+qname+"}:retry")
	if _, err := pipe.Exec(ctx); err != nil {
		return false
	}
	return pending.Val()+active.Val()+scheduled.Val()+retry.Val() == 0
}
