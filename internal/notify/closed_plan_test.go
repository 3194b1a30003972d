package notify_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/notify"
)

// TestNoRemindersFromAClosedPlan: once the CM has closed patient1's plan
// (结案, here because the patient died), the daily job reminds neither of the
// questionnaire the plan's schedule had sent nor of readings the plan
// expected, however long nothing comes.
func TestNoRemindersFromAClosedPlan(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindQuestionnaireDue, "accept", 5)
	e.subscribe(t, tok, notify.KindReportingReminder, "accept", 5)
	if _, err := e.App.Questionnaires.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	var scheduled []string
	e.App.DB.Table("questionnaire_assignments").Where("patient_id = ? AND schedule_key IS NOT NULL AND status = ?", p1, "pending").Pluck("id", &scheduled)
	if len(scheduled) != 1 {
		t.Fatalf("the schedule sent patient1 %d questionnaires: the test needs one", len(scheduled))
	}
	e.DeliverEvents()
	e.run(t)
	// (The questionnaire the CM gave by hand is still reminded of: the CM's own act, not the plan's.)
	reminders := func() int {
		var n int64
		e.App.DB.Model(&notify.Push{}).Where("patient_id = ? AND (kind = ? OR kind = ? AND dedupe_key LIKE ?)", p1,
			notify.KindReportingReminder, notify.KindQuestionnaireDue, "%"+scheduled[0]+"%").Count(&n)
		return int(n)
	}
	before := reminders()
	plan, err := e.App.Careplan.Current(t.Context(), p1)
	if err != nil {
		t.Fatal(err)
	}
	cm := e.LoginStaff("cm1")
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/plans/" + plan.ID + "/close",
		Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]any{"reason": "died"}}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	e.DeliverEvents()
	for range 10 {
		e.Clock.Advance(24 * time.Hour)
		e.planDay(t)
		e.run(t)
	}
	if n := reminders() - before; n != 0 {
		t.Fatalf("%d reminders planned for patient1 after the plan was closed", n)
	}
}

// TestNoStageBeginsFromAClosedPlan: a stage change the relay has not handed
// on yet when the CM closes the plan (结案) pushes nothing.
func TestNoStageBeginsFromAClosedPlan(t *testing.T) {
	e := newEnv(t)
	p1 := e.Demo.Patients["patient1"]
	e.subscribe(t, e.LoginWeChat("patient1").AccessToken, notify.KindStageBegins, "accept", 5)
	plan, err := e.App.Careplan.Current(t.Context(), p1)
	if err != nil {
		t.Fatal(err)
	}
	next := ""
	for _, st := range plan.Stages {
		if st.Key != plan.CurrentStage.Key {
			next = st.Key
		}
	}
	stagePushes := func() int64 {
		var n int64
		e.App.DB.Model(&notify.Push{}).Where("patient_id = ? AND kind = ?", p1, notify.KindStageBegins).Count(&n)
		return n
	}
	before := stagePushes()
	cm := e.LoginStaff("cm1")
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/plans/" + plan.ID + "/transitions",
		Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]any{"stage": next, "reason": "转入下一阶段"}}); r.Status != http.StatusOK {
		t.Fatalf("transition: %d %s", r.Status, r.Body)
	}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/plans/" + plan.ID + "/close",
		Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]any{"reason": "died"}}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	e.DeliverEvents()
	if n := stagePushes() - before; n != 0 {
		t.Fatalf("%d stage_begins pushes planned for a plan closed before its stage change was relayed", n)
	}
}

// TestAHeldPushOfAClosedPlanIsSkipped: the plan moves to a new stage at
// 23:15; its stage_begins push waits for the quiet hours to end at 08:00. At
// 07:30 the CM closes the plan (the patient died): at 08:00 the push is
// skipped, not sent to the family's phones.
func TestAHeldPushOfAClosedPlanIsSkipped(t *testing.T) {
	e := newEnv(t)
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	e.subscribe(t, e.LoginWeChat("patient1").AccessToken, notify.KindStageBegins, "accept", 1)
	plan, err := e.App.Careplan.Current(t.Context(), p1)
	if err != nil {
		t.Fatal(err)
	}
	e.setLocal("23:15")
	e.request(t, notify.Request{Kind: notify.KindStageBegins, PatientID: p1, Recipients: []string{u1}, DedupeKey: "held-stage",
		At: e.Clock.Now(), PlanID: plan.ID})
	e.run(t)
	e.setLocal("07:30")
	cm := e.LoginStaff("cm1")
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/plans/" + plan.ID + "/close",
		Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]any{"reason": "died"}}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	e.setLocal("08:00")
	e.run(t)
	if p := e.pushes(t, "held-stage")[0]; p.Status != notify.StatusSkipped || len(e.Fake.Sent()) != 0 {
		t.Fatalf("a held push of a closed plan: %s, %d sent; want skipped, none sent", p.Status, len(e.Fake.Sent()))
	}
	if got := e.quota(t, u1, notify.KindStageBegins); got != 1 {
		t.Fatalf("credit after a skipped push: %d, want 1 (kept)", got)
	}
}
