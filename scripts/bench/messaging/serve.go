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
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/platform/database"
)

// memStats is what a server child prints ("mem {…}") on SIGUSR1, after a
// GC that returns freed pages to the OS: the Go runtime's own view, beside
// the VmRSS the parent reads from /proc right after.
type memStats struct {
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
	Sockets    int    `json:"sockets"`
}

// runServe is one CarePath instance under test, in a process of its own so
// /proc/<pid>/status shows its memory alone. It prints "ready <addr>",
// answers SIGUSR1 with a "mem" line and stops, draining, on SIGTERM.
func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	driver := fs.String("driver", "mysql", "database driver (mysql or sqlite)")
	dsn := fs.String("dsn", "", "DSN of the bench database")
	addr := fs.String("redis", "127.0.0.1:6379", "Redis address")
	prefix := fs.String("prefix", "bench:", "Redis key prefix")
	dataDir := fs.String("data", "", "data directory (dev secrets)")
	wechat := fs.String("wechat", "", "fake WeChat server URL")
	heapProfile := fs.String("heapprofile", "", "write a heap profile to <this>.<n> at each memory report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *heapProfile != "" {
		runtime.MemProfileRate = 1 // every allocation: the per-socket figures are small
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	db, err := database.Open(ctx, database.Options{Driver: *driver, DSN: *dsn, MaxOpenConns: 40, MaxIdleConns: 40, ConnMaxLifetime: time.Hour})
	if err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: 64})
	defer rdb.Close()
	cfg := benchConfig(*dataDir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Build(ctx, cfg, log, app.Options{DB: db, Redis: rdb, RedisPrefix: *prefix, WeChatBaseURL: *wechat})
	if err != nil {
		return err
	}
	defer a.Close()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		reports := 0
		for range usr1 {
			// Collect and hand freed pages back, so VmRSS holds what
			// the process keeps, not garbage the scavenger has yet to return.
			debug.FreeOSMemory()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			b, _ := json.Marshal(memStats{HeapInuse: m.HeapInuse, StackInuse: m.StackInuse, Sys: m.Sys,
				Goroutines: runtime.NumGoroutine(), Sockets: a.Hub.Connections()})
			if *heapProfile != "" {
				reports++
				if f, err := os.Create(fmt.Sprintf("%s.%d", *heapProfile, reports)); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
			fmt.Println("mem " + string(b))
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("ready", ln.Addr().String())
	return a.Serve(ctx, ln, false)
}
