package messaging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/coder/websocket"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/wx/fake"
)

// instance is one running server of a cluster under test.
type instance struct {
	app *app.App
	srv *httptest.Server
}

// cluster builds n apps over one database and one Redis, as production runs
// several instances behind a proxy, each served by a real HTTP server.
func cluster(t *testing.T, n int) ([]instance, map[string]string) {
	t.Helper()
	rdb, prefix := dbtest.Redis(t)
	return clusterOn(t, n, rdb, prefix)
}

// clusterOn is cluster over a Redis the test holds (to stop it).
func clusterOn(t *testing.T, n int, rdb redis.UniversalClient, prefix string) ([]instance, map[string]string) {
	t.Helper()
	return clusterTuned(t, n, rdb, prefix, nil)
}

// clusterTuned is clusterOn with tune applied to the instances' configuration.
func clusterTuned(t *testing.T, n int, rdb redis.UniversalClient, prefix string, tune func(*config.Config)) ([]instance, map[string]string) {
	t.Helper()
	db := dbtest.New(t)
	f, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir() // shared: every instance reads the same dev secrets
	cfg.Messaging.AccessRecheck = 0
	if tune != nil {
		tune(&cfg)
	}
	var out []instance
	for i := 0; i < n; i++ {
		a, err := app.Build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)),
			app.Options{DB: db, Redis: rdb, RedisPrefix: prefix, WeChatBaseURL: f.URL()})
		if err != nil {
			t.Fatalf("build instance %d: %v", i, err)
		}
		srv := httptest.NewServer(a.Engine)
		t.Cleanup(func() { srv.Close(); a.Close() })
		out = append(out, instance{app: a, srv: srv})
	}
	sum, _, err := out[0].app.SeedDemo(context.Background(), apitest.Password)
	if err != nil {
		t.Fatal(err)
	}
	clearThreads(t, db)
	return out, sum.Patients
}

var logins int

func (in instance) call(t *testing.T, method, path string, w who, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.srv.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	if w.staff.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: "carepath_session", Value: w.staff.Cookie})
		req.Header.Set("X-CSRF-Token", w.staff.CSRF)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if method == http.MethodPost && strings.HasSuffix(path, "/login") {
		for _, c := range resp.Cookies() {
			if c.Name == "carepath_session" {
				var s struct {
					CSRF string `json:"csrf_token"`
				}
				json.Unmarshal(b, &s)
				return resp.StatusCode, []byte(c.Value + "\n" + s.CSRF)
			}
		}
	}
	return resp.StatusCode, b
}

func (in instance) user(t *testing.T, name string) who {
	logins++
	status, b := in.call(t, http.MethodPost, "/api/v1/auth/wechat/login", who{}, map[string]string{"code": fmt.Sprintf("test-%s~rt%d", name, logins)})
	if status != http.StatusOK {
		t.Fatalf("login %s: %d %s", name, status, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(b, &tok)
	return who{token: tok.AccessToken}
}

func (in instance) staffLogin(t *testing.T, name string) who {
	status, b := in.call(t, http.MethodPost, "/api/v1/auth/staff/login", who{}, map[string]string{"username": name, "password": apitest.Password})
	parts := strings.SplitN(string(b), "\n", 2)
	if status != http.StatusOK || len(parts) != 2 {
		t.Fatalf("staff login %s: %d %s", name, status, b)
	}
	return who{staff: apitest.StaffSession{Cookie: parts[0], CSRF: parts[1]}}
}

func (in instance) send(t *testing.T, w who, patientID, id, text string) messaging.MessageView {
	t.Helper()
	status, b := in.call(t, http.MethodPost, threadPath(patientID)+"/messages", w, map[string]string{"client_msg_id": id, "text": text})
	if status != http.StatusCreated {
		t.Fatalf("send %q: %d %s", text, status, b)
	}
	var m messaging.MessageView
	json.Unmarshal(b, &m)
	return m
}

// socket is a client connection.
type socket struct {
	t  *testing.T
	ws *websocket.Conn
}

func (in instance) dial(t *testing.T, w who) (*socket, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{Subprotocols: []string{"carepath.v1"}}
	if w.token != "" {
		opts.Subprotocols = append(opts.Subprotocols, "bearer."+w.token)
	}
	if w.staff.Cookie != "" {
		opts.HTTPHeader = http.Header{"Cookie": {"carepath_session=" + w.staff.Cookie}, "Origin": {in.srv.URL}}
	}
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.srv.URL, "http")+"/api/v1/ws", opts)
	if err != nil {
		return nil, resp, err
	}
	s := &socket{t: t, ws: ws}
	t.Cleanup(func() { ws.CloseNow() })
	if ev := s.next(); ev.Type != messaging.EventHello {
		t.Fatalf("first frame = %+v, want hello", ev)
	}
	return s, resp, nil
}

func (s *socket) sendFrame(v any) {
	s.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.ws.Write(ctx, websocket.MessageText, b); err != nil {
		s.t.Fatalf("write frame: %v", err)
	}
}

// next reads one event, failing the test after a generous deadline.
func (s *socket) next() messaging.Event {
	s.t.Helper()
	ev, err := s.read(10 * time.Second)
	if err != nil {
		s.t.Fatalf("read event: %v", err)
	}
	return ev
}

func (s *socket) read(d time.Duration) (messaging.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := s.ws.Read(ctx)
	if err != nil {
		return messaging.Event{}, err
	}
	var ev messaging.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return messaging.Event{}, err
	}
	return ev, nil
}

// nextOf skips events of other types (read receipts, inbox notices) until one of typ.
func (s *socket) nextOf(typ string) messaging.Event {
	s.t.Helper()
	for i := 0; i < 50; i++ {
		if ev := s.next(); ev.Type == typ {
			return ev
		}
	}
	s.t.Fatalf("no %s event in 50 frames", typ)
	return messaging.Event{}
}

func (s *socket) subscribe(patientID string, after *int64) messaging.Event {
	s.t.Helper()
	frame := map[string]any{"type": "subscribe", "patient_id": patientID}
	if after != nil {
		frame["after_seq"] = *after
	}
	s.sendFrame(frame)
	return s.next()
}

func seqp(n int64) *int64 { return &n }

// TestMessageSentOnOneInstanceReachesASocketOnAnother: the CM writes
// through instance A; the patient's socket is on instance B; Redis pub/sub
// carries it. A reconnecting socket gets every missed message from the
// database, in order, then live ones.
func TestMessageSentOnOneInstanceReachesASocketOnAnother(t *testing.T) {
	apps, patients := cluster(t, 2)
	a, b := apps[0], apps[1]
	p1 := patients["patient1"]
	patient, cm := b.user(t, "patient1"), a.staffLogin(t, "cm1")

	s, resp, err := b.dial(t, patient)
	if err != nil {
		t.Fatalf("dial B: %v", err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "carepath.v1" {
		t.Errorf("negotiated subprotocol %q, want carepath.v1 (never the token)", got)
	}
	if ev := s.subscribe(p1, seqp(0)); ev.Type != messaging.EventSubscribed || *ev.LastSeq != 0 {
		t.Fatalf("subscribe = %+v", ev)
	}
	sent := a.send(t, cm, p1, "a-1", "您好，我是您的个案管理师周敏")
	ev := s.nextOf(messaging.EventMessage)
	if ev.Message == nil || ev.Message.ID != sent.ID || ev.Message.Text != sent.Text || ev.Message.Seq != 1 {
		t.Fatalf("B's socket got %+v, want the message sent through A", ev.Message)
	}
	// The patient is online (on B), so A's reply wrote no reply-waiting event.
	var n int64
	a.app.DB.Table("outbox_events").Where("topic = ?", messaging.TopicReplyWaiting).Count(&n)
	if n != 0 {
		t.Errorf("a reply to an online patient wrote %d reply-waiting events, want 0", n)
	}
	// A staff socket on A sees the patient's message sent through B, and a note the patient never sees.
	staffSock, _, err := a.dial(t, cm)
	if err != nil {
		t.Fatalf("staff dial with the cookie: %v", err)
	}
	staffSock.subscribe(p1, nil)
	b.send(t, patient, p1, "p-1", "好的，谢谢")
	if ev := staffSock.nextOf(messaging.EventMessage); ev.Message.Text != "好的，谢谢" {
		t.Errorf("staff socket got %+v", ev.Message)
	}
	if status, body := a.call(t, http.MethodPost, threadPath(p1)+"/messages", cm, map[string]string{"client_msg_id": "n-1", "kind": "note", "text": "内部备注"}); status != http.StatusCreated {
		t.Fatalf("note: %d %s", status, body)
	}
	if ev := staffSock.nextOf(messaging.EventMessage); ev.Message.Kind != messaging.KindNote {
		t.Errorf("staff socket got %+v, want the note", ev.Message)
	}
	if ev := s.nextOf(messaging.EventMessage); ev.Message.Seq != 2 {
		t.Errorf("patient socket got seq %d, want 2 (its own message; the note is never sent)", ev.Message.Seq)
	}

	// The patient goes away; three replies are sent meanwhile; the patient
	// reconnects (to A this time) with its last seq and gets them all.
	s.ws.Close(websocket.StatusNormalClosure, "")
	apitest.WaitFor(t, "B to drop the socket", func() bool { return b.app.Hub.Connections() == 0 })
	for i := 1; i <= 3; i++ {
		a.send(t, cm, p1, fmt.Sprintf("a-%d", i+1), fmt.Sprintf("补充说明 %d", i))
	}
	a.app.DB.Table("outbox_events").Where("topic = ?", messaging.TopicReplyWaiting).Count(&n)
	if n != 1 {
		t.Errorf("replies to the offline patient wrote %d reply-waiting events, want 1", n)
	}
	s2, _, err := a.dial(t, patient)
	if err != nil {
		t.Fatal(err)
	}
	if ev := s2.subscribe(p1, seqp(2)); *ev.LastSeq != 6 {
		t.Fatalf("resubscribe = %+v, want last_seq 6", ev)
	}
	var got []string
	for len(got) < 3 {
		ev := s2.nextOf(messaging.EventMessage)
		got = append(got, fmt.Sprintf("%d:%s", ev.Message.Seq, ev.Message.Text))
	}
	if want := "4:补充说明 1,5:补充说明 2,6:补充说明 3"; strings.Join(got, ",") != want {
		t.Errorf("catch-up = %v, want %s (the note at 3 is staff-only)", got, want)
	}
	b.send(t, cm, p1, "b-1", "现在是实时的")
	if ev := s2.nextOf(messaging.EventMessage); ev.Message.Seq != 7 {
		t.Errorf("after catch-up got seq %d, want the live 7", ev.Message.Seq)
	}
	// Read receipts travel too.
	b.call(t, http.MethodPost, threadPath(p1)+"/read", cm, map[string]any{"seq": 7})
	if ev := s2.nextOf(messaging.EventRead); ev.Read.LastReadSeq != 7 || ev.Read.Reader.Role != "cm" {
		t.Errorf("read event = %+v", ev.Read)
	}
	// An alert published on B reaches cm1's socket on A.
	var cm1 string
	a.app.DB.Table("staff").Where("username = ?", "cm1").Pluck("id", &cm1)
	b.app.Hub.PublishAlert(context.Background(), messaging.Alert{ID: "alert-1", PatientID: p1, Kind: "bp_high", Severity: "high",
		RaisedAt: time.Now(), StaffIDs: []string{cm1}})
	if ev := staffSock.nextOf(messaging.EventAlert); ev.Alert == nil || ev.Alert.ID != "alert-1" || ev.PatientID != p1 {
		t.Errorf("alert event = %+v", ev)
	}
}

// TestSocketAccessFollowsThePolicy: each subscription is checked, and a
// revoked family link stops live delivery.
func TestSocketAccessFollowsThePolicy(t *testing.T) {
	apps, patients := cluster(t, 1)
	in := apps[0]
	p1, p3 := patients["patient1"], patients["patient3"]
	cm := in.staffLogin(t, "cm1")
	if _, resp, err := in.dial(t, who{token: "not-a-token"}); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("dial with a bad token: %v, want 401", err)
	}
	for _, tc := range []struct {
		name, patient string
		w             who
		ok            bool
	}{
		{"patient1 own", p1, in.user(t, "patient1"), true},
		{"patient1 other", p3, in.user(t, "patient1"), false},
		{"family1 with message scope", p1, in.user(t, "family1"), true},
		{"family2 without message scope", p3, in.user(t, "family2"), false},
		{"cm1 assigned", p1, cm, true},
		{"cm1 not assigned", p3, cm, false},
		{"lead1 department", p1, in.staffLogin(t, "lead1"), true},
		{"admin", p1, in.staffLogin(t, "admin"), false},
	} {
		s, _, err := in.dial(t, tc.w)
		if err != nil {
			t.Fatalf("%s: dial: %v", tc.name, err)
		}
		ev := s.subscribe(tc.patient, nil)
		if got := ev.Type == messaging.EventSubscribed; got != tc.ok || !tc.ok && ev.Code != "not_found" {
			t.Errorf("%s: subscribe answered %+v, want allowed=%v", tc.name, ev, tc.ok)
		}
	}
	// A relative whose link is revoked while connected is unsubscribed at the next event.
	relative := in.user(t, "nephew")
	var userID string
	in.app.DB.Table("users").Where("open_id = ?", "fake-openid-nephew").Pluck("id", &userID)
	link := family.NewLink(database.NewID(), p1, userID, "侄子", []access.Scope{access.ScopeMessage}, time.Now())
	if err := in.app.Family.Store().CreateLink(context.Background(), &link); err != nil {
		t.Fatal(err)
	}
	s, _, err := in.dial(t, relative)
	if err != nil {
		t.Fatal(err)
	}
	if ev := s.subscribe(p1, nil); ev.Type != messaging.EventSubscribed {
		t.Fatalf("relative subscribe = %+v", ev)
	}
	in.send(t, cm, p1, "c-1", "第一条")
	if ev := s.nextOf(messaging.EventMessage); ev.Message.Text != "第一条" {
		t.Fatalf("relative got %+v", ev.Message)
	}
	var ownerID string
	in.app.DB.Table("patients").Where("id = ?", p1).Pluck("user_id", &ownerID)
	owner := auth.Actor{Kind: auth.KindUser, ID: ownerID, Role: auth.RoleUser}
	if _, err := in.app.Family.Revoke(context.Background(), owner, p1, link.ID); err != nil {
		t.Fatal(err)
	}
	// The revocation's outbox event, handled by the worker, ends the
	// subscription at once: no further message is needed to notice it.
	var pending []outbox.Event
	in.app.DB.Where("dispatched_at IS NULL AND topic = ?", family.TaskLinkRevoked).Find(&pending)
	if len(pending) != 1 {
		t.Fatalf("revocation wrote %d link_revoked events, want 1", len(pending))
	}
	if err := in.app.Handlers()[pending[0].Topic](context.Background(), asynq.NewTask(pending[0].Topic, pending[0].Payload)); err != nil {
		t.Fatal(err)
	}
	ev := s.next()
	if ev.Type != messaging.EventUnsubscribed || ev.Code != "access_revoked" {
		t.Errorf("after revocation the relative got %+v, want unsubscribed/access_revoked", ev)
	}

}

// TestShutdownClosesSocketsWithGoingAway: Serve's shutdown closes every
// socket with 1001, which net/http's Shutdown would not wait for.
func TestShutdownClosesSocketsWithGoingAway(t *testing.T) {
	e := apitest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.App.Serve(ctx, ln, false) }()
	in := instance{app: e.App, srv: &httptest.Server{URL: "http://" + ln.Addr().String()}}
	s, _, err := in.dial(t, in.user(t, "patient1"))
	if err != nil {
		t.Fatal(err)
	}
	s.subscribe(e.Demo.Patients["patient1"], nil)
	stop()
	_, err = s.read(10 * time.Second)
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Errorf("socket closed with %v (%v), want 1001 going away", got, err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	var ce websocket.CloseError
	_ = errors.As(err, &ce)
}

// TestRedisDownClosesSocketsSoClientsPoll: with Redis pub/sub gone, an open
// socket would silently miss every event. It is closed with 1013 "realtime
// unavailable" instead, new sockets are refused the same way while Redis is
// down, the thread keeps answering over HTTP (the polling fallback), and
// once Redis is back a socket opens again and catches up by cursor.
func TestRedisDownClosesSocketsSoClientsPoll(t *testing.T) {
	mr := miniredis.RunT(t) // this test stops its own Redis, never a shared one
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	insts, patients := clusterOn(t, 1, rdb, "cptest:down:")
	in, pid := insts[0], patients["patient1"]
	patient, cm := in.user(t, "patient1"), in.staffLogin(t, "cm1")
	s, _, err := in.dial(t, patient)
	if err != nil {
		t.Fatal(err)
	}
	s.subscribe(pid, seqp(0))

	mr.Close()
	closed := func(err error) {
		t.Helper()
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater || ce.Reason != messaging.CloseReasonUnavailable {
			t.Errorf("socket ended with %v, want close 1013 %q", err, messaging.CloseReasonUnavailable)
		}
	}
	for {
		if _, err := s.read(10 * time.Second); err != nil {
			closed(err)
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.srv.URL, "http")+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{"carepath.v1", "bearer." + patient.token}})
	if err != nil {
		t.Fatalf("dial while Redis is down: %v (want an upgrade closed with 1013)", err)
	}
	_, _, err = ws.Read(ctx)
	closed(err)

	sent := in.send(t, cm, pid, "down-1", "Redis 停了也能收到")
	status, b := in.call(t, http.MethodGet, threadPath(pid)+"/messages?after=0", patient, nil)
	if status != http.StatusOK || !strings.Contains(string(b), sent.ID) {
		t.Fatalf("polling while Redis is down: %d %s, want the reply %s", status, b, sent.ID)
	}

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	var again *socket
	apitest.WaitFor(t, "a socket after Redis returns", func() bool {
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.srv.URL, "http")+"/api/v1/ws",
			&websocket.DialOptions{Subprotocols: []string{"carepath.v1", "bearer." + patient.token}})
		if err != nil {
			return false
		}
		again = &socket{t: t, ws: ws}
		t.Cleanup(func() { ws.CloseNow() })
		ev, err := again.read(5 * time.Second)
		return err == nil && ev.Type == messaging.EventHello
	})
	again.subscribe(pid, seqp(0))
	if ev := again.nextOf(messaging.EventMessage); ev.Message == nil || ev.Message.ID != sent.ID {
		t.Errorf("catch-up after Redis returned = %+v, want the reply sent while it was down", ev)
	}
}
