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
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	mysql       string
	redis       string
	embedded    bool
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
	flag.IntVar(&o.concurrency, "c", 64, "worker concurrency (sends in flight)")
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

	fmt.Fprintln(os.Stderr, "sending…")
	w := queue.NewWorkerOn(rdb, map[string]int{qname: 1}, o.concurrency, time.UTC, quiet)
	w.Handle(notify.TaskSend, a.Handlers()[notify.TaskSend])
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start = time.Now()
	go func() { done <- w.Run(wctx) }()
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		// Done when every push is settled (sent, or refused for good).
		var open int64
		db.Model(&notify.Push{}).Where("status IN ?", []string{notify.StatusQueued, notify.StatusRetrying, notify.StatusDeferred}).Count(&open)
		if open == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	sendTime := time.Since(start)
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
	pairs, pairTime, err := redisBaseline(ctx, rdb, prefix+"baseline", o.patients, o.concurrency)
	if err != nil {
		return err
	}
	fmt.Printf("push rows: %d, notifications: %d, not sent: %d\n", pushes, notifications, other)
	fmt.Printf("sent: %d messages to %d openids in %s (%.0f/s), duplicates: %d, lost: %d\n",
		len(msgs), len(perOpenID), sendTime.Round(time.Millisecond), float64(len(msgs))/sendTime.Seconds(), dups, o.patients-len(perOpenID))
	sendRate, pairRate := float64(len(msgs))/sendTime.Seconds(), float64(pairs)/pairTime.Seconds()
	fmt.Printf("raw Redis LPUSH+RPOP, %d clients: %d pairs in %s (%.0f pairs/s); sends / raw pairs: %.3f×\n",
		o.concurrency, pairs, pairTime.Round(time.Millisecond), pairRate, sendRate/pairRate)
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
	db, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: 100, MaxIdleConns: 100, ConnMaxLifetime: time.Hour})
	if err != nil {
		return nil, nil, nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: o.redis, PoolSize: 128})
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
