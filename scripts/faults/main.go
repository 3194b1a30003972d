// Command faults injects faults into a running CarePath and checks that
// nothing acknowledged is lost: Redis stopped under load, MariaDB restarted
// under load, the worker killed mid-push. Each scenario gets a Redis and a
// MariaDB of its own (on free ports, under a temporary folder, removed
// afterwards: the system ones are never touched), the server (`serve`) and
// the worker (`worker`) as child processes built from the app package, the
// fake WeChat server in this process (so its count survives the worker), and
// a load-generator child with real tokens. It writes a Markdown report to
// scripts/faults/out/ and exits non-zero when an expectation fails.
//
//	go run ./scripts/faults                    # every scenario
//	go run ./scripts/faults -scenario redis    # one of redis, mariadb, worker
//	go run ./scripts/faults -quick             # shorter faults and load
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/wx/fake"
	"github.com/carepath/carepath/scripts/internal/harness"
)

func main() {
	// go-redis prints every failed dial to stderr; the faults make many on purpose.
	redis.SetLogger(quietRedis{})
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	var err error
	args := os.Args[1:]
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "":
		err = run(args)
	case "serve":
		err = runChild(args, true)
	case "worker":
		err = runChild(args, false)
	case "load":
		err = runLoad(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", sub)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

type options struct {
	scenario string
	quick    bool
	duration time.Duration // load per scenario
	down     time.Duration // how long Redis or MariaDB stays down
	workers  int
	patients int // logged-in patients of the load
	pushes   int // pushes of the worker scenario
	out      string
}

func run(args []string) error {
	var o options
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.StringVar(&o.scenario, "scenario", "all", "redis, mariadb, worker or all")
	fs.BoolVar(&o.quick, "quick", false, "short run: 20 s of load, 6 s faults, 200 pushes")
	fs.DurationVar(&o.duration, "duration", 40*time.Second, "load per scenario (the fault starts after a quarter of it)")
	fs.DurationVar(&o.down, "down", 15*time.Second, "how long Redis or MariaDB stays down")
	fs.IntVar(&o.workers, "workers", 8, "concurrent clients of the load")
	fs.IntVar(&o.patients, "patients", 12, "logged-in patients of the load")
	fs.IntVar(&o.pushes, "pushes", 600, "pushes of the worker scenario (one per patient)")
	fs.StringVar(&o.out, "out", "scripts/faults/out", "folder for the reports (git-ignored)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.quick {
		o.duration, o.down, o.pushes = 20*time.Second, 6*time.Second, 200
	}
	scenarios := map[string]func(context.Context, *env, options) (*report, error){
		"redis": redisScenario, "mariadb": mariadbScenario, "worker": workerScenario,
	}
	names := []string{"redis", "mariadb", "worker"}
	if o.scenario != "all" {
		if scenarios[o.scenario] == nil {
			return fmt.Errorf("-scenario: want redis, mariadb, worker or all, got %q", o.scenario)
		}
		names = []string{o.scenario}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := 0
	for _, name := range names {
		logf("scenario %s", name)
		e, err := newEnv(ctx, o, name)
		if err != nil {
			if e != nil {
				e.close()
			}
			return fmt.Errorf("%s: set-up: %w", name, err)
		}
		rep, err := scenarios[name](ctx, e, o)
		e.close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		path, err := rep.write(o.out)
		if err != nil {
			return err
		}
		fmt.Println(rep.markdown())
		logf("report: %s", path)
		if !rep.passed() {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) failed an expectation", failed)
	}
	return nil
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...interface{}) {}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// env is one scenario's world: its own Redis and MariaDB, the fake WeChat,
// the seeded hospital, the server and worker children.
type env struct {
	dir      string
	redis    *service
	maria    *service
	wechat   *fake.Server
	dsn      string
	prefix   string
	hospital string
	dept     string
	self     string
	seeder   *app.App
	srv      *harness.Child
	worker   *harness.Child
	base     string
	load     []Patient
	quiet    []Patient // logged in, never called by the load: the CM writes to them during a fault
	staff    harness.StaffSession
	closers  []func()
}

// quietPatients get one CM reply each while Redis is down: each reply is a
// push to plan once Redis is back.
const quietPatients = 6

const (
	cmUser     = "faultscm"
	cmPassword = "faults-cm-password"
)

// faultConfig is the configuration the seeder, the server and the worker
// share: the same data directory (dev secrets), no quiet hours, limits the
// load from one IP does not reach (the abuse limits are not under test here).
func faultConfig(dsn, redisAddr, dataDir string) config.Config {
	c := harness.ServerConfig(dsn, redisAddr, dataDir, 32)
	c.HTTP.ShutdownTimeout = 10 * time.Second
	c.Notify.QuietStart, c.Notify.QuietEnd = "00:00", "00:00"
	c.Notify.DailyCap = 1000
	c.Limits.MessagesPerUser, c.Limits.MessagesPerIP = 1_000_000, 1_000_000
	c.Limits.WeChatLoginPerIP, c.Limits.StaffLoginPerIP = 1_000_000, 1_000
	return c
}

func newEnv(ctx context.Context, o options, name string) (e *env, err error) {
	e = &env{prefix: "faults:"}
	if e.self, err = os.Executable(); err != nil {
		return e, err
	}
	if e.dir, err = os.MkdirTemp("", "carepath-faults-"+name+"-"); err != nil {
		return e, err
	}
	e.closers = append(e.closers, func() { os.RemoveAll(e.dir) })
	if e.redis, err = newRedis(e.dir); err != nil {
		return e, err
	}
	if err := e.redis.start(); err != nil {
		return e, err
	}
	e.closers = append(e.closers, e.redis.stop)
	if e.maria, err = newMariaDB(e.dir); err != nil {
		return e, err
	}
	if err := e.maria.start(); err != nil {
		return e, err
	}
	e.closers = append(e.closers, e.maria.stop)
	admin, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: e.maria.dsn(""), MaxOpenConns: 1})
	if err != nil {
		return e, err
	}
	if err := admin.Exec("CREATE DATABASE carepath").Error; err != nil {
		return e, err
	}
	if db, err := admin.DB(); err == nil {
		db.Close()
	}
	e.dsn = e.maria.dsn("carepath")
	if e.wechat, err = fake.New(); err != nil {
		return e, err
	}
	e.closers = append(e.closers, func() { e.wechat.Close() })

	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	e.seeder, err = app.Build(ctx, e.config(), quiet, app.Options{RedisPrefix: e.prefix, WeChatBaseURL: e.wechat.URL()})
	if err != nil {
		return e, err
	}
	e.closers = append(e.closers, e.seeder.Close)
	if err := database.Migrate(ctx, e.seeder.DB); err != nil {
		return e, err
	}
	sum, _, err := e.seeder.SeedDemo(ctx, "faults-password")
	if err != nil {
		return e, err
	}
	dept := sum.Departments["CARDIO"]
	e.hospital, e.dept = sum.HospitalID, dept
	cm := auth.Staff{HospitalID: sum.HospitalID, Username: cmUser, DisplayName: "故障演练个管师", Role: auth.RoleCM, DepartmentID: &dept}
	if err := e.seeder.Auth.CreateStaff(ctx, &cm, cmPassword); err != nil {
		return e, err
	}
	actor := auth.Actor{Kind: auth.KindStaff, ID: cm.ID, Role: auth.RoleCM, HospitalID: sum.HospitalID, DepartmentID: dept}
	today := time.Now().In(e.seeder.Observations.Location())
	var ids []string
	for i := range o.patients + quietPatients {
		p, err := e.seeder.Patients.Register(ctx, patient.NewPatient{HospitalID: sum.HospitalID, DepartmentID: dept,
			Name: fmt.Sprintf("演练患者%02d", i), AssignedCMID: cm.ID, RiskLevel: "medium", MRN: fmt.Sprintf("FAULTS-%03d", i)})
		if err != nil {
			return e, err
		}
		if _, err := e.seeder.Careplan.Enrol(ctx, actor, p.ID, careplan.Enrolment{Pathway: "hypertension",
			Anchors: map[string]string{careplan.AnchorEnrolment: today.AddDate(0, 0, -30).Format(time.DateOnly)}}); err != nil {
			return e, err
		}
		ids = append(ids, p.ID)
	}
	if e.srv, err = harness.StartChild(e.self, e.childArgs("serve")...); err != nil {
		return e, err
	}
	e.closers = append(e.closers, e.srv.Stop)
	e.base = "http://" + e.srv.Addr
	if e.worker, err = harness.StartChild(e.self, e.childArgs("worker")...); err != nil {
		return e, err
	}
	e.closers = append(e.closers, func() { e.worker.Stop() })
	tokens, users, err := harness.LoginPatients(ctx, e.seeder.DB, e.base, "faults", ids)
	if err != nil {
		return e, err
	}
	// Credits for the reply push, plenty: every reply to an offline patient may be pushed.
	tmpl, _ := e.seeder.Notify.Templates().Template(notify.KindCMMessage)
	now := time.Now().UTC()
	for _, id := range ids {
		sub := notify.Subscription{ID: database.NewID(), UserID: users[id], TemplateID: tmpl.TemplateID, Quota: 100000,
			Status: notify.ResultAccept, Accepted: 100000, CreatedAt: now, UpdatedAt: now}
		if err := e.seeder.DB.WithContext(ctx).Create(&sub).Error; err != nil {
			return e, err
		}
	}
	for i, id := range ids {
		p := Patient{ID: id, Token: tokens[id], Code: fmt.Sprintf("faults%05d", i)}
		if i < o.patients {
			e.load = append(e.load, p)
		} else {
			e.quiet = append(e.quiet, p)
		}
	}
	if e.staff, err = harness.StaffLogin(e.base, cmUser, cmPassword); err != nil {
		return e, err
	}
	return e, nil
}

func (e *env) config() config.Config {
	return faultConfig(e.dsn, e.redis.addr, filepath.Join(e.dir, "data"))
}

func (e *env) childArgs(role string) []string {
	return []string{role, "-dsn", e.dsn, "-redis", e.redis.addr, "-prefix", e.prefix, "-data", filepath.Join(e.dir, "data"), "-wechat", e.wechat.URL()}
}

// restartWorker starts a new worker child (after a kill).
func (e *env) restartWorker() error {
	w, err := harness.StartChild(e.self, e.childArgs("worker")...)
	if err != nil {
		return err
	}
	e.worker = w
	return nil
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// runChild is the server (serve) or the worker: the app package as
// `carepath serve` and `carepath worker` run it, in a process of its own.
// It prints "ready <addr>" and stops on SIGTERM.
func runChild(args []string, serve bool) error {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "DSN")
	addr := fs.String("redis", "", "Redis address")
	prefix := fs.String("prefix", "faults:", "Redis key prefix")
	dataDir := fs.String("data", "", "data directory (dev secrets)")
	wechat := fs.String("wechat", "", "the fake WeChat server's URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if os.Getenv("FAULTS_CHILD_LOG") != "" {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.Build(ctx, faultConfig(*dsn, *addr, *dataDir), log, app.Options{RedisPrefix: *prefix, WeChatBaseURL: *wechat})
	if err != nil {
		return err
	}
	defer a.Close()
	if !serve {
		fmt.Println("ready worker")
		if err := a.RunWorker(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("ready", ln.Addr().String())
	return a.Serve(ctx, ln, false)
}
