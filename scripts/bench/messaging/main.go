// Command messaging measures realtime delivery across two CarePath
// instances: N patient sockets spread over instances A and B, a case
// manager sending M messages per second through both, and for each message
// the time from the send request to its arrival on the patient's socket.
// It also reports the memory an idle authenticated socket costs each
// server: the instances run as child processes (this program with "serve"),
// so their VmRSS holds the server ends alone.
//
//	go run ./scripts/bench/messaging -n 6000 -rate 20 -duration 15s
//
// By default it uses the local MariaDB (a fresh database, dropped at the
// end) and Redis; -embedded uses SQLite and an in-process Redis instead.
// Everything runs on 127.0.0.1 and stops by itself.
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
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/cache"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/wx/fake"
	"github.com/carepath/carepath/scripts/internal/harness"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		err = runServe(os.Args[2:])
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	sockets  int
	rate     int
	duration time.Duration
	mysql    string
	redis    string
	embedded bool
	heap     string
}

func run() error {
	var o options
	flag.IntVar(&o.sockets, "n", 500, "patient sockets (each its own patient and thread), half on each instance")
	flag.IntVar(&o.rate, "rate", 100, "messages per second sent by the case manager")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "how long to send")
	flag.StringVar(&o.mysql, "mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB/MySQL server DSN (a bench database is created and dropped)")
	flag.StringVar(&o.redis, "redis", "127.0.0.1:6379", "Redis address")
	flag.BoolVar(&o.embedded, "embedded", false, "use SQLite and an in-process Redis instead")
	flag.StringVar(&o.heap, "heapprofile", "", "server children write heap profiles to <this>-<A|B>.<1|2> (before and after the sockets connect)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), o.duration+5*time.Minute)
	defer cancel()

	db, rdb, st, cleanup, err := openStores(ctx, o)
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
	cfg := benchConfig(dir)
	prefix := fmt.Sprintf("cpbench:%d:", time.Now().UnixNano())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// This process seeds and logs the patients in; the two instances under
	// test are child processes sharing the database, Redis and data directory.
	seeder, err := app.Build(ctx, cfg, quiet, app.Options{DB: db, Redis: rdb, RedisPrefix: prefix, WeChatBaseURL: f.URL()})
	if err != nil {
		return err
	}
	defer seeder.Close()
	defer func() {
		iter := rdb.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
		for iter.Next(context.Background()) {
			rdb.Del(context.Background(), iter.Val())
		}
	}()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var servers []string
	var children []*harness.Child
	for i := 0; i < 2; i++ {
		args := []string{"serve", "-driver", st.driver, "-dsn", st.dsn, "-redis", st.redis, "-prefix", prefix, "-data", dir, "-wechat", f.URL()}
		if o.heap != "" {
			args = append(args, "-heapprofile", fmt.Sprintf("%s-%c", o.heap, 'A'+i))
		}
		c, err := harness.StartChild(self, args...)
		if err != nil {
			return err
		}
		defer c.Stop()
		children, servers = append(children, c), append(servers, "http://"+c.Addr)
	}
	sum, _, err := seeder.SeedDemo(ctx, "bench-password")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "creating %d patients…\n", o.sockets)
	patients, tokens, err := makePatients(ctx, seeder, sum.HospitalID, sum.Departments["ORTHO"], sum.Staff["cm1"], o.sockets)
	if err != nil {
		return err
	}
	cm, err := staffLogin(servers[0])
	if err != nil {
		return err
	}
	// Warm each instance up (a login, one socket) before its baseline.
	for i, base := range servers {
		if _, err := staffLogin(base); err != nil {
			return err
		}
		ws, err := dial(ctx, base, tokens[i], patients[i])
		if err != nil {
			return fmt.Errorf("warm-up socket: %w", err)
		}
		ws.Close(websocket.StatusNormalClosure, "")
	}
	time.Sleep(time.Second)
	before := make([]serverMem, len(children))
	for i, c := range children {
		if before[i], err = measure(c); err != nil {
			return err
		}
	}

	var deliveries sync.Map // text -> chan time.Time (arrival)
	var delivered atomic.Int64
	fmt.Fprintf(os.Stderr, "connecting %d sockets…\n", o.sockets)
	conns := make([]*websocket.Conn, o.sockets)
	for i := range conns {
		ws, err := dial(ctx, servers[i%2], tokens[i], patients[i])
		if err != nil {
			return fmt.Errorf("socket %d: %w", i, err)
		}
		conns[i] = ws
	}
	time.Sleep(2 * time.Second)
	perSocket := make([]socketCost, len(children))
	for i, c := range children {
		after, err := measure(c)
		if err != nil {
			return err
		}
		perSocket[i] = cost(before[i], after)
	}
	load := loadAverage()
	for _, ws := range conns {
		go func(ws *websocket.Conn) {
			for {
				_, b, err := ws.Read(context.Background())
				if err != nil {
					return
				}
				at := time.Now()
				var ev struct {
					Type    string
					Message struct{ Text string }
				}
				if json.Unmarshal(b, &ev) == nil && ev.Type == "message" {
					if ch, ok := deliveries.Load(ev.Message.Text); ok {
						ch.(chan time.Time) <- at
						delivered.Add(1)
					}
				}
			}
		}(ws)
	}

	fmt.Fprintf(os.Stderr, "sending %d msg/s for %s…\n", o.rate, o.duration)
	var mu sync.Mutex
	// lags: arrival on the socket minus the send's response (negative when
	// the socket had it first), the fan-out's own delay beyond the commit.
	var latencies, sendTimes, lags []time.Duration
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	ticker := time.NewTicker(time.Second / time.Duration(o.rate))
	stop := time.After(o.duration)
	k := 0
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-ticker.C:
		}
		k++
		i := rand.IntN(o.sockets)
		text := fmt.Sprintf("bench %d", k)
		arrival := make(chan time.Time, 1)
		deliveries.Store(text, arrival)
		sem <- struct{}{}
		wg.Add(1)
		go func(k, i int) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			err := send(servers[k%2], cm, patients[i], fmt.Sprintf("bench-%d", k), text)
			t1 := time.Now()
			if err != nil {
				failed.Add(1)
				return
			}
			sent.Add(1)
			select {
			case at := <-arrival:
				mu.Lock()
				latencies, sendTimes = append(latencies, at.Sub(t0)), append(sendTimes, t1.Sub(t0))
				lags = append(lags, at.Sub(t1))
				mu.Unlock()
			case <-time.After(10 * time.Second):
			}
		}(k, i)
	}
	ticker.Stop()
	wg.Wait()
	for _, ws := range conns {
		ws.Close(websocket.StatusNormalClosure, "")
	}
	backend := "MariaDB + Redis (127.0.0.1)"
	if o.embedded {
		backend = "SQLite + in-process Redis"
	}
	fmt.Printf("| backend | instances | sockets | rate (msg/s) | sent | delivered | failed sends | send p50 | send p99 | delivery p50 | delivery p99 | delivery p99 / send p50 | arrival − send response p50 | p99 |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %s | 2 | %d | %d | %d | %d | %d | %s | %s | %s | %s | %.1f× | %s | %s |\n",
		backend, o.sockets, o.rate, sent.Load(), delivered.Load(), failed.Load(),
		pct(sendTimes, 50), pct(sendTimes, 99), pct(latencies, 50), pct(latencies, 99),
		float64(pctD(latencies, 99))/float64(max(pctD(sendTimes, 50), 1)), pct(lags, 50), pct(lags, 99))
	fmt.Printf("\nServer memory per idle authenticated socket (each instance a process of its own; load average %s):\n\n", load)
	fmt.Printf("| instance | sockets | RSS before | RSS after | RSS per socket | Go heap per socket | Go stacks per socket | goroutines per socket |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|\n")
	for i, c := range perSocket {
		fmt.Printf("| %c | %d | %.1f MiB | %.1f MiB | %.1f KiB | %.1f KiB | %.1f KiB | %.2f |\n", 'A'+i, c.sockets,
			float64(c.rssBefore)/(1<<20), float64(c.rssAfter)/(1<<20), c.rss/1024, c.heap/1024, c.stack/1024, c.goroutines)
	}
	return nil
}

// stores names the database and Redis for the server children.
type stores struct{ driver, dsn, redis string }

func openStores(ctx context.Context, o options) (*gorm.DB, redis.UniversalClient, stores, func(), error) {
	if o.embedded {
		dir, err := os.MkdirTemp("", "carepath-bench-db-")
		if err != nil {
			return nil, nil, stores{}, nil, err
		}
		db, err := database.Open(ctx, database.Options{Driver: "sqlite", DSN: filepath.Join(dir, "bench.db")})
		if err != nil {
			return nil, nil, stores{}, nil, err
		}
		mr, err := cache.StartEmbedded()
		if err != nil {
			return nil, nil, stores{}, nil, err
		}
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 64})
		st := stores{driver: "sqlite", dsn: filepath.Join(dir, "bench.db"), redis: mr.Addr()}
		return db, rdb, st, func() { rdb.Close(); mr.Close(); os.RemoveAll(dir) }, nil
	}
	name := fmt.Sprintf("carepath_bench_%d", time.Now().UnixNano())
	admin, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: o.mysql, MaxOpenConns: 2, MaxIdleConns: 1})
	if err != nil {
		return nil, nil, stores{}, nil, err
	}
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		return nil, nil, stores{}, nil, err
	}
	dsn := strings.TrimSuffix(o.mysql, "/") + "/" + name
	if i := strings.Index(o.mysql, "/"); i >= 0 {
		dsn = o.mysql[:i] + "/" + name
	}
	db, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: 40, MaxIdleConns: 40, ConnMaxLifetime: time.Hour})
	if err != nil {
		return nil, nil, stores{}, nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: o.redis, PoolSize: 64})
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, nil, stores{}, nil, err
	}
	return db, rdb, stores{driver: "mysql", dsn: dsn, redis: o.redis}, func() {
		rdb.Close()
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		admin.Exec("DROP DATABASE " + name)
	}, nil
}

// makePatients registers n patients of cm1, each logged in to WeChat.
func makePatients(ctx context.Context, a *app.App, hospitalID, deptID, cmID string, n int) ([]string, []string, error) {
	ids, tokens := make([]string, n), make([]string, n)
	for i := 0; i < n; i++ {
		tok, u, _, err := a.Auth.WeChatLogin(ctx, fmt.Sprintf("test-bench%d", i), auth.Client{IP: "127.0.0.1"})
		if err != nil {
			return nil, nil, err
		}
		p, err := a.Patients.Register(ctx, patient.NewPatient{HospitalID: hospitalID, DepartmentID: deptID,
			Name: fmt.Sprintf("压测患者%d", i), AssignedCMID: cmID, UserID: u.ID})
		if err != nil {
			return nil, nil, err
		}
		ids[i], tokens[i] = p.ID, tok.AccessToken
	}
	return ids, tokens, nil
}

type session struct{ cookie, csrf string }

func staffLogin(base string) (session, error) {
	b, _ := json.Marshal(map[string]string{"username": "cm1", "password": "bench-password"})
	resp, err := http.Post(base+"/api/v1/auth/staff/login", "application/json", bytes.NewReader(b))
	if err != nil {
		return session{}, err
	}
	defer resp.Body.Close()
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	for _, c := range resp.Cookies() {
		if c.Name == "carepath_session" {
			return session{cookie: c.Value, csrf: body.CSRF}, nil
		}
	}
	return session{}, fmt.Errorf("staff login: %s", resp.Status)
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 10 * time.Second}

func send(base string, s session, patientID, clientID, text string) error {
	b, _ := json.Marshal(map[string]string{"client_msg_id": clientID, "text": text})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/patients/"+patientID+"/thread/messages", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.AddCookie(&http.Cookie{Name: "carepath_session", Value: s.cookie})
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return errors.New(resp.Status)
	}
	return nil
}

func dial(ctx context.Context, base, token, patientID string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{"carepath.v1", "bearer." + token}})
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(map[string]any{"type": "subscribe", "patient_id": patientID})
	if err := ws.Write(dctx, websocket.MessageText, b); err != nil {
		return nil, err
	}
	for i := 0; i < 2; i++ { // hello, subscribed
		if _, _, err := ws.Read(dctx); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// benchConfig is the configuration this process and its server children share.
func benchConfig(dataDir string) config.Config {
	cfg := config.Defaults()
	cfg.DataDir = dataDir
	cfg.Auth.AccessTTL = time.Hour
	// One case manager sends 20+ messages a second from one address: the
	// abuse limits (30 a minute) would refuse most of them.
	harness.RaiseAbuseLimits(&cfg.Limits)
	return cfg
}

// serverMem is one server child's memory at a moment.
type serverMem struct {
	rss uint64 // VmRSS, bytes
	memStats
}

// measure asks a server child for its Go memory figures (it collects
// garbage first) and then reads its VmRSS.
func measure(c *harness.Child) (serverMem, error) {
	if err := syscall.Kill(c.Pid, syscall.SIGUSR1); err != nil {
		return serverMem{}, err
	}
	var m serverMem
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-c.Lines:
			if !ok {
				return m, errors.New("server child exited")
			}
			js, found := strings.CutPrefix(line, "mem ")
			if !found {
				continue
			}
			if err := json.Unmarshal([]byte(js), &m.memStats); err != nil {
				return m, err
			}
			rss, err := vmRSS(c.Pid)
			m.rss = rss
			return m, err
		case <-timeout:
			return m, errors.New("server child did not report its memory")
		}
	}
}

func vmRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// socketCost is one instance's growth from its idle baseline to N idle sockets, per socket.
type socketCost struct {
	sockets                      int
	rssBefore, rssAfter          uint64
	rss, heap, stack, goroutines float64
}

func cost(before, after serverMem) socketCost {
	n := float64(max(after.Sockets-before.Sockets, 1))
	d := func(a, b uint64) float64 { return (float64(a) - float64(b)) / n }
	return socketCost{sockets: after.Sockets - before.Sockets, rssBefore: before.rss, rssAfter: after.rss,
		rss: d(after.rss, before.rss), heap: d(after.HeapInuse, before.HeapInuse), stack: d(after.StackInuse, before.StackInuse),
		goroutines: float64(after.Goroutines-before.Goroutines) / n}
}

// loadAverage is the first three fields of /proc/loadavg (what uptime shows).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

func pctD(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

func pct(ds []time.Duration, p int) string {
	return pctD(ds, p).Round(10 * time.Microsecond).String()
}
