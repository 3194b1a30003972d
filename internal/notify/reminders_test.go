package notify_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/wx/fake"
)

// planDay runs the periodic daily-reminders job as the scheduler's task would.
func (e *env) planDay(t *testing.T) {
	t.Helper()
	if err := e.App.Handlers()[notify.TaskDailyReminders](context.Background(), asynq.NewTask(notify.TaskDailyReminders, nil)); err != nil {
		t.Fatal(err)
	}
}

func sentWith(msgs []fake.SentMessage, openID, templateID string) []fake.SentMessage {
	var out []fake.SentMessage
	for _, m := range msgs {
		if m.ToOpenID == openID && m.TemplateID == templateID {
			out = append(out, m)
		}
	}
	return out
}

func (e *env) centre(t *testing.T, patient, patientID, kind string) int {
	t.Helper()
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + patientID + "/notifications", Token: e.LoginWeChat(patient).AccessToken})
	if resp.Status != http.StatusOK {
		t.Fatalf("notification centre: %d %s", resp.Status, resp.Body)
	}
	var view struct {
		Notifications []struct {
			Kind string `json:"kind"`
		} `json:"notifications"`
	}
	resp.JSON(t, &view)
	n := 0
	for _, it := range view.Notifications {
		if it.Kind == kind {
			n++
		}
	}
	return n
}

// TestReportingReminderOncePerPatientPerDay: a patient whose plan expects
// readings and who has not reported gets one reporting_reminder a day (the
// daily job run by two workers, or twice, pushes once), opening the report
// page and saying nothing about their health; in-app too.
func TestReportingReminderOncePerPatientPerDay(t *testing.T) {
	e := newEnv(t)
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindReportingReminder, "accept", 3)
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindReportingReminder)

	// Ten days without a reading: overdue whatever the pathway's rhythm.
	e.Clock.Advance(10 * 24 * time.Hour)
	e.planDay(t)
	e.planDay(t) // a second worker, or a rerun: no second push
	if errs := e.run(t); len(errs) > 0 {
		t.Fatal(errs)
	}
	got := sentWith(e.Fake.Sent(), "fake-openid-patient1", tmpl.TemplateID)
	if len(got) != 1 {
		t.Fatalf("%d reporting reminders to patient1, want 1 (all sent: %+v)", len(got), e.Fake.Sent())
	}
	m := got[0]
	if m.Page != "pages/report/report?patient="+p1 || m.Data["thing1"] != "请记得按计划上报健康数据" || len(m.Data) != 2 {
		t.Fatalf("reminder %+v", m)
	}
	if e.quota(t, u1, notify.KindReportingReminder) != 2 {
		t.Fatal("the reminder did not spend exactly one credit")
	}
	if n := e.centre(t, "patient1", p1, notify.KindReportingReminder); n != 1 {
		t.Fatalf("%d reporting reminders in the notification centre, want 1", n)
	}
	var log []notify.Push
	e.App.DB.Where("patient_id = ? AND kind = ? AND user_id = ?", p1, notify.KindReportingReminder, u1).Find(&log)
	if len(log) != 1 || log[0].Status != notify.StatusSent || !strings.HasPrefix(log[0].DedupeKey, "reporting_reminder:"+p1+":") {
		t.Fatalf("push log: %+v", log)
	}

	// The next day, still nothing reported: one more.
	e.Clock.Advance(24 * time.Hour)
	e.planDay(t)
	e.run(t)
	if n := len(sentWith(e.Fake.Sent(), "fake-openid-patient1", tmpl.TemplateID)); n != 2 {
		t.Fatalf("%d reminders after the second day, want 2", n)
	}

	// Reporting every expected reading stops the reminders.
	tok = e.LoginWeChat("patient1").AccessToken
	bodies := map[string]map[string]any{
		"blood_pressure": {"systolic": 122, "diastolic": 78}, "weight": {"value": 61.5}, "glucose": {"value": 6.1, "context": "fasting"},
		"heart_rate": {"value": 72}, "temperature": {"value": 36.6}, "spo2": {"value": 98}, "pain": {"score": 2, "context": "rest"},
		"symptoms": {"symptoms": []string{"fatigue"}}, "note": {"note": "今天很好"},
	}
	exps, err := e.App.Careplan.ExpectedReporting(context.Background(), p1)
	if err != nil || len(exps) == 0 {
		t.Fatalf("patient1's plan expects %v, %v: the test needs a plan that expects readings", exps, err)
	}
	for _, exp := range exps {
		body := map[string]any{"type": exp.Type, "measured_at": e.Clock.Now().Add(-time.Minute).Format(time.RFC3339)}
		for k, v := range bodies[exp.Type] {
			body[k] = v
		}
		if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: tok, Body: body}); resp.Status != http.StatusCreated {
			t.Fatalf("report %s: %d %s", exp.Type, resp.Status, resp.Body)
		}
	}
	e.Clock.Advance(24 * time.Hour)
	e.planDay(t)
	e.run(t)
	if n := len(sentWith(e.Fake.Sent(), "fake-openid-patient1", tmpl.TemplateID)); n != 2 {
		t.Fatalf("%d reminders after reporting, want still 2", n)
	}
}
