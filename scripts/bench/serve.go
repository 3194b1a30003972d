package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/web"
	"github.com/carepath/carepath/scripts/internal/harness"
)

// authenticatedCeilingPath is the bench-only authenticated route that reads nothing.
const authenticatedCeilingPath = "/bench/authenticated"

// runServe is the server under test: the product's app package (what
// `carepath serve` runs), in a process of its own so /proc shows its CPU and
// memory alone. It prints "ready <addr>" and stops, draining, on SIGTERM;
// it prints "drained <duration>" when Serve returned.
func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "DSN of the bench database")
	addr := fs.String("redis", "127.0.0.1:6379", "Redis address")
	prefix := fs.String("prefix", "bench:", "Redis key prefix")
	dataDir := fs.String("data", "", "data directory (dev secrets)")
	pool := fs.Int("pool", 32, "database pool size (max open connections)")
	idle := fs.Int("idle", 0, "idle connections kept (0: as many as -pool)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the server's whole life to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	c := harness.ServerConfig(*dsn, *addr, *dataDir, *pool)
	if *idle > 0 {
		c.Database.MaxIdleConns = *idle
	}
	c.HTTP.ShutdownTimeout = 20 * time.Second
	// Access logs cost the same in every scenario; keep the terminal clean.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a, err := app.Build(ctx, c, log, app.Options{RedisPrefix: *prefix})
	if err != nil {
		return err
	}
	defer a.Close()
	// The ceiling of an authenticated route: the product's whole middleware
	// chain and authentication, then an answer that reads nothing. Only this
	// bench process has it.
	a.Guard.Group(&a.Engine.RouterGroup).Authenticated(http.MethodGet, authenticatedCeilingPath, func(c *gin.Context) {
		actor, _ := auth.ActorFrom(c)
		web.OK(c, gin.H{"kind": actor.Kind, "id": actor.ID})
	})
	stmts, err := countStatements(a.DB)
	if err != nil {
		return err
	}
	// SIGUSR1: print the statements counted since the last one, and start afresh.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			b, _ := json.Marshal(stmts.take())
			fmt.Println("stmts " + string(b))
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("ready", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln, false) }()
	select {
	case err = <-served:
		return err
	case <-ctx.Done():
	}
	t0 := time.Now()
	err = <-served
	fmt.Println("drained", time.Since(t0))
	return err
}
