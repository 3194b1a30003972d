// Command observations measures reporting and trends under load against a
// real MariaDB/MySQL and Redis: it builds CarePath in-process on a fresh
// database, seeds one patient with a year of blood-pressure readings (four
// a day), logs in through the fake WeChat server like the mini-program, and
// drives three scenarios with N concurrent workers over real HTTP:
//
//	baseline  GET /healthz (a plain JSON endpoint of the same server)
//	profile   GET /api/v1/patients/{id}: token, session, access policy (what every patient route pays)
//	report    POST a reading (validation, idempotency key, patient lock, rules, alert folding, audit),
//	          spread over many patients, and all to one patient (serialised by its lock)
//	trend     GET the 1-year blood-pressure trend (daily aggregates + target + latest)
//
// It prints a Markdown table (requests/s, p50, p99, errors, ratios to the
// baseline measured in the same run) and writes it to scripts/bench/out/.
//
//	go run ./scripts/bench/observations -dsn 'root@tcp(127.0.0.1:3306)/' -redis 127.0.0.1:6379
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/demo"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	dsn, redis, out string
	workers         int
	duration        time.Duration
	warmup          time.Duration
	perDay          int
	patients        int
	keep            bool
	only            string
	cpuprofile      string
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("observations", flag.ContinueOnError)
	fs.StringVar(&o.dsn, "dsn", "root@tcp(127.0.0.1:3306)/", "MySQL/MariaDB DSN of a user that may create databases (the database name is ignored)")
	fs.StringVar(&o.redis, "redis", "127.0.0.1:6379", "Redis address")
	fs.StringVar(&o.out, "out", "scripts/bench/out", "folder for the Markdown report (git-ignored)")
	fs.IntVar(&o.workers, "workers", 16, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each scenario")
	fs.IntVar(&o.perDay, "per-day", 4, "seeded readings per day over the year")
	fs.IntVar(&o.patients, "patients", 50, "patients the spread POST scenario reports for")
	fs.BoolVar(&o.keep, "keep", false, "keep the benchmark database afterwards")
	fs.StringVar(&o.only, "only", "", "run only the scenarios whose name contains this (the baseline always runs)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured scenarios (not the baseline) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}

	// A fresh database, dropped at the end.
	cfg, err := gomysql.ParseDSN(o.dsn)
	if err != nil {
		return fmt.Errorf("-dsn: %w", err)
	}
	cfg.DBName = ""
	admin, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: cfg.FormatDSN(), MaxOpenConns: 1})
	if err != nil {
		return err
	}
	dbName := fmt.Sprintf("carepath_bench_%d", time.Now().Unix())
	if err := admin.Exec("CREATE DATABASE " + dbName).Error; err != nil {
		return err
	}
	if !o.keep {
		defer admin.Exec("DROP DATABASE IF EXISTS " + dbName)
	}
	cfg.DBName = dbName

	c := config.Defaults()
	c.DataDir = filepath.Join(os.TempDir(), dbName)
	c.Database = config.Database{Driver: "mysql", DSN: cfg.FormatDSN(), MaxOpenConns: 64, MaxIdleConns: 64, ConnMaxLifetime: time.Hour}
	c.Redis.Addrs = []string{o.redis}
	c.WeChat.Fake = true
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil)) // access logs cost the same in every scenario; keep the terminal clean
	a, err := app.Build(ctx, c, quiet, app.Options{RedisPrefix: dbName + ":"})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := database.Migrate(ctx, a.DB); err != nil {
		return err
	}
	sum, _, err := a.SeedDemo(ctx, "bench-password")
	if err != nil {
		return err
	}
	patientID := sum.Patients["patient2"]
	seeded, err := seedYear(ctx, a, patientID, o.perDay)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srvCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Serve(srvCtx, ln, false) }()
	defer func() { stop(); <-served }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: o.workers * 2, MaxIdleConnsPerHost: o.workers * 2}}
	token, _, err := login(client, base, "patient2")
	if err != nil {
		return err
	}
	others, err := morePatients(ctx, a, client, base, sum, o.patients)
	if err != nil {
		return err
	}

	var seq int64
	var seqMu sync.Mutex
	nextKey := func() string {
		seqMu.Lock()
		defer seqMu.Unlock()
		seq++
		return fmt.Sprintf("bench-%s-%d", dbName, seq)
	}
	scenarios := []scenario{
		{name: "baseline: GET /healthz", do: func(rng *rand.Rand) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, base+"/healthz", nil)
		}},
		{name: "GET a patient profile (auth + access)", do: func(rng *rand.Rand) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, base+"/api/v1/patients/"+patientID, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			return req, nil
		}},
		{name: fmt.Sprintf("POST a reading, %d patients", len(others)), do: func(rng *rand.Rand) (*http.Request, error) {
			p := others[rng.IntN(len(others))]
			return post(base, p.id, p.token, nextKey(), reading(rng, time.Now()))
		}},
		{name: "POST a reading, one patient (a year of history)", do: func(rng *rand.Rand) (*http.Request, error) {
			return post(base, patientID, token, nextKey(), reading(rng, time.Now()))
		}},
		{name: "GET 1y trend", do: func(rng *rand.Rand) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, base+"/api/v1/patients/"+patientID+"/trends/blood_pressure?range=1y", nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			return req, nil
		}},
	}
	var results []result
	profiling := false
	for i, s := range scenarios {
		if i > 0 && !strings.Contains(s.name, o.only) {
			continue
		}
		drive(client, s, o.workers, o.warmup) // warm-up, discarded
		if i > 0 && o.cpuprofile != "" && !profiling {
			profiling = true
			f, err := os.Create(o.cpuprofile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
		r := drive(client, s, o.workers, o.duration)
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "%-36s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", r.name, r.rps(), ms(r.p(50)), ms(r.p(99)), r.errors)
	}
	report := markdown(results, o, seeded)
	fmt.Fprint(stdout, report)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.out, "observations-"+time.Now().Format("20060102-150405")+".md")
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "written to", path)
	return nil
}

// seedYear stores a year of blood pressure, perDay readings a day, directly
// (the API refuses readings older than 30 days).
func seedYear(ctx context.Context, a *app.App, patientID string, perDay int) (int, error) {
	loc := a.Observations.Location()
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []observation.Reading
	for d := 365; d >= 1; d-- {
		for k := 0; k < perDay; k++ {
			t := now.AddDate(0, 0, -d).Add(time.Duration(k) * 24 * time.Hour / time.Duration(perDay)).UTC().Truncate(time.Second)
			sys, dia, pulse := 115+rng.Float64()*25, 70+rng.Float64()*15, 60+float64(rng.IntN(30))
			sys, dia = math.Round(sys), math.Round(dia)
			rows = append(rows, observation.Reading{
				ID: database.NewID(), PatientID: patientID, Type: observation.TypeBloodPressure, MeasuredAt: t,
				LocalDay: t.In(loc).Format(time.DateOnly), Code: "85354-9", Value: &sys, Value2: &dia, Value3: &pulse,
				Unit: "mm[Hg]", Source: observation.SourceDevice, ReportedBy: "bench", ReceivedAt: t,
			})
		}
	}
	if err := a.DB.WithContext(ctx).CreateInBatches(rows, 500).Error; err != nil {
		return 0, fmt.Errorf("seed a year: %w", err)
	}
	return len(rows), nil
}

// login signs in as the fake WeChat user <name>, with a fresh code
// (test-<name>~<nonce>), and returns the access token and user id.
func login(client *http.Client, base, name string) (string, string, error) {
	body := strings.NewReader(fmt.Sprintf(`{"code":"test-%s~%d"}`, name, time.Now().UnixNano()))
	resp, err := client.Post(base+"/api/v1/auth/wechat/login", "application/json", body)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", "", fmt.Errorf("login %s: %d %v", name, resp.StatusCode, err)
	}
	return tok.AccessToken, tok.UserID, nil
}

type benchPatient struct{ id, token string }

// morePatients registers n patients with WeChat accounts of their own.
func morePatients(ctx context.Context, a *app.App, client *http.Client, base string, sum demo.Summary, n int) ([]benchPatient, error) {
	out := make([]benchPatient, 0, n)
	for i := 0; i < n; i++ {
		token, userID, err := login(client, base, fmt.Sprintf("bench%03d", i))
		if err != nil {
			return nil, err
		}
		p, err := a.Patients.Register(ctx, patient.NewPatient{HospitalID: sum.HospitalID, DepartmentID: sum.Departments["CARDIO"],
			Name: fmt.Sprintf("压测患者%03d", i), AssignedCMID: sum.Staff["cm2"], UserID: userID})
		if err != nil {
			return nil, err
		}
		out = append(out, benchPatient{id: p.ID, token: token})
	}
	return out, nil
}

func post(base, patientID, token, key string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/patients/"+patientID+"/observations", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

// reading is a blood pressure taken in the last six days; one in twenty is
// critical, so alerts are raised and then folded.
func reading(rng *rand.Rand, now time.Time) []byte {
	sys, dia := 110+rng.IntN(30), 70+rng.IntN(18)
	if rng.IntN(20) == 0 {
		sys, dia = 182+rng.IntN(20), 100+rng.IntN(15)
	}
	at := now.Add(-time.Duration(rng.IntN(6*24*60)) * time.Minute).Format(time.RFC3339)
	b, _ := json.Marshal(map[string]any{"type": "blood_pressure", "systolic": sys, "diastolic": dia, "pulse": 60 + rng.IntN(30), "measured_at": at, "source": "device"})
	return b
}

type scenario struct {
	name string
	do   func(rng *rand.Rand) (*http.Request, error)
}

type result struct {
	name      string
	latencies []time.Duration
	errors    int
	elapsed   time.Duration
	firstErr  string
}

func (r result) rps() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

func (r result) p(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(q/100*float64(len(r.latencies)))) - 1
	return r.latencies[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// drive runs workers clients back to back for d and collects every latency.
func drive(client *http.Client, s scenario, workers int, d time.Duration) result {
	var mu sync.Mutex
	res := result{name: s.name}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var lat []time.Duration
			errs, first := 0, ""
			for time.Now().Before(deadline) {
				req, err := s.do(rng)
				if err != nil {
					errs++
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 300 {
						err = errors.New(resp.Status)
					}
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == "" {
				res.firstErr = first
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	return res
}

func markdown(rs []result, o options, seeded int) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "### Observation benchmark (%s, %s)\n\n", time.Now().Format("2006-01-02 15:04"), host)
	fmt.Fprintf(&b, "MariaDB/MySQL + Redis, server in-process over loopback HTTP, %d concurrent clients, %s per scenario after %s warm-up; "+
		"one patient with %d seeded blood-pressure readings (a year, %d a day) for the trend and the one-patient POSTs; every POST carries a fresh "+
		"Idempotency-Key, runs the rules (1 in 20 critical, folded into the open alert) and is audited; POSTs for one patient queue on its lock "+
		"by design. Ratios are to the baseline of this run: throughput ÷ baseline throughput, p50 ÷ baseline p50.\n\n",
		o.workers, o.duration, o.warmup, seeded, o.perDay)
	b.WriteString("| scenario | requests | req/s | p50 ms | p99 ms | errors | throughput vs baseline | p50 vs baseline |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	baseRPS, baseP50 := rs[0].rps(), rs[0].p(50)
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.2f | %.2f | %d | %.3f | %.1f× |\n",
			r.name, len(r.latencies), r.rps(), ms(r.p(50)), ms(r.p(99)), r.errors, r.rps()/baseRPS, float64(r.p(50))/float64(baseP50))
	}
	for _, r := range rs {
		if r.firstErr != "" {
			fmt.Fprintf(&b, "\nfirst error in %q: %s\n", r.name, r.firstErr)
		}
	}
	return b.String()
}
