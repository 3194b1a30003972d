package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/platform/config"
)

// serverConfig is the configuration the orchestrator and the server child
// share: the same data directory holds the dev secrets, so fields encrypted
// while seeding decrypt in the server.
func serverConfig(dsn, redisAddr, dataDir string, pool int) config.Config {
	c := config.Defaults()
	c.DataDir = dataDir
	c.Database = config.Database{Driver: "mysql", DSN: dsn, MaxOpenConns: pool, MaxIdleConns: pool, ConnMaxLifetime: time.Hour}
	c.Redis.Addrs = []string{redisAddr}
	c.WeChat.Fake = true
	raiseAbuseLimits(&c.Limits)
	return c
}

// raiseAbuseLimits puts the per-IP and per-user limits out of reach: the load
// comes from one address standing for a hospital's worth of phones, and one
// case manager sends far more than a person types.
func raiseAbuseLimits(l *config.Limits) {
	const far = 1_000_000
	l.StaffLoginPerIP, l.WeChatLoginPerIP, l.RefreshPerIP = far, far, far
	l.MessagesPerUser, l.MessagesPerIP, l.UploadsPerUser, l.InvitationsPerUser = far, far, far, far
}

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
	pool := fs.Int("pool", 32, "database pool size (max open = max idle)")
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
	c := serverConfig(*dsn, *addr, *dataDir, *pool)
	c.HTTP.ShutdownTimeout = 20 * time.Second
	// Access logs cost the same in every scenario; keep the terminal clean.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a, err := app.Build(ctx, c, log, app.Options{RedisPrefix: *prefix})
	if err != nil {
		return err
	}
	defer a.Close()
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
