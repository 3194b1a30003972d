package notify_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

// task is a push task the recording queue holds.
type task struct {
	id      string
	payload []byte
	at      time.Time
	queue   string
	retries int
	done    bool
}

// recQueue stands in for asynq in these tests: it keeps tasks with their
// ids and times, refuses a duplicate id as asynq does, and runs due ones
// through the app's handler on demand.
type recQueue struct {
	mu    sync.Mutex
	tasks []*task
	fail  func(id string) error // an enqueue that fails, when it returns an error
}

func (q *recQueue) Enqueue(_ context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	tk := &task{payload: t.Payload()}
	for _, o := range opts {
		switch o.Type() {
		case asynq.TaskIDOpt:
			tk.id = o.Value().(string)
		case asynq.ProcessAtOpt:
			tk.at = o.Value().(time.Time)
		case asynq.QueueOpt:
			tk.queue = o.Value().(string)
		}
	}
	if q.fail != nil {
		if err := q.fail(tk.id); err != nil {
			return nil, err
		}
	}
	for _, other := range q.tasks {
		if other.id == tk.id {
			return nil, asynq.ErrTaskIDConflict
		}
	}
	q.tasks = append(q.tasks, tk)
	return &asynq.TaskInfo{ID: tk.id}, nil
}

func (q *recQueue) pending() []*task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*task
	for _, t := range q.tasks {
		if !t.done {
			out = append(out, t)
		}
	}
	return out
}

type env struct {
	*apitest.Env
	q *recQueue
}

func newEnv(t *testing.T, configure ...func(*config.Config)) *env {
	t.Helper()
	e := &env{Env: apitest.New(t, configure...), q: &recQueue{}}
	e.App.Notify.UseQueue(e.q, "test")
	e.setLocal("10:00")
	e.DeliverEvents() // the demo's enrolments: their pushes have no credit
	e.q.tasks = nil
	return e
}

// setLocal moves the clock forward to the next hh:mm in Shanghai.
func (e *env) setLocal(hm string) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := e.Clock.Now().In(loc)
	want, _ := time.ParseInLocation("2006-01-02 15:04", now.Format("2006-01-02")+" "+hm, loc)
	if !want.After(now) {
		want = want.AddDate(0, 0, 1)
	}
	e.Clock.Advance(want.Sub(now))
}

// run sends every task due by the clock, once each; it returns the handler errors.
func (e *env) run(t *testing.T) []error {
	t.Helper()
	h := e.App.Handlers()[notify.TaskSend]
	var errs []error
	for _, tk := range e.q.pending() {
		if tk.at.After(e.Clock.Now()) {
			continue
		}
		if err := h(context.Background(), asynq.NewTask(notify.TaskSend, tk.payload)); err != nil {
			tk.retries++
			errs = append(errs, err)
			continue
		}
		tk.done = true
	}
	return errs
}

func (e *env) request(t *testing.T, reqs ...notify.Request) {
	t.Helper()
	for _, r := range reqs {
		if err := e.App.DB.Transaction(func(tx *gorm.DB) error { return notify.Add(tx, r) }); err != nil {
			t.Fatal(err)
		}
	}
	e.DeliverEvents()
}

func (e *env) subscribe(t *testing.T, token string, kind, result string, times int) {
	t.Helper()
	tmpl, _ := e.App.Notify.Templates().Template(kind)
	for range times {
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/subscriptions", Token: token,
			Body: map[string]any{"results": []map[string]string{{"template_id": tmpl.TemplateID, "result": result}}}})
		if resp.Status != http.StatusOK {
			t.Fatalf("subscribe: %d %s", resp.Status, resp.Body)
		}
	}
}

func (e *env) quota(t *testing.T, userID, kind string) int {
	t.Helper()
	tmpl, _ := e.App.Notify.Templates().Template(kind)
	var sub notify.Subscription
	e.App.DB.Where("user_id = ? AND template_id = ?", userID, tmpl.TemplateID).Take(&sub)
	return sub.Quota
}

func (e *env) pushes(t *testing.T, dedupe string) []notify.Push {
	t.Helper()
	var ps []notify.Push
	e.App.DB.Where("dedupe_key = ?", dedupe).Order("user_id").Find(&ps)
	return ps
}

func TestQuotaAccountingAndRefusal(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	u1 := e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	msg := func(key string) notify.Request {
		return notify.Request{Kind: notify.KindCMMessage, PatientID: p1, Recipients: []string{u1}, DedupeKey: key, At: e.Clock.Now()}
	}

	e.subscribe(t, tok, notify.KindCMMessage, "accept", 1)
	e.subscribe(t, tok, notify.KindCMMessage, "reject", 1) // a later refusal does not take the credit back
	if got := e.quota(t, u1, notify.KindCMMessage); got != 1 {
		t.Fatalf("quota after one accept: %d, want 1", got)
	}
	e.request(t, msg("m1"))
	if errs := e.run(t); len(errs) > 0 {
		t.Fatal(errs)
	}
	if sent := e.Fake.Sent(); len(sent) != 1 || sent[0].ToOpenID != "fake-openid-patient1" {
		t.Fatalf("sent: %+v, want one message to patient1", sent)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 0 {
		t.Fatalf("quota after the send: %d, want 0", got)
	}
	e.request(t, msg("m2"))
	e.run(t)
	if len(e.Fake.Sent()) != 1 {
		t.Fatal("a second push went out without a credit")
	}
	if ps := e.pushes(t, "m2"); len(ps) != 1 || ps[0].Status != notify.StatusNoQuota {
		t.Fatalf("push without credit: %+v", ps)
	}

	// 43101: WeChat says there is no credit although we counted two: the
	// count goes to 0 and the push is not retried.
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 2)
	e.Fake.FailNextSend("fake-openid-patient1", 43101)
	e.request(t, msg("m3"))
	if errs := e.run(t); len(errs) > 0 {
		t.Fatalf("43101 must not ask for a retry: %v", errs)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 0 {
		t.Fatalf("quota after 43101: %d, want 0", got)
	}
	if ps := e.pushes(t, "m3"); ps[0].Status != notify.StatusNoQuota || ps[0].ErrCode != 43101 || ps[0].Attempts != 1 {
		t.Fatalf("push after 43101: %+v", ps[0])
	}
	if len(e.q.pending()) != 0 || len(e.Fake.Sent()) != 1 {
		t.Fatalf("after 43101: %d tasks pending, %d sent", len(e.q.pending()), len(e.Fake.Sent()))
	}

	// Permanent errors: no retry either.
	for _, code := range []int{47003, 40003} {
		e.subscribe(t, tok, notify.KindCMMessage, "accept", 1)
		e.Fake.FailNextSend("fake-openid-patient1", code)
		key := "perm-" + time.Duration(code).String()
		e.request(t, msg(key))
		if errs := e.run(t); len(errs) > 0 {
			t.Fatalf("%d must not ask for a retry: %v", code, errs)
		}
		if ps := e.pushes(t, key); ps[0].Status != notify.StatusFailed || ps[0].ErrCode != code {
			t.Fatalf("push after %d: %+v", code, ps[0])
		}
		if got := e.quota(t, u1, notify.KindCMMessage); got != 1 {
			t.Fatalf("a refused send spent a credit: %d", got)
		}
		e.App.DB.Model(&notify.Subscription{}).Where("user_id = ?", u1).Update("quota", 0)
	}
	if !strings.Contains(e.Logs(), "47003") && !strings.Contains(e.Logs(), "check the template registry") {
		t.Fatal("47003 was not reported to the operator")
	}
}

func TestRetryOnTransientErrorsThenSuccess(t *testing.T) {
	e := newEnv(t)
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindAppointmentReminder, "accept", 1)
	e.Fake.FailNextSend("fake-openid-patient1", -1)
	e.request(t, notify.Request{Kind: notify.KindAppointmentReminder, PatientID: p1, Recipients: []string{u1}, DedupeKey: "appt-1", At: e.Clock.Now()})
	if errs := e.run(t); len(errs) != 1 {
		t.Fatalf("-1 must ask for a retry, got %v", errs)
	}
	e.Fake.SetDown(true)
	if errs := e.run(t); len(errs) != 1 {
		t.Fatalf("WeChat down must ask for a retry, got %v", errs)
	}
	e.Fake.SetDown(false)
	if errs := e.run(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	ps := e.pushes(t, "appt-1")
	if ps[0].Status != notify.StatusSent || ps[0].Attempts != 3 || len(e.Fake.Sent()) != 1 {
		t.Fatalf("after retries: %+v, %d sent", ps[0], len(e.Fake.Sent()))
	}
	if got := e.quota(t, u1, notify.KindAppointmentReminder); got != 0 {
		t.Fatalf("quota %d, want 0 (one credit, one send)", got)
	}
	var view struct {
		Pushes []struct {
			Kind     string
			Status   string
			Attempts []struct{ Outcome string }
		}
	}
	cm1 := e.LoginStaff("cm1")
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/pushes", Cookie: cm1.Cookie})
	resp.JSON(t, &view)
	// Newest first: the appointment reminder, then the demo enrolment's stage pushes (no credit yet).
	if resp.Status != http.StatusOK || len(view.Pushes) == 0 || view.Pushes[0].Kind != notify.KindAppointmentReminder ||
		len(view.Pushes[0].Attempts) != 3 || view.Pushes[0].Attempts[2].Outcome != "sent" {
		t.Fatalf("push log for the CM: %d %s", resp.Status, resp.Body)
	}
	// The relative may not read the push log.
	fam := e.LoginWeChat("family1").AccessToken
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/pushes", Token: fam}); resp.Status != http.StatusNotFound && resp.Status != http.StatusForbidden {
		t.Fatalf("family reads the push log: %d", resp.Status)
	}

	// 45009: WeChat's daily limit waits for the next morning.
	e.subscribe(t, tok, notify.KindAppointmentReminder, "accept", 1)
	e.Fake.FailNextSend("fake-openid-patient1", 45009)
	e.request(t, notify.Request{Kind: notify.KindAppointmentReminder, PatientID: p1, Recipients: []string{u1}, DedupeKey: "appt-2", At: e.Clock.Now()})
	if errs := e.run(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	pending := e.q.pending()
	if len(pending) != 1 || pending[0].at.In(time.FixedZone("CST", 8*3600)).Format("15:04") != "08:00" || !pending[0].at.After(e.Clock.Now()) {
		t.Fatalf("after 45009: %+v, want one task tomorrow 08:00", pending)
	}
	e.setLocal("08:00")
	e.run(t)
	if ps := e.pushes(t, "appt-2"); ps[0].Status != notify.StatusSent {
		t.Fatalf("next morning: %+v", ps[0])
	}
}

func TestQuietHoursDelayNonUrgentPushes(t *testing.T) {
	e := newEnv(t)
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindStageBegins, "accept", 1)
	e.subscribe(t, tok, notify.KindReadingAttention, "accept", 1)
	e.setLocal("23:15")
	e.request(t,
		notify.Request{Kind: notify.KindStageBegins, PatientID: p1, Recipients: []string{u1}, DedupeKey: "night-stage", At: e.Clock.Now()},
		notify.Request{Kind: notify.KindReadingAttention, PatientID: p1, Recipients: []string{u1}, DedupeKey: "night-alert", Urgent: true, At: e.Clock.Now()},
	)
	e.run(t)
	sent := e.Fake.Sent()
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindReadingAttention)
	if len(sent) != 1 || sent[0].TemplateID != tmpl.TemplateID {
		t.Fatalf("at 23:15: %+v, want only the urgent push", sent)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	stage := e.pushes(t, "night-stage")[0]
	if got := stage.ScheduledAt.In(loc); got.Format("15:04") != "08:00" || got.Day() == e.Clock.Now().In(loc).Day() {
		t.Fatalf("stage push scheduled %v, want 08:00 the next day", got)
	}
	e.setLocal("07:59")
	e.run(t)
	if len(e.Fake.Sent()) != 1 {
		t.Fatal("sent before the quiet hours ended")
	}
	e.setLocal("08:00")
	e.run(t)
	if len(e.Fake.Sent()) != 2 {
		t.Fatal("not sent when the quiet hours ended")
	}
	// The in-app notifications were there all night.
	var body struct {
		Notifications []notify.NotificationView
		Unread        int
	}
	tok = e.LoginWeChat("patient1").AccessToken
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/notifications", Token: tok})
	resp.JSON(t, &body)
	if resp.Status != http.StatusOK || body.Unread < 2 {
		t.Fatalf("notifications: %d %s", resp.Status, resp.Body)
	}
	resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/notifications/read", Token: tok, Body: map[string]any{}})
	if resp.Status != http.StatusOK {
		t.Fatalf("mark read: %d %s", resp.Status, resp.Body)
	}
	resp = e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/notifications", Token: tok})
	resp.JSON(t, &body)
	if body.Unread != 0 {
		t.Fatalf("unread after marking all: %d", body.Unread)
	}
}

func TestDailyCapKeepsRoomForImportantPushes(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Notify.DailyCap = 3 })
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindEducationReady, "accept", 5)
	e.subscribe(t, tok, notify.KindAppointmentReminder, "accept", 5)
	req := func(kind, key string) notify.Request {
		return notify.Request{Kind: kind, PatientID: p1, Recipients: []string{u1}, DedupeKey: key, At: e.Clock.Now()}
	}
	for _, key := range []string{"edu-1", "edu-2", "edu-3"} {
		e.request(t, req(notify.KindEducationReady, key))
		e.run(t)
	}
	e.request(t, req(notify.KindAppointmentReminder, "appt-a"))
	e.run(t)
	e.request(t, req(notify.KindAppointmentReminder, "appt-b"))
	e.run(t)
	want := map[string]string{"edu-1": notify.StatusSent, "edu-2": notify.StatusSent, "edu-3": notify.StatusCapped,
		"appt-a": notify.StatusSent, "appt-b": notify.StatusCapped}
	for key, status := range want {
		if got := e.pushes(t, key)[0].Status; got != status {
			t.Errorf("%s: %s, want %s", key, got, status)
		}
	}
	if len(e.Fake.Sent()) != 3 {
		t.Fatalf("sent %d, want the cap of 3", len(e.Fake.Sent()))
	}
	// The next day the cap starts again.
	e.setLocal("09:00")
	e.request(t, req(notify.KindEducationReady, "edu-4"))
	e.run(t)
	if got := e.pushes(t, "edu-4")[0].Status; got != notify.StatusSent {
		t.Fatalf("next day: %s", got)
	}
}

func TestDuplicateEventsPushOnceToPatientAndAllowedRelatives(t *testing.T) {
	e := newEnv(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	patientTok, familyTok := e.LoginWeChat("patient1").AccessToken, e.LoginWeChat("family1").AccessToken
	p3Tok, fam2Tok := e.LoginWeChat("patient3").AccessToken, e.LoginWeChat("family2").AccessToken
	for _, tok := range []string{patientTok, familyTok, p3Tok, fam2Tok} {
		e.subscribe(t, tok, notify.KindQuestionnaireDue, "accept", 3)
	}
	r := notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: p1, DedupeKey: "q-1", At: e.Clock.Now()}
	e.request(t, r, r)
	e.request(t, r)
	e.run(t)
	e.run(t)
	sent := e.Fake.Sent()
	if len(sent) != 2 || sent[0].ToOpenID == sent[1].ToOpenID {
		t.Fatalf("sent %+v, want one each to patient1 and family1", sent)
	}
	var n int64
	e.App.DB.Model(&notify.Notification{}).Where("patient_id = ? AND dedupe_key = ?", p1, "q-1").Count(&n)
	if n != 1 {
		t.Fatalf("%d notifications for one event", n)
	}
	// family2 lacks receive_push: only patient3 gets it.
	e.request(t, notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: p3, DedupeKey: "q-3", At: e.Clock.Now()})
	e.run(t)
	if ps := e.pushes(t, "q-3"); len(ps) != 1 || ps[0].UserID != e.Demo.Users["fake-openid-patient3"] {
		t.Fatalf("pushes for patient3: %+v", ps)
	}
	// Withdrawing the health-data consent stops pushes to relatives (the
	// family links end with it); the patient still gets theirs.
	e.App.DB.Table("consents").Where("patient_id = ? AND kind = ?", p1, "health_data").Update("withdrawn_at", e.Clock.Now())
	e.request(t, notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: p1, DedupeKey: "q-2", At: e.Clock.Now()})
	if ps := e.pushes(t, "q-2"); len(ps) != 1 || ps[0].Recipient != "patient" {
		t.Fatalf("without consent: %+v", ps)
	}
}

func TestNoHealthDetailsInAnyPush(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 1)
	e.subscribe(t, tok, notify.KindStageBegins, "accept", 1)
	cm1 := e.LoginStaff("cm1")
	secret := "您的血压165/100偏高，请加服氨氯地平"
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/thread/messages", Cookie: cm1.Cookie, CSRF: cm1.CSRF,
		Body: map[string]string{"type": "text", "text": secret, "client_msg_id": "c-1"}})
	if resp.Status != http.StatusCreated && resp.Status != http.StatusOK {
		t.Fatalf("CM reply: %d %s", resp.Status, resp.Body)
	}
	topics := e.DeliverEvents()
	e.run(t)
	sent := e.Fake.Sent()
	if len(sent) != 1 {
		t.Fatalf("topics %v; sent %+v, want the new-message push", topics, sent)
	}
	for _, m := range sent {
		b, _ := json.Marshal(m.Data)
		page := strings.ReplaceAll(m.Page, p1, "") // the patient's random id may hold the digits by chance
		for _, bad := range []string{"165", "血压", "氨氯地平", secret} {
			if strings.Contains(string(b), bad) || strings.Contains(page, bad) {
				t.Fatalf("push data %s shows %q", b, bad)
			}
		}
		if m.Data["thing1"] != "您有一条新消息" || m.Page == "" || m.MiniprogramState != "formal" || m.Lang != "zh_CN" {
			t.Fatalf("push %+v", m)
		}
	}
	if strings.Contains(e.Logs(), secret) || strings.Contains(e.Logs(), "fake-openid-patient1") {
		t.Fatal("a message text or an openid reached the log")
	}
}

func TestPushEndpointChecksTheSignature(t *testing.T) {
	const token = "push-token-for-tests"
	e := newEnv(t, func(c *config.Config) { c.WeChat.PushToken = token })
	u1 := e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 2)
	signed := func(ts, nonce string) string {
		return "?timestamp=" + ts + "&nonce=" + nonce + "&signature=" + notify.Signature(token, ts, nonce)
	}
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/wechat/push" + signed("1700000000", "abc") + "&echostr=hello-123"})
	if resp.Status != http.StatusOK || string(resp.Body) != "hello-123" {
		t.Fatalf("URL verification: %d %s", resp.Status, resp.Body)
	}
	for _, bad := range []string{
		"?timestamp=1700000000&nonce=abc&signature=0000&echostr=x",
		"?timestamp=1700000001&nonce=abc&signature=" + notify.Signature(token, "1700000000", "abc") + "&echostr=x",
		"?echostr=x",
	} {
		if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/wechat/push" + bad}); resp.Status != http.StatusForbidden {
			t.Fatalf("bad signature %s: %d", bad, resp.Status)
		}
	}
	now := fmt.Sprint(e.Clock.Now().Unix())
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindCMMessage)
	event := map[string]any{"ToUserName": "gh_x", "FromUserName": "fake-openid-patient1", "CreateTime": 1700000000, "MsgType": "event",
		"Event": "subscribe_msg_change_event", "List": []map[string]string{{"TemplateId": tmpl.TemplateID, "SubscribeStatusString": "reject"}}}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push?timestamp=1&nonce=2&signature=bad", Body: event}); resp.Status != http.StatusForbidden {
		t.Fatalf("unsigned event: %d", resp.Status)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 2 {
		t.Fatalf("an unsigned event changed the quota: %d", got)
	}
	resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + signed(now, "n2"), Body: event})
	if resp.Status != http.StatusOK || string(resp.Body) != "success" {
		t.Fatalf("signed event: %d %s", resp.Status, resp.Body)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 0 {
		t.Fatalf("quota after cancellation in settings: %d, want 0", got)
	}
	// A popup accept is a record only (the client reports the credit); a sent event is acknowledged.
	event["Event"], event["List"] = "subscribe_msg_popup_event", map[string]string{"TemplateId": tmpl.TemplateID, "SubscribeStatusString": "accept"}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + signed(now, "n3"), Body: event}); resp.Status != http.StatusOK {
		t.Fatalf("popup event: %d", resp.Status)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 0 {
		t.Fatalf("a popup accept added a credit: %d", got)
	}
	// A send result: delivered changes nothing; refused by the user clears the credits.
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 2)
	for i, it := range []map[string]any{
		{"TemplateId": tmpl.TemplateID, "MsgID": "1", "ErrorCode": 0, "ErrorStatus": "success"},
		{"TemplateId": tmpl.TemplateID, "MsgID": "2", "ErrorCode": 10002, "ErrorStatus": "fail:system failed"},
	} {
		event["Event"], event["List"] = "subscribe_msg_sent_event", it
		if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + signed(now, fmt.Sprint("n4-", i)), Body: event}); resp.Status != http.StatusOK {
			t.Fatalf("sent event: %d", resp.Status)
		}
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 2 {
		t.Fatalf("quota after sent events without refusal: %d, want 2", got)
	}
	event["List"] = []map[string]any{{"TemplateId": tmpl.TemplateID, "MsgID": "3", "ErrorCode": 10001, "ErrorStatus": "fail:user refuse to accept the msg"}}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + signed(now, "n6"), Body: event}); resp.Status != http.StatusOK {
		t.Fatalf("sent event: %d", resp.Status)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 0 {
		t.Fatalf("quota after the user refused a message: %d, want 0", got)
	}
	// The signature covers the query, not the body. The same signed URL
	// again (WeChat repeating a push, or a replay from an access log with a
	// body of someone's choosing) is acknowledged and not applied; a URL
	// signed more than five minutes ago is refused.
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 2)
	event["Event"], event["List"] = "subscribe_msg_change_event", []map[string]string{{"TemplateId": tmpl.TemplateID, "SubscribeStatusString": "reject"}}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + signed(now, "n6"), Body: event}); resp.Status != http.StatusOK || string(resp.Body) != "success" {
		t.Fatalf("replayed push: %d %s", resp.Status, resp.Body)
	}
	for _, ts := range []time.Duration{-6 * time.Minute, 6 * time.Minute} {
		at := fmt.Sprint(e.Clock.Now().Add(ts).Unix())
		if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + signed(at, "n7"), Body: event}); resp.Status != http.StatusForbidden || resp.ErrorCode() != "stale_push" {
			t.Fatalf("push signed %s from now: %d %s", ts, resp.Status, resp.Body)
		}
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 2 {
		t.Fatalf("a replayed or stale push was applied: quota %d, want 2", got)
	}
	// Without a configured token every push is refused.
	e2 := newEnv(t)
	if resp := e2.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/wechat/push?timestamp=1&nonce=2&signature=" + notify.Signature("", "1", "2") + "&echostr=x"}); resp.Status != http.StatusForbidden {
		t.Fatalf("no token configured: %d", resp.Status)
	}
}

// TestPushEndpointTakesXML: the push settings may choose XML; the same
// change event in XML clears the user's credits, and a broken XML body is
// refused with malformed_push.
func TestPushEndpointTakesXML(t *testing.T) {
	const token = "push-token-for-tests"
	e := newEnv(t, func(c *config.Config) { c.WeChat.PushToken = token })
	u1 := e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 2)
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindCMMessage)
	now := fmt.Sprint(e.Clock.Now().Unix())
	path := "/api/v1/wechat/push?timestamp=" + now + "&nonce=x&signature=" + notify.Signature(token, now, "x")
	xmlHeader := map[string]string{"Content-Type": "text/xml"}
	body := `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[fake-openid-patient1]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_change_event]]></Event>
<SubscribeMsgChangeEvent><List><TemplateId><![CDATA[` + tmpl.TemplateID + `]]></TemplateId>
<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgChangeEvent></xml>`
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: path, Body: body, Headers: xmlHeader}); resp.Status != http.StatusOK || string(resp.Body) != "success" {
		t.Fatalf("signed XML event: %d %s", resp.Status, resp.Body)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 0 {
		t.Fatalf("quota after an XML cancellation: %d, want 0", got)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: path, Body: "<xml><Event>", Headers: xmlHeader}); resp.Status != http.StatusBadRequest || resp.ErrorCode() != "malformed_push" {
		t.Fatalf("broken XML: %d %s", resp.Status, resp.Body)
	}
}

// sealPush encrypts an event the way WeChat's safe mode does, written out
// here from the platform's description rather than with the library the
// server decrypts with: AES-256-CBC under the EncodingAESKey (IV its first 16
// bytes), over 16 random bytes, the event's length (4 bytes, big-endian), the
// event and the app id, padded PKCS#7 to 32 bytes; then base64.
func sealPush(t *testing.T, encodingAESKey, appID string, event []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		t.Fatalf("EncodingAESKey: %v", err)
	}
	plain := make([]byte, 20, 20+len(event)+len(appID)+32)
	if _, err := rand.Read(plain[:16]); err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(plain[16:20], uint32(len(event)))
	plain = append(append(plain, event...), appID...)
	pad := 32 - len(plain)%32
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain)
}

// TestPushEndpointTakesSafeMode: with the push's message encryption on (safe
// or compatible mode), WeChat sends the event encrypted and signs it with
// msg_signature. An encrypted change event, in JSON or XML, clears the
// user's credits; one with a wrong msg_signature is refused (403), one
// encrypted for another app or under another key is answered 503
// (undecryptable_push: our configuration, WeChat sends it again), a push in
// clear is refused once the key is set, and none of those changes anything. Without the
// key configured an encrypted push is answered 503 (WeChat sends it again;
// the log tells the operator) instead of being acknowledged and lost.
func TestPushEndpointTakesSafeMode(t *testing.T) {
	const (
		token  = "push-token-for-tests"
		aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		other  = "GFEDCBA9876543210zyxwvutsrqponmlkjihgfedcba"
		appID  = "wx-dev-app"
	)
	e := newEnv(t, func(c *config.Config) {
		c.WeChat.PushToken, c.WeChat.PushAESKey, c.WeChat.AppID, c.WeChat.AppSecret = token, aesKey, appID, "wx-dev-secret"
	})
	u1 := e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindCMMessage)
	changeJSON := fmt.Sprintf(`{"ToUserName":"gh_x","FromUserName":"fake-openid-patient1","CreateTime":1700000000,"MsgType":"event",`+
		`"Event":"subscribe_msg_change_event","List":[{"TemplateId":%q,"SubscribeStatusString":"reject"}]}`, tmpl.TemplateID)
	changeXML := `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[fake-openid-patient1]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_change_event]]></Event>
<SubscribeMsgChangeEvent><List><TemplateId><![CDATA[` + tmpl.TemplateID + `]]></TemplateId>
<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgChangeEvent></xml>`
	now := fmt.Sprint(e.Clock.Now().Unix())
	nonces := 0
	post := func(e *env, encrypted, msgSignature string, asXML bool) apitest.Response {
		nonces++
		nonce := fmt.Sprint("n", nonces)
		if msgSignature == "" {
			msgSignature = notify.MessageSignature(token, now, nonce, encrypted)
		}
		q := "?timestamp=" + now + "&nonce=" + nonce + "&encrypt_type=aes&signature=" + notify.Signature(token, now, nonce) + "&msg_signature=" + msgSignature
		if asXML {
			return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + q,
				Body: `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[` + encrypted + `]]></Encrypt></xml>`, Headers: map[string]string{"Content-Type": "text/xml"}})
		}
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/wechat/push" + q, Body: map[string]string{"ToUserName": "gh_x", "Encrypt": encrypted}})
	}

	for _, tc := range []struct {
		name  string
		event string
		asXML bool
	}{{"JSON", changeJSON, false}, {"XML", changeXML, true}} {
		e.subscribe(t, tok, notify.KindCMMessage, "accept", 2)
		refused := []struct {
			why, encrypted, msgSignature string
			status                       int
			code                         string
		}{
			{"wrong msg_signature", sealPush(t, aesKey, appID, []byte(tc.event)), notify.MessageSignature(token, now, "n0", "something else"), http.StatusForbidden, "bad_signature"},
			{"another app", sealPush(t, aesKey, "wx-another-app", []byte(tc.event)), "", http.StatusServiceUnavailable, "undecryptable_push"},
			{"another key", sealPush(t, other, appID, []byte(tc.event)), "", http.StatusServiceUnavailable, "undecryptable_push"},
			{"not base64", "%%%", "", http.StatusServiceUnavailable, "undecryptable_push"},
		}
		for _, r := range refused {
			if resp := post(e, r.encrypted, r.msgSignature, tc.asXML); resp.Status != r.status || resp.ErrorCode() != r.code {
				t.Fatalf("%s, %s: %d %s, want %d %s", tc.name, r.why, resp.Status, resp.Body, r.status, r.code)
			}
			if got := e.quota(t, u1, notify.KindCMMessage); got != 2 {
				t.Fatalf("%s, %s changed the quota: %d", tc.name, r.why, got)
			}
		}
		encrypted := sealPush(t, aesKey, appID, []byte(tc.event))
		if resp := post(e, encrypted, "", tc.asXML); resp.Status != http.StatusOK || string(resp.Body) != "success" {
			t.Fatalf("%s: encrypted event: %d %s", tc.name, resp.Status, resp.Body)
		}
		if got := e.quota(t, u1, notify.KindCMMessage); got != 0 {
			t.Fatalf("%s: quota after an encrypted cancellation: %d, want 0", tc.name, got)
		}
	}
	if resp := post(e, "", "", false); resp.Status != http.StatusBadRequest || resp.ErrorCode() != "malformed_push" {
		t.Fatalf("no Encrypt: %d %s", resp.Status, resp.Body)
	}
	// With the key set, a push in clear is covered by no signature: refused.
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 2)
	plain := "/api/v1/wechat/push?timestamp=" + now + "&nonce=plain&signature=" + notify.Signature(token, now, "plain")
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: plain, Body: json.RawMessage(changeJSON)}); resp.Status != http.StatusForbidden || resp.ErrorCode() != "push_not_encrypted" {
		t.Fatalf("plain push with the key set: %d %s", resp.Status, resp.Body)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 2 {
		t.Fatalf("a plain push changed the quota with the key set: %d", got)
	}

	noKey := newEnv(t, func(c *config.Config) { c.WeChat.PushToken = token })
	encrypted := sealPush(t, aesKey, appID, []byte(changeJSON))
	if resp := post(noKey, encrypted, "", false); resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "push_key_missing" {
		t.Fatalf("encrypted push without a configured key: %d %s", resp.Status, resp.Body)
	}
}
