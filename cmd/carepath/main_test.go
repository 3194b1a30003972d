package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests call run as main does. They must not use t.Parallel: each
// serve starts its own fake WeChat and points silenceper's process-wide URI
// rewrite at it, which is only right while serves run one after another.

// waitTimeout bounds every wait; generous because it is only reached on failure.
const waitTimeout = 90 * time.Second

func TestRunRefusesToStart(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    []string // substrings of the error
		oneLine bool
	}{
		{
			name: "unreachable MySQL", args: []string{"migrate"},
			environ: []string{"CAREPATH_DATABASE_DRIVER=mysql", "CAREPATH_DATABASE_DSN=root@tcp(127.0.0.1:1)/x", "CAREPATH_REDIS_ADDRS=127.0.0.1:1"},
			want:    []string{"mysql", "127.0.0.1:1"}, oneLine: true,
		},
		{
			name: "unreachable Redis", args: []string{"migrate"},
			environ: []string{"CAREPATH_REDIS_ADDRS=127.0.0.1:1"},
			want:    []string{"Redis", "127.0.0.1:1"}, oneLine: true,
		},
		{name: "no command", args: nil, want: []string{"no command"}},
		{name: "unknown command", args: []string{"frobnicate"}, want: []string{`"frobnicate"`}},
		{name: "seed without --demo", args: []string{"seed"}, want: []string{"--demo"}},
		{name: "unknown flag", args: []string{"serve", "--verbose"}, want: []string{"verbose"}},
		{
			name: "unknown variable", args: []string{"migrate"},
			environ: []string{"CAREPATH_HTTP_ADRR=:9090"},
			want:    []string{"CAREPATH_HTTP_ADRR"}, oneLine: true,
		},
		{
			name: "production with fake WeChat", args: []string{"serve"},
			environ: []string{"CAREPATH_ENV=production", "CAREPATH_WECHAT_FAKE=true"},
			want:    []string{"fake"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			environ := append([]string{"CAREPATH_DATA_DIR=" + t.TempDir()}, tt.environ...)
			var stdout, stderr syncBuffer
			err := run(ctx, tt.args, environ, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) = nil, want an error mentioning %q\nstdout:\n%s", tt.args, tt.want, stdout.String())
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("run(%q) error %q does not mention %q", tt.args, err, want)
				}
			}
			if tt.oneLine && strings.Contains(err.Error(), "\n") {
				t.Errorf("run(%q) error spans lines, want one:\n%s", tt.args, err)
			}
		})
	}
}

func TestMigrateThenSeed(t *testing.T) {
	environ := []string{"CAREPATH_DATA_DIR=" + t.TempDir(), "CAREPATH_DEMO_PASSWORD=Seed-Password-2026"}
	steps := []struct {
		args       []string
		wantErr    string // "" means success
		wantStdout string
	}{
		{args: []string{"migrate"}, wantStdout: "schema is up to date"},
		{args: []string{"migrate"}, wantStdout: "schema is up to date"},
		{args: []string{"seed", "--demo"}, wantStdout: "demo data loaded: 4 staff"},
		{args: []string{"seed", "--demo"}, wantErr: "seed demo data"},
		// The demo is written sealed: reseal finds nothing in the clear.
		{args: []string{"reseal"}, wantStdout: "sealed: 0 messages, 0 follow-ups, 0 questionnaire answers, 0 reading notes, 0 alert notes, 0 appointment reasons, 0 plan reasons, 0 deactivation reasons"},
	}
	for _, st := range steps {
		var stdout, stderr syncBuffer
		err := run(context.Background(), st.args, environ, &stdout, &stderr)
		switch {
		case st.wantErr == "" && err != nil:
			t.Fatalf("run(%q): %v\nstderr:\n%s", st.args, err, stderr.String())
		case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
			t.Fatalf("run(%q) error %v, want one mentioning %q", st.args, err, st.wantErr)
		}
		if got := stdout.String(); !strings.Contains(got, st.wantStdout) {
			t.Errorf("run(%q) stdout %q, want it to contain %q", st.args, got, st.wantStdout)
		}
		if got := stdout.String(); strings.Contains(got, "Seed-Password-2026") {
			t.Errorf("run(%q) printed the configured demo password: %q", st.args, got)
		}
	}
}

// TestServeEmbedded runs the one-command default twice on the same data
// directory: the first run migrates, seeds and prints the generated staff
// password once; the second reuses the data and the dev secrets, so
// sessions from the first run stay valid.
func TestServeEmbedded(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"CAREPATH_DATA_DIR=" + dir, "CAREPATH_HTTP_ADDR=127.0.0.1:0"}

	first := startServe(t, environ)
	if got, want := strings.Count(first.stdout.String(), "demo data loaded"), 1; got != want {
		t.Errorf("first run: %q printed %d times, want %d\nstdout:\n%s", "demo data loaded", got, want, first.stdout.String())
	}
	password := printedPassword(t, first.stdout.String())

	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := first.do(t, http.MethodGet, path, "", nil); status != http.StatusOK {
			t.Errorf("GET %s: status %d, want %d; body %s", path, status, http.StatusOK, body)
		}
	}
	tokens := first.wechatLogin(t, "test-patient1")
	first.wantPatient(t, tokens.AccessToken, "张建国")
	first.staffLogin(t, "cm1", password, http.StatusOK)
	if err := first.stop(); err != nil {
		t.Fatalf("first run: run returned %v after cancel, want nil", err)
	}

	second := startServe(t, environ)
	if got := second.stdout.String(); strings.Contains(got, "demo data loaded") || strings.Contains(got, "demo staff password") {
		t.Errorf("second run seeded again; stdout:\n%s", got)
	}
	// The access token is signed with the secret kept in dev-secrets.json.
	second.wantPatient(t, tokens.AccessToken, "张建国")
	status, body := second.do(t, http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tokens.RefreshToken})
	if status != http.StatusOK {
		t.Fatalf("refresh with the first run's token: status %d, want %d; body %s", status, http.StatusOK, body)
	}
	var refreshed tokenResponse
	decode(t, body, &refreshed)
	second.wantPatient(t, refreshed.AccessToken, "张建国")
	second.staffLogin(t, "cm1", password, http.StatusOK)
	if err := second.stop(); err != nil {
		t.Fatalf("second run: run returned %v after cancel, want nil", err)
	}
}

func TestServeDemoPasswordFromEnvironment(t *testing.T) {
	const password = "Correct-Horse-Battery-42"
	s := startServe(t, []string{"CAREPATH_DATA_DIR=" + t.TempDir(), "CAREPATH_HTTP_ADDR=127.0.0.1:0", "CAREPATH_DEMO_PASSWORD=" + password})
	out := s.stdout.String()
	if !strings.Contains(out, "demo data loaded") {
		t.Errorf("stdout does not report the demo data:\n%s", out)
	}
	if strings.Contains(out, password) || strings.Contains(out, "demo staff password") {
		t.Errorf("stdout shows a password although CAREPATH_DEMO_PASSWORD chose it:\n%s", out)
	}
	if strings.Contains(s.stderr.String(), password) {
		t.Errorf("the logs contain the demo password")
	}
	tests := []struct {
		username, password string
		want               int
	}{
		{"cm1", password, http.StatusOK},
		{"cm2", password, http.StatusOK},
		{"cm1", password + "x", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		s.staffLogin(t, tt.username, tt.password, tt.want)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run returned %v after cancel, want nil", err)
	}
}

// TestServeFinishesInFlightRequest holds a login request open in its
// handler (Expect: 100-continue tells when the handler reads the body),
// cancels run, waits until the listener is closed, then sends the body:
// the request must still be answered and run must return nil.
func TestServeFinishesInFlightRequest(t *testing.T) {
	s := startServe(t, []string{"CAREPATH_DATA_DIR=" + t.TempDir(), "CAREPATH_HTTP_ADDR=127.0.0.1:0"})
	u, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	body := `{"code":"test-patient2"}`
	fmt.Fprintf(conn, "POST /api/v1/auth/wechat/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", u.Host, len(body))
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read interim response: %v", err)
	}
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("interim status %d, want %d (the handler should be reading the body)", resp.StatusCode, http.StatusContinue)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	waitUntilRefused(t, u.Host)

	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("send body: %v", err)
	}
	resp, err = http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read response of the in-flight request: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("in-flight request: status %d, want %d; body %s", resp.StatusCode, http.StatusOK, got)
	} else {
		var tok tokenResponse
		decode(t, got, &tok)
		if tok.AccessToken == "" {
			t.Errorf("in-flight login answered without an access token: %s", got)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("run returned %v after cancel, want nil", err)
	}
}

// waitUntilRefused polls until nothing accepts connections on addr, which
// is when http.Server.Shutdown has closed the listener.
func waitUntilRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections %v after cancel", addr, waitTimeout)
}

// served is one run(ctx, ["serve"], ...) in a goroutine.
type served struct {
	base           string // http://127.0.0.1:PORT
	stdout, stderr *syncBuffer
	client         *http.Client
	cancel         context.CancelFunc
	done           chan error
	stopOnce       sync.Once
	stopErr        error
}

var apiLine = regexp.MustCompile(`(?m)^\s+API:\s+(http://\S+)/api/v1$`)

// startServe runs serve and waits for its banner. The server is stopped
// when the test ends if the test did not stop it.
func startServe(t *testing.T, environ []string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1),
		client: &http.Client{Timeout: 30 * time.Second}}
	go func() { s.done <- run(ctx, []string{"serve"}, environ, s.stdout, s.stderr) }()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve stdout:\n%s\nserve stderr:\n%s", s.stdout.String(), s.stderr.String())
		}
	})
	deadline := time.After(waitTimeout)
	for !strings.Contains(s.stdout.String(), "Admin:") {
		select {
		case err := <-s.done:
			s.done <- err // let stop see it too
			t.Fatalf("serve returned %v before printing its addresses", err)
		case <-deadline:
			t.Fatalf("serve printed no Admin: line within %v", waitTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
	m := apiLine.FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no API: line in stdout:\n%s", s.stdout.String())
	}
	s.base = m[1]
	return s
}

// stop cancels serve and waits for run to return; it reports run's error.
func (s *served) stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case s.stopErr = <-s.done:
		case <-time.After(waitTimeout):
			s.stopErr = fmt.Errorf("run did not return within %v of cancel", waitTimeout)
		}
		s.client.CloseIdleConnections()
	})
	return s.stopErr
}

func (s *served) do(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (s *served) wechatLogin(t *testing.T, code string) tokenResponse {
	t.Helper()
	status, body := s.do(t, http.MethodPost, "/api/v1/auth/wechat/login", "", map[string]string{"code": code})
	if status != http.StatusOK {
		t.Fatalf("WeChat login %s: status %d, want %d; body %s", code, status, http.StatusOK, body)
	}
	var tok tokenResponse
	decode(t, body, &tok)
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("WeChat login %s: no tokens in %s", code, body)
	}
	return tok
}

func (s *served) wantPatient(t *testing.T, accessToken, name string) {
	t.Helper()
	status, body := s.do(t, http.MethodGet, "/api/v1/me", accessToken, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /me: status %d, want %d; body %s", status, http.StatusOK, body)
	}
	var me struct {
		Patient *struct {
			Name string `json:"name"`
		} `json:"patient"`
	}
	decode(t, body, &me)
	if me.Patient == nil {
		t.Fatalf("GET /me: no patient in %s", body)
	}
	if got := me.Patient.Name; got != name {
		t.Errorf("GET /me: patient name %q, want %q", got, name)
	}
}

func (s *served) staffLogin(t *testing.T, username, password string, want int) {
	t.Helper()
	status, body := s.do(t, http.MethodPost, "/api/v1/auth/staff/login", "", map[string]string{"username": username, "password": password})
	if status != want {
		t.Errorf("staff login %s: status %d, want %d; body %s", username, status, want, body)
		return
	}
	if want != http.StatusOK {
		return
	}
	var resp struct {
		Staff struct {
			Username string `json:"username"`
		} `json:"staff"`
	}
	decode(t, body, &resp)
	if got := resp.Staff.Username; got != username {
		t.Errorf("staff login %s: logged in as %q", username, got)
	}
}

var passwordLine = regexp.MustCompile(`(?m)^demo staff password \(shown once[^)]*\): (\S+)$`)

func printedPassword(t *testing.T, stdout string) string {
	t.Helper()
	all := passwordLine.FindAllStringSubmatch(stdout, -1)
	if got, want := len(all), 1; got != want {
		t.Fatalf("demo staff password printed %d times, want %d; stdout:\n%s", got, want, stdout)
	}
	return all[0][1]
}

func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// syncBuffer is a bytes.Buffer that run's goroutines and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
