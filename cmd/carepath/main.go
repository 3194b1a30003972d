// Command carepath runs CarePath: serve (HTTP API, admin page; in the
// embedded default also the worker), worker (background jobs), migrate
// (schema) and seed --demo (demonstration data).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "carepath:", oneLine(err))
		os.Exit(1)
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

const usage = `usage: carepath <command> [--config file]

commands:
  serve          run the HTTP API and admin page (embedded default: SQLite, in-process
                 Redis, fake WeChat, demo data and the worker, all in this process)
  worker         run the background job worker and scheduler
  migrate        bring the database schema up to date
  seed --demo    load the demo hospital into an empty database
  reseal         seal at rest the message text, follow-up notes, questionnaire answers,
                 reading and alert notes, appointment, care plan and deactivation reasons
                 written in the clear by older versions (idempotent, in batches)
`

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd := args[0]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", lookup(environ, "CAREPATH_CONFIG"), "YAML config file (default: none, the embedded default)")
	demoFlag := fs.Bool("demo", false, "seed: load the demo hospital")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, environ)
	if err != nil {
		return err
	}
	if cfg.Env == "dev" && cfg.WeChat.AppID == "" {
		cfg.WeChat.Fake = true // the embedded default talks to the built-in fake WeChat
	}
	log := newLogger(cfg.Log, stderr)
	// go-redis writes dial retries straight to stderr; route them through our
	// logger so an unreachable Redis ends in one line of ours, not a burst of its.
	redis.SetLogger(redisLogger{log})
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout, environ)
	case "worker":
		a, err := build(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		log.Info("worker started")
		return a.RunWorker(ctx)
	case "migrate":
		a, err := build(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		if err := database.Migrate(ctx, a.DB); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "schema is up to date")
		return nil
	case "seed":
		if !*demoFlag {
			return errors.New("seed needs --demo (the only data set there is)")
		}
		a, err := build(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		return seed(ctx, a, stdout, lookup(environ, "CAREPATH_DEMO_PASSWORD"), false)
	case "reseal":
		a, err := build(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		if err := database.CheckCurrent(ctx, a.DB); err != nil {
			return err
		}
		n, err := a.Reseal(ctx, 500)
		fmt.Fprintf(stdout, "sealed: %d messages, %d follow-ups, %d questionnaire answers, %d reading notes, %d alert notes, %d appointment reasons, %d plan reasons, %d deactivation reasons\n",
			n["messages"], n["followups"], n["questionnaire_answers"], n["observation_notes"], n["alert_notes"], n["appointment_reasons"], n["plan_reasons"], n["deactivation_reasons"])
		return err
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func build(ctx context.Context, cfg config.Config, log *slog.Logger) (*app.App, error) {
	return app.Build(ctx, cfg, log, app.Options{})
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, environ []string) error {
	masked := cfg.Masked()
	keys := make([]string, 0, len(masked))
	for k := range masked {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		attrs = append(attrs, k, masked[k])
	}
	log.Info("configuration", attrs...)

	a, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.Embedded() {
		// The embedded default is one command with no set-up: migrate and seed here.
		if err := database.Migrate(ctx, a.DB); err != nil {
			return err
		}
	} else if err := database.CheckCurrent(ctx, a.DB); err != nil {
		return err
	}
	if empty, err := a.Empty(ctx); err != nil {
		return err
	} else if empty && (cfg.Embedded() || cfg.Demo.Seed) {
		password := cfg.Demo.Password
		if err := seed(ctx, a, stdout, password, password == ""); err != nil {
			return err
		}
	}
	// Start-up (migrations, the demo seed, parsing catalogues and the API
	// contract) leaves garbage the runtime returns to the OS only minutes later;
	// hand it back now so an idle server is as small as it will stay.
	debug.FreeOSMemory()
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	base := cfg.HTTP.PublicURL
	if base == "" {
		base = "http://" + displayAddr(ln.Addr().(*net.TCPAddr))
	}
	fmt.Fprintf(stdout, "CarePath is running (%s mode%s)\n  API:       %s/api/v1\n  API docs:  %s/docs\n  Admin:     %s/admin\n",
		cfg.Env, map[bool]string{true: ", embedded SQLite + Redis + fake WeChat"}[cfg.Embedded()], base, base, base)
	return a.Serve(ctx, ln, cfg.Embedded())
}

func seed(ctx context.Context, a *app.App, stdout io.Writer, password string, printPassword bool) error {
	sum, used, err := a.SeedDemo(ctx, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo data loaded: %d staff (cm1, cm2, lead1, admin), %d patients; WeChat code test-patient1 logs in as patient 1\n",
		len(sum.Staff), len(sum.Patients))
	if printPassword || password == "" {
		fmt.Fprintf(stdout, "demo staff password (shown once; set CAREPATH_DEMO_PASSWORD to choose it): %s\n", used)
	}
	return nil
}

func displayAddr(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", a.Port)
	}
	return a.String()
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

func lookup(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
