// Command bench is CarePath's load harness: one command that starts the
// server (the app package, as `carepath serve` runs it) in a process of its
// own against a fresh MariaDB database and a unique Redis key prefix, seeds a
// realistic hospital, measures this machine's baselines in the same run (a
// small program of the harness: a plain JSON endpoint, a one-row prepared
// SELECT, a transactional INSERT, Redis PING, PUBLISH→subscriber and
// LPUSH/RPOP), drives each scenario from a load-generator child process with
// real tokens, and writes a Markdown report with an SVG chart.
//
//	go run ./scripts/bench            # the full run
//	go run ./scripts/bench -quick     # a short run
//	go run ./scripts/bench -patients 100000
//
// The subcommands serve, load, raw and json are the children it starts.
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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/scripts/internal/harness"
)

func main() {
	var err error
	args := os.Args[1:]
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "":
		err = run(context.Background(), args)
	case "serve":
		err = runServe(args)
	case "load":
		err = runLoad(args)
	case "raw":
		err = runRaw(args)
	case "json":
		err = runJSONServer(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", sub)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	dsn, redis, out  string
	quick            bool
	patients, cms    int
	sample, yearly   int
	perDay, missed   int
	workers, pool    int
	idle             int
	duration, warmup time.Duration
	sockets, rate    int
	pushPatients     int
	only             string
	cpuprofile       string
	skip             string
	keep             bool
}

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.dsn, "dsn", "root@tcp(127.0.0.1:3306)/", "MariaDB/MySQL DSN of a user that may create databases (the name is ignored)")
	fs.StringVar(&o.redis, "redis", "127.0.0.1:6379", "Redis address")
	fs.StringVar(&o.out, "out", "scripts/bench/out", "folder for the report (git-ignored)")
	fs.BoolVar(&o.quick, "quick", false, "a short run: 3 s per scenario, 500 sockets, 2,000 patients for push planning")
	fs.IntVar(&o.patients, "patients", 1000, "active patients")
	fs.IntVar(&o.cms, "cms", 20, "case managers")
	fs.IntVar(&o.sample, "sample", 100, "patients with WeChat logins, plans, appointments and readings")
	fs.IntVar(&o.yearly, "yearly", 10, "patients (of the sample) with a year of readings")
	fs.IntVar(&o.perDay, "per-day", 6, "readings a day in the year (6 ≈ 2,190 a year)")
	fs.IntVar(&o.missed, "missed", 500, "missed messages to catch up")
	fs.IntVar(&o.workers, "workers", 16, "concurrent clients per scenario")
	fs.IntVar(&o.pool, "pool", 32, "the server's database pool (max open connections)")
	fs.IntVar(&o.idle, "idle", 0, "idle connections the server keeps (0: as many as -pool)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each scenario")
	fs.IntVar(&o.sockets, "sockets", 6000, "idle sockets for the messaging scenario")
	fs.IntVar(&o.rate, "rate", 20, "messages per second in the messaging scenario")
	fs.IntVar(&o.pushPatients, "push-patients", 100000, "patients for push planning")
	fs.StringVar(&o.only, "only", "", "run only the product scenarios whose name contains this")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write the server's CPU profile (seeded logins and every scenario) to this file; go tool pprof -top <file>")
	fs.BoolVar(&o.keep, "keep", false, "keep the bench database afterwards (to EXPLAIN the report's statements); drop it yourself")
	fs.StringVar(&o.skip, "skip", "", "comma-separated parts to skip: messaging,push,embedded,sigterm")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.quick {
		o.duration, o.warmup, o.sockets, o.pushPatients = 3*time.Second, time.Second, 500, 2000
		o.sample = min(o.sample, 40)
		o.yearly = min(o.yearly, 3)
	}
	started := time.Now()
	rep := &report{opts: o, started: started}
	rep.uptime("start")

	// A fresh database, dropped at the end; a unique Redis prefix, deleted.
	cfg, err := gomysql.ParseDSN(o.dsn)
	if err != nil {
		return fmt.Errorf("-dsn: %w", err)
	}
	cfg.DBName = ""
	cfg.ParseTime = true
	admin, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: cfg.FormatDSN(), MaxOpenConns: 1})
	if err != nil {
		return err
	}
	name := fmt.Sprintf("carepath_bench_%d", started.UnixNano())
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		return err
	}
	if !o.keep {
		defer admin.Exec("DROP DATABASE IF EXISTS " + name)
	} else {
		defer logf("kept database %s", name)
	}
	cfg.DBName = name
	dsn := cfg.FormatDSN()
	prefix := name + ":"
	rdb := redis.NewClient(&redis.Options{Addr: o.redis})
	defer func() {
		iter := rdb.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
		for iter.Next(context.Background()) {
			rdb.Del(context.Background(), iter.Val())
		}
		rdb.Close()
	}()
	dataDir, err := os.MkdirTemp("", name)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	// Seed through the app package in this process; the server is another.
	t0 := time.Now()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	seeder, err := app.Build(ctx, harness.ServerConfig(dsn, o.redis, dataDir, 8), quiet, app.Options{RedisPrefix: prefix})
	if err != nil {
		return err
	}
	defer seeder.Close()
	if err := database.Migrate(ctx, seeder.DB); err != nil {
		return err
	}
	h, err := seedHospital(ctx, seeder, o.cms, o.patients, o.sample, o.yearly, o.perDay, o.missed)
	if err != nil {
		return err
	}
	rep.seeded = fmt.Sprintf("%d CMs, %d active patients, %d with logins/plans/appointments, %d with a year of readings (%d a day), %d readings, %d missed messages, in %s",
		len(h.cms), len(h.patients), len(h.sample), len(h.yearly), o.perDay, h.readings, o.missed, time.Since(t0).Round(time.Millisecond))
	logf("seeded: %s", rep.seeded)

	self, err := os.Executable()
	if err != nil {
		return err
	}
	// Baselines: the raw clients, then the plain JSON endpoint.
	rep.uptime("baselines")
	raws, err := rawBaselines(ctx, self, dsn, o, prefix, h.patients[len(h.patients)/2])
	if err != nil {
		return err
	}
	for _, r := range raws {
		rep.add(r)
	}
	jsonSrv, err := startChild(self, "json", "-dsn", dsn, "-row", h.patients[len(h.patients)/2], "-pool", fmt.Sprint(o.pool))
	if err != nil {
		return err
	}
	for _, b := range []LoadSpec{
		{Name: "baseline: plain JSON endpoint", Ops: []Op{{Path: "/json"}}},
		{Name: ceilingOneSelect, Ops: []Op{{Path: "/select"}}},
		{Name: ceilingOneInsert, Ops: []Op{{Method: http.MethodPost, Path: "/insert"}}},
	} {
		b.Base = "http://" + jsonSrv.Addr
		r, err := loadRun(self, b, o, jsonSrv)
		if err != nil {
			jsonSrv.Stop()
			return err
		}
		rep.add(r)
	}
	jsonSrv.Stop()

	// The server under test.
	serveArgs := []string{"serve", "-dsn", dsn, "-redis", o.redis, "-prefix", prefix, "-data", dataDir, "-pool", fmt.Sprint(o.pool), "-idle", fmt.Sprint(o.idle)}
	if o.cpuprofile != "" {
		abs, err := filepath.Abs(o.cpuprofile)
		if err != nil {
			return err
		}
		serveArgs = append(serveArgs, "-cpuprofile", abs)
	}
	srv, err := startChild(self, serveArgs...)
	if err != nil {
		return err
	}
	srv.counts = true
	defer srv.Stop()
	base := "http://" + srv.Addr
	tokens, err := loginSample(ctx, seeder, base, h)
	if err != nil {
		return err
	}
	cookies, err := loginCMs(base, h)
	if err != nil {
		return err
	}
	rep.uptime("product scenarios")
	for _, sc := range scenarios(h, tokens, cookies) {
		if o.only != "" && !strings.Contains(sc.Name, o.only) {
			continue
		}
		sc.Base = base
		r, err := loadRun(self, sc, o, srv)
		if err != nil {
			return err
		}
		rep.add(r)
		if _, ok := targets[sc.Name+halfLoad]; ok && r.RPS() > 0 {
			half := sc
			half.Name, half.Rate = sc.Name+halfLoad, r.RPS()/2
			if r, err = loadRun(self, half, o, srv); err != nil {
				return err
			}
			rep.add(r)
		}
	}
	skip := func(part string) bool { return strings.Contains(o.skip, part) }
	if !skip("sigterm") {
		rep.uptime("SIGTERM under load")
		r, err := sigtermUnderLoad(self, srv, base, tokens, h, o)
		if err != nil {
			return err
		}
		rep.add(r)
	}
	seeder.Close()
	if !skip("messaging") {
		rep.uptime("messaging")
		out, err := goRun("./scripts/bench/messaging", "-n", fmt.Sprint(o.sockets), "-rate", fmt.Sprint(o.rate), "-duration", fmt.Sprint(max(o.duration, 5*time.Second)), "-mysql", o.dsn, "-redis", o.redis)
		rep.child("Message send → delivery on another instance (scripts/bench/messaging)", out, err)
	}
	if !skip("push") {
		rep.uptime("push planning")
		out, err := goRun("./scripts/bench/notify", "-n", fmt.Sprint(o.pushPatients), "-mysql", o.dsn, "-redis", o.redis)
		rep.child("Push planning (scripts/bench/notify)", out, err)
	}
	if !skip("embedded") {
		rep.uptime("embedded")
		r, err := embeddedStart()
		if err != nil {
			return err
		}
		rep.add(r)
	}
	rep.uptime("end")
	return rep.write(o.out)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// child is a server child that may also answer SIGUSR1 with its SQL statements.
type child struct {
	*harness.Child
	counts bool // answers SIGUSR1 with its SQL statements
}

func startChild(self string, args ...string) (*child, error) {
	c, err := harness.StartChild(self, args...)
	if err != nil {
		return nil, err
	}
	return &child{Child: c}, nil
}

// statements asks the server child for the SQL it ran since the last call
// (nil for a child that does not count them).
func (c *child) statements() []StmtStat {
	if !c.counts || c.Cmd.ProcessState != nil {
		return nil
	}
	if err := c.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return nil
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-c.Lines:
			if !ok {
				return nil
			}
			if b, ok := strings.CutPrefix(line, "stmts "); ok {
				var out []StmtStat
				_ = json.Unmarshal([]byte(b), &out)
				return out
			}
		case <-timeout:
			return nil
		}
	}
}

func rawBaselines(ctx context.Context, self, dsn string, o options, prefix, row string) ([]Result, error) {
	cmd := exec.CommandContext(ctx, self, "raw", "-dsn", dsn, "-redis", o.redis, "-prefix", prefix, "-workers", fmt.Sprint(o.workers),
		"-duration", o.duration.String(), "-row", row)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("raw baselines: %w", err)
	}
	var rs []Result
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r Result
		if err := dec.Decode(&r); err != nil {
			return nil, err
		}
		logf("%-44s %8.0f/s  p50 %7.2f ms  p99 %7.2f ms  errors %d", r.Name, r.RPS(), ms(r.P50), ms(r.P99), r.Errors)
		rs = append(rs, r)
	}
	return rs, nil
}

// loadRun runs one scenario from a load-generator child while watching the server's CPU and RSS.
func loadRun(self string, s LoadSpec, o options, srv *child) (Result, error) {
	if s.Workers == 0 {
		s.Workers = o.workers
	}
	if s.Duration == 0 {
		s.Duration, s.Warmup = o.duration, o.warmup
	}
	f, err := os.CreateTemp("", "bench-spec-*.json")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(s); err != nil {
		return Result{}, err
	}
	f.Close()
	cmd := exec.Command(self, "load", "-spec", f.Name())
	cmd.Stderr = os.Stderr
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	// Watch the measured part only: skip the warm-up.
	time.Sleep(s.Warmup)
	srv.statements() // the warm-up's, discarded
	w := watchProc(srv.Pid)
	err = cmd.Wait()
	cpu, peak := w.stop()
	stmts := srv.statements()
	if err != nil {
		return Result{}, fmt.Errorf("load %s: %w", s.Name, err)
	}
	var r Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return Result{}, fmt.Errorf("load %s: %w", s.Name, err)
	}
	r.CPU, r.PeakRSS, r.Stmts = cpu, peak, stmts
	logf("%-44s %8.0f/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  cpu %.2f  rss %.0f MiB", r.Name, r.RPS(), ms(r.P50), ms(r.P99), r.Errors, cpu, mib(peak))
	if r.FirstErr != "" {
		logf("  first error: %s", r.FirstErr)
	}
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mib(b int64) float64        { return float64(b) / (1 << 20) }

// goRun runs one of the older single-purpose benches and returns its stdout.
func goRun(pkg string, args ...string) (string, error) {
	cmd := exec.Command("go", append([]string{"run", pkg}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	return string(out), err
}

// loginSample logs each sample patient in through the (fake) WeChat login.
func loginSample(ctx context.Context, a *app.App, base string, h hospital) (map[string]string, error) {
	tokens, _, err := harness.LoginPatients(ctx, a.DB, base, "bench", h.sample)
	return tokens, err
}

// loginCMs signs each CM in to the desk and returns the session cookies by CM id.
func loginCMs(base string, h hospital) (map[string]string, error) {
	cookies := map[string]string{}
	for i, id := range h.cms {
		s, err := harness.StaffLogin(base, h.cmNames[i], cmPassword)
		if err != nil {
			return nil, err
		}
		cookies[id] = s.Cookie
	}
	return cookies, nil
}

func scenarios(h hospital, tokens, cookies map[string]string) []LoadSpec {
	pp := func(pid, rest string) string { return "/api/v1/patients/" + pid + rest }
	var me, authOnly, home, cmRead, report, trend []Op
	for _, pid := range h.sample {
		tok := tokens[pid]
		me = append(me, Op{Path: "/api/v1/me", Token: tok})
		authOnly = append(authOnly, Op{Path: authenticatedCeilingPath, Token: tok})
		// The mini-program's home screen (pages/home/home.js): one call.
		home = append(home, Op{Path: pp(pid, "/home"), Token: tok})
		cmRead = append(cmRead, Op{Path: pp(pid, "/observations?type=blood_pressure&limit=20"), Cookie: cookies[h.cmOf[pid]]})
		report = append(report, Op{Path: pp(pid, "/observations"), Token: tok, Reading: true})
	}
	for _, pid := range h.yearly {
		trend = append(trend, Op{Path: pp(pid, "/trends/blood_pressure?range=1y"), Token: tokens[pid]})
	}
	catch := Op{InOrder: true}
	for after := 0; after < 500; after += 200 {
		catch.Group = append(catch.Group, Op{Path: pp(h.catchup, fmt.Sprintf("/thread/messages?after=%d&limit=200", after)), Token: tokens[h.catchup]})
	}
	return []LoadSpec{
		{Name: ceilingAuthenticated, Ops: authOnly},
		{Name: "GET /api/v1/me", Ops: me},
		{Name: "patient home screen", Ops: home},
		{Name: "CM reads a patient's recent readings", Ops: cmRead},
		{Name: "report a reading", Ops: report},
		{Name: "a year's trend", Ops: trend},
		{Name: "catch-up of 500 missed messages", Ops: []Op{catch}},
	}
}

// sigtermUnderLoad opens sockets, drives /me, sends the server SIGTERM in
// the middle and counts: requests that failed (refused connections after
// the listener closed are counted apart: a proxy sends those elsewhere),
// the drain time, and the close codes the sockets saw.
func sigtermUnderLoad(self string, srv *child, base string, tokens map[string]string, h hospital, o options) (Result, error) {
	ctx := context.Background()
	n := min(50, len(h.sample))
	codes := make(chan websocket.StatusCode, n)
	for _, pid := range h.sample[:n] {
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws",
			&websocket.DialOptions{Subprotocols: []string{"carepath.v1", "bearer." + tokens[pid]}})
		if err != nil {
			return Result{}, fmt.Errorf("socket: %w", err)
		}
		go func() {
			for {
				if _, _, err := conn.Read(ctx); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
			}
		}()
	}
	var me []Op
	for _, pid := range h.sample {
		me = append(me, Op{Path: "/api/v1/me", Token: tokens[pid]})
	}
	spec := LoadSpec{Name: "SIGTERM under load (GET /me)", Base: base, Workers: o.workers, Duration: 6 * time.Second, Ops: me, StopOnRefused: true}
	type res struct {
		r   Result
		err error
	}
	done := make(chan res, 1)
	srv.counts = false // the signal would race the SIGTERM
	go func() { r, err := loadRun(self, spec, o, srv); done <- res{r, err} }()
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	_ = srv.Cmd.Process.Signal(syscall.SIGTERM)
	drained := ""
	for line := range srv.Lines {
		if d, ok := strings.CutPrefix(line, "drained "); ok {
			drained = d
		}
	}
	err := srv.Cmd.Wait()
	exit := time.Since(t0)
	got := <-done
	if got.err != nil {
		return Result{}, got.err
	}
	r := got.r
	closed1001 := 0
	other := map[string]int{}
	for i := 0; i < n; i++ {
		select {
		case c := <-codes:
			if c == websocket.StatusGoingAway {
				closed1001++
			} else {
				other[c.String()]++
			}
		case <-time.After(5 * time.Second):
			other["not closed"]++
		}
	}
	r.Extra["drained"] = drained
	r.Extra["exit_after_sigterm"] = exit.Round(time.Millisecond).String()
	r.Extra["exit_error"] = fmt.Sprint(err)
	r.Extra["sockets"] = n
	r.Extra["sockets_closed_1001"] = closed1001
	r.Extra["sockets_other"] = other
	logf("SIGTERM: drained %s, exit %s, %d errors, sockets 1001: %d/%d %v", drained, exit.Round(time.Millisecond), r.Errors, closed1001, n, other)
	return r, nil
}

// embeddedStart builds the real binary and measures the embedded default's
// cold start (empty data directory: migrate + demo seed) and warm start to
// /readyz 200, and the idle RSS after the warm start.
func embeddedStart() (Result, error) {
	dir, err := os.MkdirTemp("", "carepath-embedded-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "carepath")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/carepath").CombinedOutput(); err != nil {
		return Result{}, fmt.Errorf("build: %v: %s", err, out)
	}
	r := Result{Name: "embedded mode: start to ready, idle RSS", Extra: map[string]any{}}
	for _, run := range []string{"cold (empty data dir)", "warm (existing data)"} {
		port, err := harness.FreePort()
		if err != nil {
			return r, err
		}
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "CAREPATH_DATA_DIR="+filepath.Join(dir, "data"), "CAREPATH_HTTP_ADDR="+port, "CAREPATH_LOG_LEVEL=warn")
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return r, err
		}
		ready := time.Duration(0)
		for time.Since(t0) < 60*time.Second {
			resp, err := http.Get("http://" + port + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ready = time.Since(t0)
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		r.Extra[run] = ready.Round(time.Millisecond).String()
		if strings.HasPrefix(run, "warm") {
			time.Sleep(3 * time.Second)
			rss, _ := procRSS(cmd.Process.Pid)
			r.PeakRSS = rss
			r.Extra["idle_rss_mib"] = fmt.Sprintf("%.1f", mib(rss))
			r.P50 = ready
		} else {
			r.P99 = ready
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if ready == 0 {
			return r, errors.New("embedded server not ready in 60 s")
		}
	}
	logf("embedded: %v", r.Extra)
	return r, nil
}
