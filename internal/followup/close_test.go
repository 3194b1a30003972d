package followup_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/platform/outbox"
)

// TestClosingThePlanCancelsItsFollowups: when the CM closes patient1's plan
// (结案), its pending follow-ups are cancelled, so none turns overdue or is
// escalated to the lead; done ones keep their outcome, a follow-up the CM
// added by hand stays, and no new ones are planned from the plan.
func TestClosingThePlanCancelsItsFollowups(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	cm1 := staff{t, e, e.LoginStaff("cm1")}
	if _, err := e.App.Followups.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	var manual view
	cm1.do(http.MethodPost, "/patients/"+p1+"/followups", map[string]any{"title": "电话确认转诊情况", "channel": "phone",
		"due_on": e.Clock.Now().In(shanghai).AddDate(0, 0, 2).Format(time.DateOnly)}, 201, "", &manual)
	plan, err := e.App.Careplan.Current(t.Context(), p1)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ ID, Status string }
	ofPlan := func() (pending, done, cancelled int) {
		var rows []row
		e.App.DB.Model(&followup.Followup{}).Where("plan_id = ?", plan.ID).Find(&rows)
		for _, r := range rows {
			switch r.Status {
			case followup.StatusPending:
				pending++
			case followup.StatusDone:
				done++
			case followup.StatusCancelled:
				cancelled++
			}
		}
		return
	}
	pending, done, _ := ofPlan()
	if pending == 0 || done == 0 {
		t.Fatalf("patient1's plan has %d pending and %d done follow-ups: the test needs both", pending, done)
	}
	cm1.do(http.MethodPost, "/patients/"+p1+"/plans/"+plan.ID+"/close", map[string]any{"reason": "transferred"}, 200, "", nil)
	topics := e.DeliverEvents()
	if !strings.Contains(strings.Join(topics, ","), careplan.TopicPlanClosed) {
		t.Fatalf("no %s event; delivered %v", careplan.TopicPlanClosed, topics)
	}
	if p, d, c := ofPlan(); p != 0 || d != done || c != pending {
		t.Fatalf("after closing: %d pending, %d done, %d cancelled; want 0, %d, %d", p, d, c, done, pending)
	}
	// A second delivery changes nothing.
	var ev outbox.Event
	e.App.DB.Where("topic = ?", careplan.TopicPlanClosed).Take(&ev)
	if err := e.App.Handlers()[careplan.TopicPlanClosed](t.Context(), asynq.NewTask(ev.Topic, ev.Payload)); err != nil {
		t.Fatal(err)
	}
	var l list
	cm1.do(http.MethodGet, "/patients/"+p1+"/followups", nil, 200, "", &l)
	if m, ok := find(l.Items, "电话确认转诊"); !ok || m.Status != followup.StatusPending {
		t.Fatalf("the hand-added follow-up: %+v", m)
	}
	for _, v := range l.Items {
		if v.Status == followup.StatusCancelled && v.Overdue {
			t.Fatalf("a cancelled follow-up shows as overdue: %+v", v)
		}
	}
	// A cancelled follow-up cannot be moved, but the call made before the
	// closing can still be recorded, once.
	var cancelled row
	e.App.DB.Model(&followup.Followup{}).Where("plan_id = ? AND status = ?", plan.ID, followup.StatusCancelled).Take(&cancelled)
	base := "/patients/" + p1 + "/followups/" + cancelled.ID
	cm1.do(http.MethodPost, base+"/reschedule", map[string]any{"due_on": e.Clock.Now().In(shanghai).AddDate(0, 0, 3).Format(time.DateOnly)},
		409, "followup_cancelled", nil)
	var recorded view
	cm1.do(http.MethodPost, base+"/outcome", map[string]any{"reached": true, "adherence": "good", "symptoms": "家属告知已转院"}, 200, "", &recorded)
	if recorded.Status != followup.StatusDone {
		t.Fatalf("the outcome of a cancelled follow-up: %+v", recorded)
	}
	cm1.do(http.MethodPost, base+"/outcome", map[string]any{"reached": true}, 409, "followup_already_recorded", nil)
	// Months later nothing of the plan is planned, flagged or escalated.
	e.Clock.Advance(120 * 24 * time.Hour)
	if _, err := e.App.Followups.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.App.Followups.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := ofPlan(); p != 0 {
		t.Fatalf("%d follow-ups planned from the closed plan", p)
	}
	var flagged int64
	e.App.DB.Model(&followup.Followup{}).Where("plan_id = ? AND (overdue_at IS NOT NULL OR escalated_at IS NOT NULL) AND status = ?",
		plan.ID, followup.StatusCancelled).Count(&flagged)
	if flagged != 0 {
		t.Fatalf("%d cancelled follow-ups flagged overdue or escalated", flagged)
	}
}
