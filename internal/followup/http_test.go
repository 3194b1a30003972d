package followup_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type view struct {
	ID          string     `json:"id"`
	PatientID   string     `json:"patient_id"`
	Title       string     `json:"title"`
	Source      string     `json:"source"`
	Status      string     `json:"status"`
	Overdue     bool       `json:"overdue"`
	EscalatedAt *time.Time `json:"escalated_at"`
	WindowEnd   time.Time  `json:"window_end"`
	Outcome     *struct {
		Reached   bool   `json:"reached"`
		Adherence string `json:"adherence"`
	} `json:"outcome"`
}

type list struct{ Items []view }

type staff struct {
	t *testing.T
	e *apitest.Env
	s apitest.StaffSession
}

func (c staff) do(method, path string, body any, want int, code string, v any) {
	c.t.Helper()
	resp := c.e.Do(apitest.Request{Method: method, Path: "/api/v1" + path, Body: body, Cookie: c.s.Cookie, CSRF: c.s.CSRF})
	if resp.Status != want || code != "" && resp.ErrorCode() != code {
		c.t.Fatalf("%s %s: %d %s, want %d %s", method, path, resp.Status, resp.Body, want, code)
	}
	if v != nil {
		resp.JSON(c.t, v)
	}
}

func find(items []view, title string) (view, bool) {
	for _, v := range items {
		if strings.HasPrefix(v.Title, title) {
			return v, true
		}
	}
	return view{}, false
}

func TestWorklistOutcomeAndAccess(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	cm1 := staff{t, e, e.LoginStaff("cm1")}
	cm2 := staff{t, e, e.LoginStaff("cm2")}

	// patient1 (knee, medium risk, discharged 10 days ago): day-3 call overdue, day-7 call open.
	var mine list
	cm1.do(http.MethodGet, "/followups", nil, 200, "", &mine)
	d3, ok := find(mine.Items, "出院第3天")
	if !ok || !d3.Overdue || d3.PatientID != e.Demo.Patients["patient1"] {
		t.Fatalf("cm1's worklist lacks patient1's overdue day-3 call: %+v", mine.Items)
	}
	d7, ok := find(mine.Items, "出院第7天")
	if !ok || d7.Overdue {
		t.Fatalf("day-7 call %+v", d7)
	}
	for _, v := range mine.Items {
		if v.PatientID == e.Demo.Patients["patient3"] {
			t.Fatal("cm1 sees cm2's patient's follow-up")
		}
	}
	var theirs list
	cm2.do(http.MethodGet, "/followups", nil, 200, "", &theirs)
	if v, ok := find(theirs.Items, "出院第21天"); !ok || !v.Overdue {
		t.Fatalf("cm2's worklist lacks patient3's overdue day-21 call: %+v", theirs.Items)
	}

	// Access: the care team only.
	cm2.do(http.MethodGet, p1+"/followups", nil, 404, "not_found", nil)
	cm2.do(http.MethodPost, p1+"/followups/"+d3.ID+"/outcome", map[string]any{"reached": true}, 404, "not_found", nil)
	patient := e.LoginWeChat("patient1").AccessToken
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1" + p1 + "/followups", Token: patient}); r.Status != 404 {
		t.Fatalf("patient reads follow-ups: %d", r.Status)
	}
	// Someone else's patient's follow-up through one's own patient: 404.
	cm1.do(http.MethodPost, "/patients/"+e.Demo.Patients["patient2"]+"/followups/"+d3.ID+"/outcome", map[string]any{"reached": true}, 404, "not_found", nil)

	// Outcome: validated, recorded once.
	cm1.do(http.MethodPost, p1+"/followups/"+d3.ID+"/outcome", map[string]any{"symptoms": "膝关节轻度肿胀"}, 400, "reached_required", nil)
	cm1.do(http.MethodPost, p1+"/followups/"+d3.ID+"/outcome", map[string]any{"reached": true, "adherence": "sometimes"}, 400, "", nil)
	var done view
	cm1.do(http.MethodPost, p1+"/followups/"+d3.ID+"/outcome", map[string]any{"reached": true, "symptoms": "膝关节轻度肿胀，夜间疼痛NRS 4",
		"adherence": "partial", "problems": "漏服止痛药", "next_action": "指导按时服药，3天后再次电话随访"}, 200, "", &done)
	if done.Status != "done" || done.Overdue || done.Outcome == nil || !done.Outcome.Reached || done.Outcome.Adherence != "partial" {
		t.Fatalf("recorded %+v", done)
	}
	cm1.do(http.MethodPost, p1+"/followups/"+d3.ID+"/outcome", map[string]any{"reached": false}, 409, "followup_already_recorded", nil)
	if strings.Contains(e.Logs(), "漏服止痛药") {
		t.Fatal("outcome text in the logs")
	}

	// Reschedule: not into the past; a new window clears the overdue flag.
	today := e.Clock.Now().In(shanghai)
	cm1.do(http.MethodPost, p1+"/followups/"+d7.ID+"/reschedule", map[string]any{"due_on": today.AddDate(0, 0, -1).Format(time.DateOnly)}, 422, "due_in_past", nil)
	cm1.do(http.MethodPost, p1+"/followups/"+d7.ID+"/reschedule", map[string]any{"due_on": "2026/03/01"}, 400, "invalid_date", nil)
	var moved view
	cm1.do(http.MethodPost, p1+"/followups/"+d7.ID+"/reschedule", map[string]any{"due_on": today.AddDate(0, 0, 2).Format(time.DateOnly), "window_days": 1, "channel": "wechat"}, 200, "", &moved)
	if want := time.Date(today.Year(), today.Month(), today.Day()+4, 0, 0, 0, 0, shanghai); !moved.WindowEnd.Equal(want) || moved.Overdue {
		t.Fatalf("moved %+v, want window end %s", moved, want)
	}

	// Planning again creates nothing twice.
	var before, after int64
	e.App.DB.Model(&followup.Followup{}).Count(&before)
	if n, err := e.App.Followups.Sync(t.Context()); err != nil || n != 0 {
		t.Fatalf("second sync created %d (%v)", n, err)
	}
	e.App.DB.Model(&followup.Followup{}).Count(&after)
	if before != after {
		t.Fatalf("%d follow-ups, then %d", before, after)
	}
}

func TestOverdueFlagAndEscalationAtShanghaiMidnight(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	cm1 := staff{t, e, e.LoginStaff("cm1")}
	tomorrow := e.Clock.Now().In(shanghai).AddDate(0, 0, 1)
	var f view
	cm1.do(http.MethodPost, p1+"/followups", map[string]any{"title": "复查血常规结果电话告知", "channel": "phone",
		"due_on": tomorrow.Format(time.DateOnly)}, 201, "", &f)
	cm1.do(http.MethodPost, p1+"/followups", map[string]any{"title": "家访", "channel": "carrier_pigeon",
		"due_on": tomorrow.Format(time.DateOnly)}, 400, "invalid_channel", nil)

	scan := func() {
		if err := e.App.Handlers()[followup.TaskScanOverdue](t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Clear the demo's own overdue follow-ups first, so the counts below are this one's.
	scan()
	count := func(topic string) int {
		var events []outbox.Event
		e.App.DB.Where("topic = ?", topic).Find(&events)
		n := 0
		for _, ev := range events {
			if strings.Contains(string(ev.Payload), f.ID) {
				n++
			}
		}
		return n
	}
	// 23:59:30 on its last day in Shanghai (15:59:30 UTC): still open.
	last := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 23, 59, 30, 0, shanghai)
	e.Clock.Advance(last.Sub(e.Clock.Now()))
	scan()
	if count(followup.TopicOverdue) != 0 {
		t.Fatal("flagged before the window closed")
	}
	// 00:00:30 the next day in Shanghai, though still the same UTC date: overdue, flagged once.
	e.Clock.Advance(time.Minute)
	scan()
	scan()
	if n := count(followup.TopicOverdue); n != 1 {
		t.Fatalf("%d overdue events, want 1", n)
	}
	if count(followup.TopicEscalated) != 0 {
		t.Fatal("escalated before followup.escalate_after")
	}
	// 48 hours later it goes to the orthopaedic lead, once.
	e.Clock.Advance(48 * time.Hour)
	scan()
	scan()
	if n := count(followup.TopicEscalated); n != 1 {
		t.Fatalf("%d escalation events, want 1", n)
	}
	lead := staff{t, e, e.LoginStaff("lead1")}
	var escalated list
	lead.do(http.MethodGet, "/followups?view=escalated", nil, 200, "", &escalated)
	got, ok := find(escalated.Items, "复查血常规")
	if !ok || got.EscalatedAt == nil || !got.Overdue {
		t.Fatalf("lead1's escalations %+v", escalated.Items)
	}
	var to string
	e.App.DB.Model(&followup.Followup{}).Where("id = ?", f.ID).Pluck("escalated_to", &to)
	if to != e.Demo.Staff["lead1"] {
		t.Fatalf("escalated to %q, want lead1", to)
	}
	// The missed follow-up now counts against the patient's risk.
	n, err := followup.NewStore(e.App.DB).MissedFollowups(t.Context(), e.Demo.Patients["patient1"], e.Clock.Now().AddDate(0, 0, -90))
	if err != nil || n < 1 {
		t.Fatalf("missed follow-ups %d (%v)", n, err)
	}
}

// TestOverdueUsesTheConfiguredZone: a hospital configured for
// America/New_York (timezone in carepath.yaml). A follow-up due tomorrow
// there stays open through Shanghai's midnight and New York's last second
// of the day, is flagged at New York's midnight and escalated to the lead
// followup.escalate_after later, each once; the CM's worklist shows the flag.
func TestOverdueUsesTheConfiguredZone(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	e := apitest.New(t, func(c *config.Config) { c.Timezone = "America/New_York" })
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	cm1 := staff{t, e, e.LoginStaff("cm1")}
	due := e.Clock.Now().In(newYork).AddDate(0, 0, 1)
	var f view
	cm1.do(http.MethodPost, p1+"/followups", map[string]any{"title": "复查血常规结果电话告知", "channel": "phone",
		"due_on": due.Format(time.DateOnly)}, 201, "", &f)
	closes := time.Date(due.Year(), due.Month(), due.Day()+1, 0, 0, 0, 0, newYork)
	if !f.WindowEnd.Equal(closes) {
		t.Fatalf("window ends %s, want New York's midnight %s", f.WindowEnd, closes.UTC())
	}
	scan := func() {
		t.Helper()
		if err := e.App.Handlers()[followup.TaskScanOverdue](t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	scan() // the demo's own overdue follow-ups
	count := func(topic string) int {
		var events []outbox.Event
		e.App.DB.Where("topic = ?", topic).Find(&events)
		n := 0
		for _, ev := range events {
			if strings.Contains(string(ev.Payload), f.ID) {
				n++
			}
		}
		return n
	}
	worklistFlag := func() bool {
		t.Helper()
		var mine list
		staff{t, e, e.LoginStaff("cm1")}.do(http.MethodGet, "/followups", nil, 200, "", &mine)
		for _, v := range mine.Items {
			if v.ID == f.ID {
				return v.Overdue
			}
		}
		t.Fatalf("follow-up %s not in cm1's worklist", f.ID)
		return false
	}
	for _, at := range []time.Time{
		time.Date(due.Year(), due.Month(), due.Day()+1, 0, 0, 30, 0, shanghai), // the next day in Shanghai
		closes.Add(-30 * time.Second),                                          // 23:59:30 on the due day in New York
	} {
		e.Clock.Advance(at.Sub(e.Clock.Now()))
		scan()
		if count(followup.TopicOverdue) != 0 || worklistFlag() {
			t.Fatalf("overdue at %s (%s in New York), before the window closed", at.UTC(), at.In(newYork))
		}
	}
	e.Clock.Advance(time.Minute) // 00:00:30 the next day in New York
	scan()
	scan()
	if n := count(followup.TopicOverdue); n != 1 || !worklistFlag() {
		t.Fatalf("%d overdue events at New York's midnight, want 1 and the worklist flag", n)
	}
	e.Clock.Advance(closes.Add(48*time.Hour - time.Second).Sub(e.Clock.Now()))
	scan()
	if count(followup.TopicEscalated) != 0 {
		t.Fatal("escalated before 48 h after New York's midnight")
	}
	e.Clock.Advance(time.Second)
	scan()
	scan()
	if n := count(followup.TopicEscalated); n != 1 {
		t.Fatalf("%d escalation events, want 1", n)
	}
	var to string
	e.App.DB.Model(&followup.Followup{}).Where("id = ?", f.ID).Pluck("escalated_to", &to)
	if to != e.Demo.Staff["lead1"] {
		t.Fatalf("escalated to %q, want lead1", to)
	}
}
