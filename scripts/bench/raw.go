package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// runJSONServer is the plain JSON endpoint baseline: net/http, one small
// JSON body, no middleware. With -dsn it also serves /select and /insert,
// the same endpoint running the raw one-row prepared SELECT or the raw
// INSERT in a transaction: the ceilings of any route that reads the
// database once or writes one row. It prints its address and serves until
// SIGTERM.
func runJSONServer(args []string) error {
	fs := flag.NewFlagSet("json", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "DSN of the bench database (enables /select)")
	row := fs.String("row", "", "id of a patients row for /select")
	pool := fs.Int("pool", 32, "database pool for /select")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	if *dsn != "" {
		db, err := sql.Open("mysql", *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		db.SetMaxOpenConns(*pool)
		db.SetMaxIdleConns(*pool)
		sel, err := db.Prepare("SELECT id, status, risk_level FROM patients WHERE id = ?")
		if err != nil {
			return err
		}
		if _, err := db.Exec("CREATE TABLE IF NOT EXISTS bench_ceiling (id BIGINT AUTO_INCREMENT PRIMARY KEY, patient_id VARCHAR(36) NOT NULL, v VARCHAR(64) NOT NULL, created_at DATETIME(3) NOT NULL) ENGINE=InnoDB"); err != nil {
			return err
		}
		defer db.Exec("DROP TABLE IF EXISTS bench_ceiling")
		// /insert is the raw single INSERT in a transaction behind the same endpoint.
		mux.HandleFunc("/insert", func(w http.ResponseWriter, r *http.Request) {
			if err := insertInTx(r.Context(), db, "bench_ceiling", *row); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "stored"})
		})
		mux.HandleFunc("/select", func(w http.ResponseWriter, r *http.Request) {
			var id, status, risk string
			if err := sel.QueryRowContext(r.Context(), *row).Scan(&id, &status, &risk); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "status": status, "risk_level": risk})
		})
	}
	fmt.Println("ready", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := &http.Server{Handler: mux}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// runRaw measures the database and Redis baselines with plain clients
// (database/sql, go-redis) and prints one JSON Result per line.
func runRaw(args []string) error {
	fs := flag.NewFlagSet("raw", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "DSN of the bench database")
	addr := fs.String("redis", "127.0.0.1:6379", "Redis address")
	prefix := fs.String("prefix", "bench:", "Redis key prefix")
	workers := fs.Int("workers", 16, "concurrent clients")
	d := fs.Duration("duration", 5*time.Second, "time per baseline")
	row := fs.String("row", "", "id of a patients row for the one-row SELECT")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	db, err := sql.Open("mysql", *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(*workers)
	db.SetMaxIdleConns(*workers)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS bench_baseline (id BIGINT AUTO_INCREMENT PRIMARY KEY, patient_id VARCHAR(36) NOT NULL, v VARCHAR(64) NOT NULL, created_at DATETIME(3) NOT NULL) ENGINE=InnoDB"); err != nil {
		return err
	}
	defer db.Exec("DROP TABLE IF EXISTS bench_baseline")
	sel, err := db.PrepareContext(ctx, "SELECT id, status, risk_level FROM patients WHERE id = ?")
	if err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: *workers * 2})
	defer rdb.Close()
	out := json.NewEncoder(os.Stdout)
	emit := func(r Result) { _ = out.Encode(r) }

	emit(measure("raw: one-row prepared SELECT", *workers, *d, func(int) error {
		var id, status, risk string
		return sel.QueryRowContext(ctx, *row).Scan(&id, &status, &risk)
	}))
	emit(measure("raw: single INSERT in a transaction", *workers, *d, func(int) error {
		return insertInTx(ctx, db, "bench_baseline", *row)
	}))
	emit(measure("raw: Redis PING", *workers, *d, func(int) error { return rdb.Ping(ctx).Err() }))
	list := *prefix + "baseline:list"
	emit(measure("raw: Redis LPUSH+RPOP pair", *workers, *d, func(int) error {
		if err := rdb.LPush(ctx, list, "job").Err(); err != nil {
			return err
		}
		return rdb.RPop(ctx, list).Err()
	}))
	rdb.Del(ctx, list)
	// PUBLISH → subscriber: each worker has a channel of its own and waits
	// for its message before publishing the next (a round trip).
	subs := make([]*redis.PubSub, *workers)
	chans := make([]<-chan *redis.Message, *workers)
	for i := range subs {
		subs[i] = rdb.Subscribe(ctx, *prefix+"baseline:ch:"+strconv.Itoa(i))
		if _, err := subs[i].Receive(ctx); err != nil {
			return err
		}
		chans[i] = subs[i].Channel()
		defer subs[i].Close()
	}
	emit(measure("raw: Redis PUBLISH→subscriber", *workers, *d, func(w int) error {
		if err := rdb.Publish(ctx, *prefix+"baseline:ch:"+strconv.Itoa(w), "m").Err(); err != nil {
			return err
		}
		select {
		case <-chans[w]:
			return nil
		case <-time.After(5 * time.Second):
			return fmt.Errorf("message not received")
		}
	}))
	return nil
}

// measure runs f from workers goroutines for d (after a short warm-up).
func measure(name string, workers int, d time.Duration, f func(w int) error) Result {
	closedLoop(name, workers, d/5, f)
	return closedLoop(name, workers, d, f)
}

// errStopWorker, returned by a closed loop's f, ends that worker without
// counting an error.
var errStopWorker = errors.New("stop this worker")

// closedLoop runs f back to back from workers goroutines for d and
// summarises the latencies of the calls that succeeded.
func closedLoop(name string, workers int, d time.Duration, f func(w int) error) Result {
	var mu sync.Mutex
	var all []time.Duration
	r := Result{Name: name, Extra: map[string]any{}}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var lat []time.Duration
			errs, first := 0, ""
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := f(w); err != nil {
					if errors.Is(err, errStopWorker) {
						break
					}
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			r.Errors += errs
			if r.FirstErr == "" {
				r.FirstErr = first
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	summarise(&r, all)
	return r
}

// openLoop starts f at a fixed rate for d, whatever the server's pace, with
// at most inFlight calls outstanding. Each latency is counted from the call's
// scheduled start, so a call that waits for a free slot behind slow ones is
// charged for the wait (no coordinated omission). Calls are numbered from 0.
func openLoop(name string, rate float64, inFlight int, d time.Duration, f func(i int) error) Result {
	var mu sync.Mutex
	var all []time.Duration
	r := Result{Name: name, Extra: map[string]any{"rate_per_s": math.Round(rate)}}
	interval := time.Duration(float64(time.Second) / rate)
	slots := make(chan struct{}, inFlight)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(due))
		slots <- struct{}{}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			err := f(i)
			lat := time.Since(due)
			<-slots
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.Errors++
				if r.FirstErr == "" {
					r.FirstErr = err.Error()
				}
				return
			}
			all = append(all, lat)
		}(i, due)
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	summarise(&r, all)
	return r
}

// insertInTx is the write baseline: one row of a reading's size inserted in
// a transaction of its own.
func insertInTx(ctx context.Context, db *sql.DB, table, patientID string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (patient_id, v, created_at) VALUES (?, ?, ?)", patientID, "120/80", time.Now().UTC()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
