// Package apitest drives the real HTTP engine in tests: a fresh database
// and Redis (SQLite and miniredis, or MariaDB and Redis in CI), a fake WeChat
// server of its own, the demo hospital, a clock the test controls, and a
// check of every response against api/openapi.yaml.
//
// Each Env points silenceper's process-wide WeChat base URL at its own fake,
// so tests using Env must not run in parallel.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/api"
	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/demo"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/wx/fake"
)

// Password is the demo staff password in tests.
const Password = "demo-password-for-tests"

// Clock is a settable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Env is one running app under test.
type Env struct {
	t      testing.TB
	App    *app.App
	Fake   *fake.Server
	Demo   demo.Summary
	Clock  *Clock
	router routers.Router
	codes  int
	logs   *logBuffer
	build  func(db *gorm.DB) *Env
}

// logBuffer collects the app's log lines, so tests can check what is (and
// is never) logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Logs returns everything the app has logged so far (JSON lines).
func (e *Env) Logs() string {
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	return e.logs.buf.String()
}

// New builds the app over a fresh database with the demo hospital loaded.
// Each configure function may change the settings first (e.g. a push token).
func New(t testing.TB, configure ...func(*config.Config)) *Env {
	t.Helper()
	db := dbtest.New(t)
	rdb, prefix := dbtest.Redis(t)
	f, err := fake.New()
	if err != nil {
		t.Fatalf("start fake WeChat: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	// Every test request comes from one IP and many tests log in often: the
	// abuse limits are raised far out of reach unless a test sets its own.
	l := &cfg.Limits
	l.StaffLoginPerIP, l.WeChatLoginPerIP, l.RefreshPerIP = 100000, 100000, 100000
	l.MessagesPerUser, l.MessagesPerIP, l.UploadsPerUser, l.InvitationsPerUser = 100000, 100000, 100000, 100000
	for _, f := range configure {
		f(&cfg)
	}
	clock := &Clock{now: time.Now().UTC().Truncate(time.Second)}
	// build starts an instance of the app over this test's database, Redis and
	// fake WeChat, as production runs several behind a proxy.
	var build func(db *gorm.DB) *Env
	build = func(db *gorm.DB) *Env {
		logs := &logBuffer{}
		a, err := app.Build(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), app.Options{
			DB: db, Redis: rdb, RedisPrefix: prefix, WeChatBaseURL: f.URL(), Now: clock.Now,
		})
		if err != nil {
			t.Fatalf("build app: %v", err)
		}
		t.Cleanup(a.Close)
		return &Env{t: t, App: a, Fake: f, Clock: clock, router: contractRouter(t), logs: logs, build: build}
	}
	e := build(db)
	sum, _, err := e.App.SeedDemo(context.Background(), Password)
	if err != nil {
		t.Fatalf("seed demo: %v", err)
	}
	e.Demo = sum
	return e
}

// SecondInstance starts another instance of the app over this one's
// database (through connections of its own, as another process would),
// Redis and fake WeChat (the demo data is already there).
func (e *Env) SecondInstance() *Env {
	e.t.Helper()
	other := e.build(dbtest.Reopen(e.t, e.App.DB))
	other.Demo = e.Demo
	return other
}

var contract struct {
	once   sync.Once
	router routers.Router
	err    error
}

func contractRouter(t testing.TB) routers.Router {
	contract.once.Do(func() {
		for _, ct := range []string{"text/html", "text/css", "application/javascript", "application/yaml", "text/calendar"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(api.Spec)
		if err != nil {
			contract.err = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contract.err = err
			return
		}
		contract.router, contract.err = gorillamux.NewRouter(doc)
	})
	if contract.err != nil {
		t.Fatalf("api/openapi.yaml: %v", contract.err)
	}
	return contract.router
}

// Request is one call.
type Request struct {
	Method  string
	Path    string // with query string
	Body    any    // marshalled to JSON unless it is a string or url.Values
	Token   string // bearer access token
	Cookie  string // staff session cookie value
	CSRF    string
	Headers map[string]string
	// RemoteAddr is the TCP peer, "ip:port" (default httptest's 192.0.2.1:1234).
	RemoteAddr string
}

// Response is what came back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode response %d %s: %v", r.Status, r.Body, err)
	}
}

// ErrorCode returns the API error code of the body, "" when it is no error body.
func (r Response) ErrorCode() string {
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &body)
	return body.Error.Code
}

// Cookie returns the value of a cookie the response set.
func (r Response) Cookie(name string) string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// Do sends req to the engine and checks the response against the contract:
// a route missing from api/openapi.yaml or a body that drifts from it fails the test.
func (e *Env) Do(req Request) Response {
	e.t.Helper()
	var body io.Reader
	contentType := ""
	switch b := req.Body.(type) {
	case nil:
	case string:
		body, contentType = strings.NewReader(b), "application/json"
	case url.Values:
		body, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal request: %v", err)
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	var reqBody []byte
	if body != nil {
		reqBody, _ = io.ReadAll(body)
	}
	httpReq := httptest.NewRequest(req.Method, "http://carepath.test"+req.Path, bytes.NewReader(reqBody))
	if contentType != "" {
		httpReq.Header.Set("Content-Type", contentType)
	}
	if req.Token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+req.Token)
	}
	if req.Cookie != "" {
		httpReq.AddCookie(&http.Cookie{Name: "carepath_session", Value: req.Cookie})
	}
	if req.CSRF != "" {
		httpReq.Header.Set("X-CSRF-Token", req.CSRF)
	}
	for k, v := range req.Headers {
		httpReq.Header.Set(k, v)
	}
	if req.RemoteAddr != "" {
		httpReq.RemoteAddr = req.RemoteAddr
	}
	rec := httptest.NewRecorder()
	e.App.Engine.ServeHTTP(rec, httpReq)
	resp := Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	e.checkContract(httpReq, reqBody, resp)
	return resp
}

func (e *Env) checkContract(req *http.Request, reqBody []byte, resp Response) {
	e.t.Helper()
	if resp.Status == http.StatusNotFound && resp.ErrorCode() == "route_not_found" {
		return // an unknown path is not a route of the contract
	}
	req = req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		e.t.Fatalf("contract: %s %s is not in api/openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	if (resp.Status == http.StatusServiceUnavailable || resp.Status == http.StatusInternalServerError) &&
		route.Operation.Responses.Status(resp.Status) == nil {
		// Any route may answer 500 or 503 with the Error body (api/openapi.yaml says so in its description).
		var body any
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			e.t.Fatalf("contract: %d body of %s %s is not JSON: %s", resp.Status, req.Method, route.Path, resp.Body)
		}
		if err := route.Spec.Components.Schemas["Error"].Value.VisitJSON(body); err != nil {
			e.t.Fatalf("contract: %d body of %s %s is not an Error: %v", resp.Status, req.Method, route.Path, err)
		}
		return
	}
	input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input, Status: resp.Status, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(resp.Body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		e.t.Fatalf("contract: response of %s %s (%d) does not match api/openapi.yaml: %v\nbody: %s",
			req.Method, route.Path, resp.Status, err, truncate(resp.Body))
	}
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Tokens is a login's token pair.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	UserID       string `json:"user_id"`
	NewUser      bool   `json:"new_user"`
}

// LoginWeChat logs in as the fake WeChat user <name> (openid
// fake-openid-<name>), with a fresh code each time.
func (e *Env) LoginWeChat(name string) Tokens {
	e.t.Helper()
	e.codes++
	code := fmt.Sprintf("test-%s~%d", name, e.codes)
	resp := e.Do(Request{Method: http.MethodPost, Path: "/api/v1/auth/wechat/login", Body: map[string]string{"code": code}})
	if resp.Status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, resp.Status, resp.Body)
	}
	var tok Tokens
	resp.JSON(e.t, &tok)
	return tok
}

// StaffSession is a logged-in staff member's cookie and CSRF token.
type StaffSession struct {
	Cookie string
	CSRF   string
}

// LoginStaff logs in a demo staff member.
func (e *Env) LoginStaff(username string) StaffSession {
	e.t.Helper()
	resp := e.Do(Request{Method: http.MethodPost, Path: "/api/v1/auth/staff/login", Body: map[string]string{"username": username, "password": Password}})
	if resp.Status != http.StatusOK {
		e.t.Fatalf("staff login %s: %d %s", username, resp.Status, resp.Body)
	}
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	resp.JSON(e.t, &body)
	return StaffSession{Cookie: resp.Cookie("carepath_session"), CSRF: body.CSRF}
}

// DeliverEvents hands every pending outbox event to the worker's handler for
// its topic, in this process, as the relay and the worker would, and marks it
// dispatched. It returns the topics delivered, in order. Events no handler
// subscribes to are marked dispatched too.
func (e *Env) DeliverEvents() []string {
	e.t.Helper()
	ctx := context.Background()
	var events []outbox.Event
	if err := e.App.DB.Where("dispatched_at IS NULL").Order("id").Find(&events).Error; err != nil {
		e.t.Fatalf("read outbox: %v", err)
	}
	handlers := e.App.Handlers()
	var topics []string
	for _, ev := range events {
		if h, ok := handlers[ev.Topic]; ok {
			if err := h(ctx, asynq.NewTask(ev.Topic, ev.Payload)); err != nil {
				e.t.Fatalf("handle %s: %v", ev.Topic, err)
			}
		}
		topics = append(topics, ev.Topic)
		if err := e.App.DB.Model(&outbox.Event{}).Where("id = ?", ev.ID).Update("dispatched_at", e.Clock.Now().UTC()).Error; err != nil {
			e.t.Fatalf("mark dispatched: %v", err)
		}
	}
	return topics
}

// FlushAudit writes the audit events still queued in the app's batch, for a
// test that reads the audit_events table directly (the access log flushes by itself).
func (e *Env) FlushAudit() {
	e.t.Helper()
	if err := e.App.Audit.Flush(context.Background()); err != nil {
		e.t.Fatalf("flush audit events: %v", err)
	}
}

// WaitFor polls cond until it holds or ten seconds pass: pub/sub hops are
// asynchronous, and a test asserts they happen, not how fast.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
