package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

// onQueue puts every task on one queue of this test's own, so that tests
// sharing a Redis do not take each other's tasks.
type onQueue struct {
	c    outbox.Enqueuer
	name string
}

func (q onQueue) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	return q.c.Enqueue(ctx, t, append(opts, asynq.Queue(q.name))...)
}

// TestPeriodicRemindersReachWeChat: the periodic jobs that remind of an
// appointment and of an unanswered questionnaire produce real pushes end to
// end: the job's outbox event, the relay, asynq, the worker, the fake WeChat
// server, the push log, and the in-app notification.
func TestPeriodicRemindersReachWeChat(t *testing.T) {
	e := apitest.New(t)
	// A day in the past: asynq runs what it is given at once (it keeps the
	// real clock); quiet hours and slots follow the test's clock.
	loc, _ := time.LoadLocation("Asia/Shanghai")
	e.Clock.Advance(time.Date(2026, 3, 2, 10, 0, 0, 0, loc).Sub(e.Clock.Now()))
	e.App.DB.Model(&outbox.Event{}).Where("dispatched_at IS NULL").Update("dispatched_at", e.Clock.Now().UTC()) // the demo's
	qname := fmt.Sprintf("notify-e2e-%d", time.Now().UnixNano())
	client := queue.NewClient(e.App.Redis)
	q := onQueue{c: client, name: qname}
	e.App.Notify.UseQueue(q, qname)
	t.Cleanup(func() { asynq.NewInspectorFromRedisClient(e.App.Redis).DeleteQueue(qname, true) })

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := queue.NewWorkerOn(e.App.Redis, map[string]int{qname: 1}, 2, time.UTC, log)
	for taskType, h := range e.App.Handlers() {
		w.Handle(taskType, h)
	}
	relay := outbox.NewRelay(e.App.DB, q, log, e.Clock.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	// wait relays the outbox until n of patient1's pushes of a kind are settled.
	wait := func(kind string, n int) []notify.Push {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := relay.RelayOnce(ctx, 100); err != nil {
				t.Fatal(err)
			}
			var ps []notify.Push
			e.App.DB.Where("kind = ? AND user_id = ? AND status IN ?", kind, e.Demo.Users["fake-openid-patient1"],
				[]string{notify.StatusSent, notify.StatusNoQuota, notify.StatusFailed, notify.StatusCapped}).Order("scheduled_at").Find(&ps)
			if len(ps) >= n {
				return ps
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("fewer than %d %s pushes settled in time", n, kind)
		return nil
	}

	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	reg := e.App.Notify.Templates()
	for _, kind := range []string{notify.KindAppointmentReminder, notify.KindAppointmentReminder, notify.KindQuestionnaireDue} {
		tmpl, _ := reg.Template(kind)
		if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/subscriptions", Token: tok,
			Body: map[string]any{"results": []map[string]string{{"template_id": tmpl.TemplateID, "result": "accept"}}}}); resp.Status != http.StatusOK {
			t.Fatalf("subscribe: %d %s", resp.Status, resp.Body)
		}
	}

	// Appointment tomorrow at 15:00: the ten-minute job writes the reminders
	// of the day before (18:00) and of the morning (07:00, which the quiet hours hold until 08:00).
	cm := e.LoginStaff("cm1")
	start := time.Date(2026, 3, 3, 15, 0, 0, 0, loc)
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/appointments", Cookie: cm.Cookie, CSRF: cm.CSRF,
		Body: map[string]any{"kind": "revisit", "starts_at": start, "ends_at": start.Add(30 * time.Minute), "department": "骨科门诊", "location": "门诊楼3楼312室"}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("book: %d %s", resp.Status, resp.Body)
	}
	if err := e.App.Handlers()[appointment.TaskRemind](ctx, asynq.NewTask(appointment.TaskRemind, nil)); err != nil {
		t.Fatal(err)
	}
	appt := wait(notify.KindAppointmentReminder, 2)
	if len(appt) != 2 || appt[0].Status != notify.StatusSent || appt[1].Status != notify.StatusSent ||
		appt[0].ScheduledAt.In(loc).Format("01-02 15:04") != "03-02 18:00" || appt[1].ScheduledAt.In(loc).Format("01-02 15:04") != "03-03 08:00" {
		t.Fatalf("appointment pushes %+v, want two sent, planned for 18:00 the day before and that morning (07:00, held by the quiet hours until 08:00)", appt)
	}
	tmpl, _ := reg.Template(notify.KindAppointmentReminder)
	got := sentWith(e.Fake.Sent(), "fake-openid-patient1", tmpl.TemplateID)
	if len(got) != 2 || got[0].Data["time2"] != "2026年03月03日 15:00" || got[0].Page != "pages/appointments/appointments?patient="+p1 {
		t.Fatalf("appointment cards %+v, want two showing the appointment's time", got)
	}

	// A questionnaire given today and not answered: reminded tomorrow by the daily job.
	resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/questionnaires", Cookie: cm.Cookie, CSRF: cm.CSRF,
		Body: map[string]any{"questionnaire": "pain_nrs"}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("assign: %d %s", resp.Status, resp.Body)
	}
	plan := func() {
		t.Helper()
		if _, err := client.Enqueue(ctx, asynq.NewTask(notify.TaskDailyReminders, nil), asynq.Queue(qname)); err != nil {
			t.Fatal(err)
		}
	}
	plan() // the same day: nothing yet
	e.Clock.Advance(24 * time.Hour)
	plan()
	qn := wait(notify.KindQuestionnaireDue, 1)[0]
	tmpl, _ = reg.Template(notify.KindQuestionnaireDue)
	if qn.Status != notify.StatusSent || len(sentWith(e.Fake.Sent(), "fake-openid-patient1", tmpl.TemplateID)) != 1 {
		t.Fatalf("questionnaire push %+v", qn)
	}
	var ns []notify.Notification
	e.App.DB.Where("patient_id = ? AND kind IN ?", p1, []string{notify.KindAppointmentReminder, notify.KindQuestionnaireDue}).Find(&ns)
	if len(ns) != 3 {
		t.Fatalf("%d in-app notifications, want the appointment's two and the questionnaire's", len(ns))
	}
}
