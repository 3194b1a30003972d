// Command notify measures the day's reminder run: N enrolled patients, each
// with a WeChat account and one credit for the follow-up questionnaire
// template; two planners (as two workers would) plan the day's reminders at
// once and enqueue them on asynq; a worker sends them to the fake WeChat
// server. It reports the planning time, the send throughput (and a raw
// Redis LPUSH+RPOP baseline measured in the same run, with the ratio), and checks
// that every patient got exactly one message: no duplicates, none lost.
//
//	go run ./scripts/bench/notify -n 100000
//
// By default it uses the local MariaDB (a fresh database, dropped at the
// end) and Redis; -embedded uses SQLite and an in-process Redis instead.
//
// For the send phase it also reports the SQL statements and Redis round
// trips per push (counted in this process), the CPU of this process (the
// worker and the fake WeChat server), of mariadbd and of redis-server per
// push, and the load average; -cpuprofile writes this process's profile of
// the send phase. Then it measures what asynq itself allows: -n no-op tasks
// enqueued with the send task's options and served by a worker of the same
// concurrency, next to the raw LPUSH+RPOP pairs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/cache"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/queue"
	"github.com/carepath/carepath/internal/platform/wx/fake"
	"github.com/carepath/carepath/scripts/internal/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	patients    int
	concurrency int
	batch       int
	chunk       int
	pool        int
	mysql       string
	redis       string
	embedded    bool
	cpuprofile  string
	noop        bool
	pause       time.Duration
}

// questionnaires is the reminder source: every patient has a questionnaire due today.
type questionnaires struct{ patients []string }

func (q questionnaires) DueReminders(_ context.Context, day time.Time) ([]notify.Request, error) {
	out := make([]notify.Request, len(q.patients))
	for i, p := range q.patients {
		out[i] = notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: p,
			DedupeKey: "questionnaire:" + p + ":" + day.Format("20060102"), At: day.Add(10 * time.Hour)}
	}
	return out, nil
}

func run() error {
	var o options
	flag.IntVar(&o.patients, "n", 100000, "enrolled patients, each with one reminder due today")
	flag.IntVar(&o.concurrency, "c", 8, "worker concurrency (send tasks in flight)")
	flag.IntVar(&o.batch, "batch", 64, "pushes per send task (1: one task a push, as before batching)")
	flag.IntVar(&o.chunk, "chunk", 16, "pushes of a task claimed and sent at once")
	flag.IntVar(&o.pool, "pool", 32, "database pool (open and idle connections)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write this process's CPU profile of the send phase to this file")
	flag.DurationVar(&o.pause, "pause", 0, "wait this long between planning and sending (lets MariaDB finish the planning's background writes)")
	flag.BoolVar(&o.noop, "noop", true, "also measure no-op asynq tasks with the send task's options")
	flag.StringVar(&o.mysql, "mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB/MySQL server DSN (a bench database is created and dropped)")
	flag.StringVar(&o.redis, "redis", "127.0.0.1:6379", "Redis address")
	flag.BoolVar(&o.embedded, "embedded", false, "use SQLite and an in-process Redis instead")
	flag.Parse()
	ctx := context.Background()

	db, rdb, cleanup, err := openStores(ctx, o)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := database.Migrate(ctx, db); err != nil {
		return err
	}
	f, err := fake.New()
	if err != nil {
		return err
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "carepath-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Notify.QuietStart, cfg.Notify.QuietEnd = "00:00", "00:00" // no quiet hours: send as soon as planned
	prefix := fmt.Sprintf("cpbench:%d:", time.Now().UnixNano())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Build(ctx, cfg, quiet, app.Options{DB: db, Redis: rdb, RedisPrefix: prefix, WeChatBaseURL: f.URL()})
	if err != nil {
		return err
	}
	defer a.Close()
	qname := "notify-bench-" + prefix[8:len(prefix)-1]
	a.Notify.UseQueue(queue.NewClient(rdb), qname)
	a.Notify.TuneSends(o.batch, o.chunk)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	defer func() {
		inspector.DeleteQueue(qname, true)
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	}()
	sum, _, err := a.SeedDemo(ctx, "bench-password")
	if err != nil {
		return err
	}
	tmpl, _ := a.Notify.Templates().Template(notify.KindQuestionnaireDue)

	fmt.Fprintf(os.Stderr, "seeding %d patients…\n", o.patients)
	start := time.Now()
	patients, err := harness.SeedPushRecipients(ctx, db, sum.HospitalID, sum.Departments["ORTHO"], tmpl.TemplateID, "fake-openid-bench-", o.patients, 1)
	if err != nil {
		return err
	}
	seedTime := time.Since(start)

	// Two planners at once, as two workers whose schedulers both fired.
	a.Notify.AddReminderSource(questionnaires{patients: patients})
	fmt.Fprintln(os.Stderr, "planning…")
	start = time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	counts := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { counts[i], errs[i] = a.Notify.PlanDailyReminders(ctx) })
	}
	wg.Wait()
	planTime := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	info, err := inspector.GetQueueInfo(qname)
	if err != nil {
		return err
	}
	queued := info.Pending + info.Scheduled
	// Printed at once: sending takes much longer on a busy machine.
	backend := "MariaDB + Redis"
	if o.embedded {
		backend = "SQLite + in-process Redis"
	}
	fmt.Printf("backend: %s\n", backend)
	fmt.Printf("patients: %d (seeded in %s)\n", o.patients, seedTime.Round(time.Millisecond))
	fmt.Printf("planned by two planners at once: %d + %d requests in %s (%.0f/s); tasks queued: %d\n",
		counts[0], counts[1], planTime.Round(time.Millisecond), float64(o.patients)/planTime.Seconds(), queued)
	if planTime > 60*time.Second {
		fmt.Printf("planning took more than 60 s\n")
	}

	fmt.Fprintln(os.Stderr, "raw Redis baseline before the sends…")
	np, pairTimeBefore, err := redisBaseline(ctx, rdb, prefix+"baseline", max(o.patients, 200000), 64)
	if err != nil {
		return err
	}
	pairsBefore := float64(np)
	if o.pause > 0 {
		idle0 := sampleCPU()
		time.Sleep(o.pause)
		idle1 := sampleCPU()
		fmt.Printf("pause of %s before sending: mariadbd busy %.2f cores meanwhile\n", o.pause, (idle1.db-idle0.db).Seconds()/o.pause.Seconds())
	}
	fmt.Fprintln(os.Stderr, "sending…")
	stmts, err := countStatements(db)
	if err != nil {
		return err
	}
	w := queue.NewWorkerOn(rdb, map[string]int{qname: 1}, o.concurrency, time.UTC, quiet)
	var tasks atomic.Int64
	send := a.Handlers()[notify.TaskSend]
	w.Handle(notify.TaskSend, func(ctx context.Context, t *asynq.Task) error {
		tasks.Add(1)
		return send(ctx, t)
	})
	if o.cpuprofile != "" {
		pf, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pf.Close()
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	cpu0 := sampleCPU()
	stats0 := redisCalls(ctx, rdb)
	stmts.on.Store(true)
	rc.on.Store(true)
	start = time.Now()
	go func() { done <- w.Run(wctx) }()
	// Done when the queue is empty (asynq's own keys, read by a client the
	// counters do not see) and every push is settled: the database is asked
	// only then, so the poll does not load it.
	poll := redis.NewClient(rdb.(*redis.Client).Options())
	defer poll.Close()
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		if queueEmpty(ctx, poll, qname) {
			var open int64
			db.Model(&notify.Push{}).Where("status IN ?", []string{notify.StatusQueued, notify.StatusRetrying, notify.StatusDeferred, notify.StatusSending}).Count(&open)
			if open == 0 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	sendTime := time.Since(start)
	stmts.on.Store(false)
	rc.on.Store(false)
	cpu1 := sampleCPU()
	stats1 := redisCalls(ctx, rdb)
	load := loadAverage()
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	stop()
	if err := <-done; err != nil {
		return err
	}

	msgs := f.Sent()
	perOpenID := map[string]int{}
	for _, m := range msgs {
		perOpenID[m.ToOpenID]++
	}
	dups := 0
	for _, c := range perOpenID {
		if c > 1 {
			dups += c - 1
		}
	}
	var pushes, notifications, other int64
	db.Model(&notify.Push{}).Where("kind = ?", notify.KindQuestionnaireDue).Count(&pushes)
	db.Model(&notify.Notification{}).Where("kind = ?", notify.KindQuestionnaireDue).Count(&notifications)
	db.Model(&notify.Push{}).Where("kind = ? AND status <> ?", notify.KindQuestionnaireDue, notify.StatusSent).Count(&other)
	fmt.Fprintln(os.Stderr, "raw Redis baseline…")
	pairs, pairTime, err := redisBaseline(ctx, rdb, prefix+"baseline", max(o.patients, 200000), 64)
	if err != nil {
		return err
	}
	// The machine is shared: the baseline is measured before and after the
	// sends, and the ratio taken to the faster of the two (the conservative one).
	if pairsBefore/pairTimeBefore.Seconds() > float64(pairs)/pairTime.Seconds() {
		fmt.Printf("raw Redis LPUSH+RPOP after the sends: %.0f pairs/s; before them: %.0f pairs/s (the ratio below uses the faster)\n",
			float64(pairs)/pairTime.Seconds(), pairsBefore/pairTimeBefore.Seconds())
		pairs, pairTime = int(pairsBefore), pairTimeBefore
	} else {
		fmt.Printf("raw Redis LPUSH+RPOP before the sends: %.0f pairs/s (the ratio below uses the one after, the faster)\n", pairsBefore/pairTimeBefore.Seconds())
	}
	sent := float64(len(msgs))
	fmt.Printf("push rows: %d, notifications: %d, not sent: %d\n", pushes, notifications, other)
	fmt.Printf("sends: %d pushes per task, %d at once, worker concurrency %d, database pool %d\n", o.batch, o.chunk, o.concurrency, o.pool)
	fmt.Printf("sent: %d messages to %d openids in %s (%.0f/s) by %d tasks (%.0f tasks/s), duplicates: %d, lost: %d\n",
		len(msgs), len(perOpenID), sendTime.Round(time.Millisecond), sent/sendTime.Seconds(), tasks.Load(), float64(tasks.Load())/sendTime.Seconds(),
		dups, o.patients-len(perOpenID))
	fmt.Printf("load average at the end of sending: %s\n", load)
	fmt.Printf("per push sent: %.2f SQL statements (+ BEGIN/COMMIT), %.2f Redis round trips from this process, %.2f Redis commands run (Lua included)\n",
		float64(stmts.total())/sent, float64(rc.trips.Load())/sent, float64(stats1-stats0)/sent)
	fmt.Printf("CPU per push sent: this process (worker + fake WeChat) %.0f µs, mariadbd %.0f µs, redis-server %.0f µs; cores busy: %.2f + %.2f + %.2f\n",
		(cpu1.self-cpu0.self).Seconds()*1e6/sent, (cpu1.db-cpu0.db).Seconds()*1e6/sent, (cpu1.redis-cpu0.redis).Seconds()*1e6/sent,
		(cpu1.self-cpu0.self).Seconds()/sendTime.Seconds(), (cpu1.db-cpu0.db).Seconds()/sendTime.Seconds(), (cpu1.redis-cpu0.redis).Seconds()/sendTime.Seconds())
	for _, st := range stmts.top(8) {
		fmt.Printf("  %6.3f / push  %s\n", float64(st.n)/sent, st.what)
	}
	sendRate, pairRate := sent/sendTime.Seconds(), float64(pairs)/pairTime.Seconds()
	fmt.Printf("raw Redis LPUSH+RPOP, 64 clients: %d pairs in %s (%.0f pairs/s); sends / raw pairs: %.3f×; tasks / raw pairs: %.3f×\n",
		pairs, pairTime.Round(time.Millisecond), pairRate, sendRate/pairRate, float64(tasks.Load())/sendTime.Seconds()/pairRate)
	if o.noop {
		fmt.Fprintln(os.Stderr, "no-op asynq tasks…")
		n, enq, took, err := noopTasks(ctx, rdb, qname+"-noop", o.patients, o.concurrency, quiet)
		if err != nil {
			return err
		}
		fmt.Printf("no-op asynq tasks (send task options), worker concurrency %d: %d enqueued in %s (%.0f/s), served in %s (%.0f tasks/s = %.3f× raw pairs)\n",
			o.concurrency, n, enq.Round(time.Millisecond), float64(n)/enq.Seconds(), took.Round(time.Millisecond),
			float64(n)/took.Seconds(), float64(n)/took.Seconds()/pairRate)
		fmt.Printf("load average after the no-op run: %s\n", loadAverage())
	}
	if dups > 0 || len(perOpenID) != o.patients || int(pushes) != o.patients {
		return fmt.Errorf("duplicates or losses")
	}
	return nil
}

// redisBaseline measures what the same Redis does with no queue library:
// n LPUSH+RPOP pairs of a send task's size by c clients at once.
func redisBaseline(ctx context.Context, rdb redis.UniversalClient, key string, n, c int) (int, time.Duration, error) {
	defer rdb.Del(ctx, key)
	payload := strings.Repeat("x", 64)
	var wg sync.WaitGroup
	errs := make(chan error, c)
	start := time.Now()
	for w := range c {
		wg.Go(func() {
			for i := w; i < n; i += c {
				if err := rdb.LPush(ctx, key, payload).Err(); err != nil {
					errs <- err
					return
				}
				if err := rdb.RPop(ctx, key).Err(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, fmt.Errorf("redis baseline: %w", err)
	}
	return n, elapsed, nil
}

func openStores(ctx context.Context, o options) (*gorm.DB, redis.UniversalClient, func(), error) {
	if o.embedded {
		dir, err := os.MkdirTemp("", "carepath-bench-db-")
		if err != nil {
			return nil, nil, nil, err
		}
		db, err := database.Open(ctx, database.Options{Driver: "sqlite", DSN: filepath.Join(dir, "bench.db")})
		if err != nil {
			return nil, nil, nil, err
		}
		mr, err := cache.StartEmbedded()
		if err != nil {
			return nil, nil, nil, err
		}
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 128})
		rdb.AddHook(rc)
		return db, rdb, func() { rdb.Close(); mr.Close(); os.RemoveAll(dir) }, nil
	}
	name := fmt.Sprintf("carepath_bench_%d", time.Now().UnixNano())
	admin, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: o.mysql, MaxOpenConns: 2, MaxIdleConns: 1})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		return nil, nil, nil, err
	}
	dsn := o.mysql[:strings.Index(o.mysql+"/", "/")] + "/" + name
	db, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: o.pool, MaxIdleConns: o.pool, ConnMaxLifetime: time.Hour})
	if err != nil {
		return nil, nil, nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: o.redis, PoolSize: 128})
	rdb.AddHook(rc)
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, nil, nil, err
	}
	return db, rdb, func() {
		rdb.Close()
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		admin.Exec("DROP DATABASE " + name)
	}, nil
}
