package careplan_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type planBody struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Pathway      struct{ Key, Name string }
	CurrentStage struct {
		Key      string  `json:"key"`
		Phase    string  `json:"phase"`
		StartsOn *string `json:"starts_on"`
		Day      int     `json:"day"`
	} `json:"current_stage"`
	NextStage *struct {
		Key      string  `json:"key"`
		StartsOn *string `json:"starts_on"`
	} `json:"next_stage"`
	Stages []struct {
		Key      string  `json:"key"`
		StartsOn *string `json:"starts_on"`
		State    string  `json:"state"`
	} `json:"stages"`
	Tasks     []taskBody `json:"tasks"`
	NextTasks []taskBody `json:"next_tasks"`
	Progress  struct {
		TasksTotal  int `json:"tasks_total"`
		TasksDone   int `json:"tasks_done"`
		StageNumber int `json:"stage_number"`
	} `json:"progress"`
	Vitals []struct {
		Type      string `json:"type"`
		EveryDays int    `json:"every_days"`
	} `json:"vitals"`
	Risk struct {
		Level      string   `json:"level"`
		Computed   string   `json:"computed_level"`
		Overridden bool     `json:"overridden"`
		Reason     string   `json:"reason"`
		Factors    []string `json:"factors"`
	} `json:"risk"`
	Rhythm struct {
		EveryDays int `json:"every_days"`
	} `json:"follow_up_rhythm"`
	CaseManager *struct {
		Name       string `json:"name"`
		Department string `json:"department"`
		Contact    string `json:"contact"`
	} `json:"case_manager"`
	Events []struct {
		Event   string `json:"event"`
		Date    string `json:"date"`
		Planned *bool  `json:"planned"`
	} `json:"events"`
}

type taskBody struct {
	ID     string  `json:"id"`
	Key    string  `json:"key"`
	Stage  string  `json:"stage"`
	Owner  string  `json:"owner"`
	DueOn  *string `json:"due_on"`
	Status string  `json:"status"`
}

func (p planBody) task(t *testing.T, key string) taskBody {
	t.Helper()
	for _, x := range p.Tasks {
		if x.Key == key {
			return x
		}
	}
	t.Fatalf("plan has no task %s", key)
	return taskBody{}
}

type actor struct {
	token string
	staff apitest.StaffSession
}

func (a actor) req(method, path string, body any) apitest.Request {
	return apitest.Request{Method: method, Path: path, Body: body, Token: a.token, Cookie: a.staff.Cookie, CSRF: a.staff.CSRF}
}

func do(t *testing.T, e *apitest.Env, a actor, method, path string, body any, want int) apitest.Response {
	t.Helper()
	resp := e.Do(a.req(method, path, body))
	if resp.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.Status, resp.Body, want)
	}
	return resp
}

func getPlan(t *testing.T, e *apitest.Env, a actor, path string) planBody {
	t.Helper()
	var p planBody
	do(t, e, a, http.MethodGet, path, nil, http.StatusOK).JSON(t, &p)
	return p
}

func today(e *apitest.Env) time.Time { return careplan.DayOf(e.Clock.Now(), shanghai) }

func dayFromToday(e *apitest.Env, n int) string { return careplan.FormatDay(today(e).AddDate(0, 0, n)) }

func TestDemoPatientsAreEnrolledAtDifferentStages(t *testing.T) {
	e := apitest.New(t)
	cm1, cm2 := actor{staff: e.LoginStaff("cm1")}, actor{staff: e.LoginStaff("cm2")}
	want := map[string]struct {
		cm             actor
		pathway, stage string
		risk           string
	}{
		"patient1": {cm1, "knee_arthroplasty", "post_w2_4", "medium"},
		"patient2": {cm1, "knee_arthroplasty", "pre_admission", "low"},
		"patient3": {cm2, "heart_failure", "post_m2_3", "high"},
		"patient4": {cm2, "hypertension", "long_term", "medium"},
		"patient5": {cm1, "lung_cancer_chemo", "in_hospital", "medium"},
		"patient6": {cm2, "type2_diabetes", "post_d1_7", "low"},
	}
	for key, w := range want {
		p := getPlan(t, e, w.cm, "/api/v1/patients/"+e.Demo.Patients[key]+"/plan")
		if p.Pathway.Key != w.pathway || p.CurrentStage.Key != w.stage || p.Risk.Level != w.risk {
			t.Errorf("%s: %s at %s, risk %s; want %s at %s, risk %s", key, p.Pathway.Key, p.CurrentStage.Key, p.Risk.Level, w.pathway, w.stage, w.risk)
		}
		if p.CaseManager == nil || p.CaseManager.Name == "" {
			t.Errorf("%s: the plan names no case manager", key)
		} else if w.cm == cm1 && (p.CaseManager.Name != "周敏（骨科个案管理师）" || p.CaseManager.Department != "骨科") {
			t.Errorf("%s: case manager %+v, want 周敏 of 骨科", key, *p.CaseManager)
		}
		// The patient record carries the plan's level, for the caseload filter.
		var stored string
		e.App.DB.Table("patients").Select("risk_level").Where("id = ?", e.Demo.Patients[key]).Scan(&stored)
		if stored != w.risk {
			t.Errorf("%s: patients.risk_level %s, want %s", key, stored, w.risk)
		}
	}
	var list struct {
		Items []struct {
			PatientID    string `json:"patient_id"`
			OverdueTasks int    `json:"overdue_tasks"`
			Stage        struct{ Key string }
			NextTask     *taskBody `json:"next_task"`
		} `json:"items"`
	}
	do(t, e, cm1, http.MethodGet, "/api/v1/plans", nil, http.StatusOK).JSON(t, &list)
	var mine []string
	for _, it := range list.Items {
		for k, id := range e.Demo.Patients {
			if id == it.PatientID {
				mine = append(mine, k)
			}
		}
	}
	sort.Strings(mine)
	if strings.Join(mine, ",") != "patient1,patient2,patient5" {
		t.Fatalf("cm1's caseload: %v", mine)
	}
	do(t, e, cm2, http.MethodGet, "/api/v1/plans?risk_level=high", nil, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].PatientID != e.Demo.Patients["patient3"] {
		t.Fatalf("cm2's high-risk plans: %+v", list.Items)
	}
	do(t, e, cm1, http.MethodGet, "/api/v1/plans?pathway=nonsense", nil, http.StatusBadRequest)
	do(t, e, actor{token: e.LoginWeChat("patient1").AccessToken}, http.MethodGet, "/api/v1/plans", nil, http.StatusForbidden)

	// patient1, discharged 10 days ago: the first week's stage has passed and
	// the patient's own view says what comes next and whom to ask.
	p1 := getPlan(t, e, actor{token: e.LoginWeChat("patient1").AccessToken}, "/api/v1/patients/"+e.Demo.Patients["patient1"]+"/plan")
	if p1.CurrentStage.Day != 3 || p1.NextStage == nil || p1.NextStage.Key != "post_m2_3" || *p1.NextStage.StartsOn != dayFromToday(e, 18) {
		t.Fatalf("patient1's stage day %d, next %+v", p1.CurrentStage.Day, p1.NextStage)
	}
	if got := p1.task(t, "call_d14"); *got.DueOn != dayFromToday(e, 4) || got.Status != careplan.TaskUpcoming {
		t.Fatalf("day-14 call: %+v", got)
	}
	if len(p1.NextTasks) == 0 || p1.CaseManager.Contact == "" || p1.Progress.TasksDone == 0 {
		t.Fatalf("patient1's view lacks next tasks, contact or progress: %+v", p1)
	}
	if p1.Rhythm.EveryDays != 90 {
		t.Fatalf("medium risk rhythm every %d days, want 90", p1.Rhythm.EveryDays)
	}
}

// TestEveryShippedPathwayThroughItsEvents enrols a patient in each shipped
// pathway with only the enrolment known, records admission and discharge,
// and checks stages and due dates at each step.
func TestEveryShippedPathwayThroughItsEvents(t *testing.T) {
	e := apitest.New(t)
	cm1 := actor{staff: e.LoginStaff("cm1")}
	patient := e.Demo.Patients["patient7"] // not enrolled anywhere yet
	base := "/api/v1/patients/" + patient
	for _, pw := range e.App.Careplan.Pathways().All() {
		t.Run(pw.Key, func(t *testing.T) {
			var p planBody
			do(t, e, cm1, http.MethodPost, base+"/plans", map[string]any{"pathway": pw.Key}, http.StatusCreated).JSON(t, &p)
			if p.CurrentStage.Key != pw.Stages[0].Key || p.Progress.StageNumber != 1 {
				t.Fatalf("a new plan starts at %s (%d)", p.CurrentStage.Key, p.Progress.StageNumber)
			}
			cmIntake := p.task(t, "cm_intake")
			if cmIntake.DueOn == nil || *cmIntake.DueOn != dayFromToday(e, 1) {
				t.Fatalf("cm_intake due %v, want tomorrow", cmIntake.DueOn)
			}
			for _, tk := range p.Tasks {
				if strings.Contains(tk.Key, "_d3") && tk.DueOn != nil {
					t.Fatalf("%s is dated before discharge is known", tk.Key)
				}
			}
			plan := base + "/plans/" + p.ID
			do(t, e, cm1, http.MethodPost, plan+"/events", map[string]string{"event": "admission"}, http.StatusOK).JSON(t, &p)
			if p.CurrentStage.Key != "in_hospital" {
				t.Fatalf("after admission today the plan is at %s", p.CurrentStage.Key)
			}
			if pw.UsesAnchor(careplan.AnchorSurgery) {
				do(t, e, cm1, http.MethodPost, plan+"/events", map[string]string{"event": "surgery", "date": dayFromToday(e, 0)}, http.StatusOK)
			}
			do(t, e, cm1, http.MethodPost, plan+"/events", map[string]string{"event": "discharge", "date": dayFromToday(e, 0)}, http.StatusOK).JSON(t, &p)
			if p.CurrentStage.Key != "post_d1_7" || p.CurrentStage.Phase != careplan.PhasePost {
				t.Fatalf("after discharge today the plan is at %s", p.CurrentStage.Key)
			}
			for _, tk := range p.Tasks {
				if tk.DueOn == nil {
					t.Errorf("%s still undated with every event recorded", tk.Key)
				}
			}
			call := p.task(t, "call_d3")
			if *call.DueOn != dayFromToday(e, 3) {
				t.Fatalf("call_d3 due %s, want %s", *call.DueOn, dayFromToday(e, 3))
			}
			// Correcting the discharge to tomorrow moves what hangs on it.
			do(t, e, cm1, http.MethodPost, plan+"/events", map[string]string{"event": "discharge", "date": dayFromToday(e, 1)}, http.StatusOK).JSON(t, &p)
			if got := *p.task(t, "call_d3").DueOn; got != dayFromToday(e, 4) {
				t.Fatalf("after correcting discharge call_d3 is due %s, want %s", got, dayFromToday(e, 4))
			}
			var hist struct {
				Items []struct{ Kind, From, To, Reason string }
			}
			do(t, e, cm1, http.MethodGet, plan+"/history", nil, http.StatusOK).JSON(t, &hist)
			var stages []string
			for _, h := range hist.Items {
				if h.Kind == careplan.HistoryStage {
					stages = append(stages, h.From+"→"+h.To)
				}
			}
			if want := "→pre_admission,pre_admission→in_hospital,in_hospital→post_d1_7"; strings.Join(stages, ",") != want {
				t.Fatalf("stage history %v, want %s", stages, want)
			}
		})
	}
	var list struct{ Items []struct{ ID string } }
	do(t, e, cm1, http.MethodGet, base+"/plans", nil, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 5 {
		t.Fatalf("patient7 has %d plans, want one per pathway", len(list.Items))
	}
}

func TestEnrolmentAndEventErrors(t *testing.T) {
	e := apitest.New(t)
	cm1 := actor{staff: e.LoginStaff("cm1")}
	p7 := "/api/v1/patients/" + e.Demo.Patients["patient7"]
	p1 := "/api/v1/patients/" + e.Demo.Patients["patient1"]
	cases := []struct {
		name        string
		path        string
		body        any
		status      int
		code, field string
	}{
		{"twice in the same active pathway", p1 + "/plans", map[string]any{"pathway": "knee_arthroplasty"}, 409, "already_enrolled", ""},
		{"unknown pathway", p7 + "/plans", map[string]any{"pathway": "appendix"}, 400, "unknown_pathway", "pathway"},
		{"missing pathway", p7 + "/plans", map[string]any{}, 400, "invalid_field", "pathway"},
		{"bad date", p7 + "/plans", map[string]any{"pathway": "hypertension", "anchors": map[string]string{"admission": "2026-13-01"}}, 400, "invalid_date", "anchors.admission"},
		{"unknown event", p7 + "/plans", map[string]any{"pathway": "hypertension", "anchors": map[string]string{"birth": "2026-01-01"}}, 400, "unknown_event", "anchors.birth"},
		{"surgery on a pathway without one", p7 + "/plans", map[string]any{"pathway": "heart_failure", "anchors": map[string]string{"surgery": "2026-01-01"}}, 400, "event_not_in_pathway", "anchors.surgery"},
		{"discharge before admission", p7 + "/plans", map[string]any{"pathway": "heart_failure",
			"anchors": map[string]string{"admission": "2026-03-10", "discharge": "2026-03-01"}}, 422, "event_out_of_order", ""},
		{"unknown comorbidity", p7 + "/plans", map[string]any{"pathway": "hypertension", "comorbidities": []string{"diabetes", "gout"}}, 400, "unknown_comorbidity", "comorbidities[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, e, cm1, http.MethodPost, tc.path, tc.body, tc.status)
			if resp.ErrorCode() != tc.code {
				t.Fatalf("code %s, want %s: %s", resp.ErrorCode(), tc.code, resp.Body)
			}
			if tc.field != "" && !strings.Contains(string(resp.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("error does not name %s: %s", tc.field, resp.Body)
			}
		})
	}
	plan := getPlan(t, e, cm1, p1+"/plan")
	events := p1 + "/plans/" + plan.ID + "/events"
	// patient1 was admitted 14 days ago, operated 13 days ago and discharged 10 days ago.
	for _, tc := range []struct {
		name   string
		body   map[string]string
		status int
		code   string
	}{
		{"discharge before admission", map[string]string{"event": "discharge", "date": dayFromToday(e, -15)}, 422, "event_out_of_order"},
		{"admission after discharge", map[string]string{"event": "admission", "date": dayFromToday(e, -5)}, 422, "event_out_of_order"},
		{"surgery before admission", map[string]string{"event": "surgery", "date": dayFromToday(e, -20)}, 422, "event_out_of_order"},
		{"bad date", map[string]string{"event": "discharge", "date": "yesterday"}, 400, "invalid_date"},
		{"unknown event", map[string]string{"event": "birthday"}, 400, "unknown_event"},
	} {
		t.Run("event "+tc.name, func(t *testing.T) {
			resp := do(t, e, cm1, http.MethodPost, events, tc.body, tc.status)
			if resp.ErrorCode() != tc.code {
				t.Fatalf("code %s, want %s: %s", resp.ErrorCode(), tc.code, resp.Body)
			}
		})
	}
	// Only an admission is planned or not: the mark on another event is refused, named, and changes nothing.
	for _, ev := range []string{"discharge", "surgery"} {
		resp := do(t, e, cm1, http.MethodPost, events, map[string]any{"event": ev, "date": dayFromToday(e, -11), "planned": true}, 400)
		if resp.ErrorCode() != "planned_not_admission" || !strings.Contains(string(resp.Body), "只有入院事件可以标记为计划内入院") {
			t.Fatalf("planned %s: %s", ev, resp.Body)
		}
	}
	for _, ev := range getPlan(t, e, cm1, p1+"/plan").Events {
		if ev.Event == careplan.AnchorDischarge && ev.Date != dayFromToday(e, -10) || ev.Event != careplan.AnchorAdmission && ev.Planned != nil {
			t.Fatalf("after refusing planned on other events: %+v", ev)
		}
	}
	// Recording an event again with the same day changes nothing and is no error.
	for i := 0; i < 2; i++ {
		do(t, e, cm1, http.MethodPost, events, map[string]string{"event": "discharge", "date": dayFromToday(e, -10)}, http.StatusOK)
	}
	do(t, e, cm1, http.MethodPost, p1+"/plans/no-such-plan/events", map[string]string{"event": "discharge"}, http.StatusNotFound)
	// Another patient's plan id under this patient's path is not found.
	p2plan := getPlan(t, e, cm1, "/api/v1/patients/"+e.Demo.Patients["patient2"]+"/plan")
	do(t, e, cm1, http.MethodGet, p1+"/plans/"+p2plan.ID, nil, http.StatusNotFound)
	do(t, e, cm1, http.MethodGet, p7+"/plan", nil, http.StatusNotFound)
}

// TestStagesMoveWhenTheirDayComes follows patient6 (type 2 diabetes,
// discharged 3 days ago) to the Shanghai midnight that opens the next stage.
func TestStagesMoveWhenTheirDayComes(t *testing.T) {
	e := apitest.New(t)
	cm2 := actor{staff: e.LoginStaff("cm2")}
	base := "/api/v1/patients/" + e.Demo.Patients["patient6"]
	p := getPlan(t, e, cm2, base+"/plan")
	if p.CurrentStage.Key != "post_d1_7" || p.NextStage == nil || p.NextStage.Key != "post_w2_4" {
		t.Fatalf("patient6 at %s, next %+v", p.CurrentStage.Key, p.NextStage)
	}
	e.DeliverEvents() // the seed's events
	next, _ := careplan.ParseDay(*p.NextStage.StartsOn)
	opens := time.Date(next.Year(), next.Month(), next.Day(), 0, 0, 0, 0, shanghai)
	e.Clock.Advance(opens.Add(-time.Second).Sub(e.Clock.Now()))
	ctx := context.Background()
	if n, err := e.App.Careplan.AdvanceDue(ctx); err != nil || n != 0 {
		t.Fatalf("one second before Shanghai midnight: %d plans moved (%v), want 0", n, err)
	}
	e.Clock.Advance(time.Second)
	if n, err := e.App.Careplan.AdvanceDue(ctx); err != nil || n != 1 {
		t.Fatalf("at Shanghai midnight: %d plans moved (%v), want patient6's", n, err)
	}
	cm2 = actor{staff: e.LoginStaff("cm2")} // the session idled out while the clock moved
	p = getPlan(t, e, cm2, base+"/plan")
	if p.CurrentStage.Key != "post_w2_4" || p.CurrentStage.Day != 0 {
		t.Fatalf("patient6 at %s day %d, want post_w2_4 day 0", p.CurrentStage.Key, p.CurrentStage.Day)
	}
	// The change went out through the outbox with what the pipeline needs.
	var ev outbox.Event
	if err := e.App.DB.Where("topic = ? AND dispatched_at IS NULL", careplan.TopicStageChanged).Take(&ev).Error; err != nil {
		t.Fatalf("no stage_changed event: %v", err)
	}
	var payload careplan.StageChanged
	if err := json.Unmarshal(ev.Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.PatientID != e.Demo.Patients["patient6"] || payload.PlanID != p.ID || payload.From != "post_d1_7" ||
		payload.To != "post_w2_4" || payload.Message != "plan_stage_started" || payload.Trigger != careplan.TriggerDay {
		t.Fatalf("stage_changed payload %+v", payload)
	}
	// The worker's handler assigns the new stage's education, once however often it is delivered.
	if topics := e.DeliverEvents(); len(topics) != 1 {
		t.Fatalf("delivered %v", topics)
	}
	handler := e.App.Handlers()[careplan.TopicStageChanged]
	if err := e.App.Education.HandleStageChanged(ctx, ev.Payload); err != nil || handler == nil {
		t.Fatalf("redelivery: %v", err)
	}
	feed := feedOf(t, e, cm2, e.Demo.Patients["patient6"])
	if n := countArticle(feed, "t2d-foot-care"); n != 1 {
		t.Fatalf("t2d-foot-care assigned %d times, want once; feed %v", n, feed)
	}
	if n, _ := e.App.Careplan.AdvanceDue(ctx); n != 0 {
		t.Fatalf("a second scan moved %d plans", n)
	}
}

func TestManualTransitionKeepsReasonAndHolds(t *testing.T) {
	e := apitest.New(t)
	cm1 := actor{staff: e.LoginStaff("cm1")}
	base := "/api/v1/patients/" + e.Demo.Patients["patient1"]
	p := getPlan(t, e, cm1, base+"/plan")
	tr := base + "/plans/" + p.ID + "/transitions"
	if r := do(t, e, cm1, http.MethodPost, tr, map[string]string{"stage": "post_d1_7"}, 400); !strings.Contains(string(r.Body), `"field":"reason"`) {
		t.Fatalf("a transition without a reason: %s", r.Body)
	}
	if r := do(t, e, cm1, http.MethodPost, tr, map[string]string{"stage": "nowhere", "reason": "x"}, 400); r.ErrorCode() != "unknown_stage" {
		t.Fatalf("unknown stage: %s", r.Body)
	}
	if r := do(t, e, cm1, http.MethodPost, tr, map[string]string{"stage": "post_w2_4", "reason": "x"}, 422); r.ErrorCode() != "already_in_stage" {
		t.Fatalf("same stage: %s", r.Body)
	}
	do(t, e, cm1, http.MethodPost, tr, map[string]string{"stage": "post_d1_7", "reason": "切口渗液，恢复第一周的观察与随访"}, 200).JSON(t, &p)
	if p.CurrentStage.Key != "post_d1_7" {
		t.Fatalf("after the manual move the plan is at %s", p.CurrentStage.Key)
	}
	// The scan does not undo the CM's decision the same day...
	if n, _ := e.App.Careplan.AdvanceDue(context.Background()); n != 0 {
		t.Fatal("the scan undid a manual transition")
	}
	// ...but the next stage that arrives after it moves the plan on.
	e.Clock.Advance(19 * 24 * time.Hour)
	if n, err := e.App.Careplan.AdvanceDue(context.Background()); n == 0 || err != nil {
		t.Fatalf("no plan moved on when the next stage's day came: %v", err)
	}
	cm1 = actor{staff: e.LoginStaff("cm1")}
	p = getPlan(t, e, cm1, base+"/plan")
	if p.CurrentStage.Key != "post_m2_3" {
		t.Fatalf("plan at %s, want post_m2_3", p.CurrentStage.Key)
	}
	var hist struct {
		Items []struct {
			Kind, From, To, Reason string
			ActorKind              string `json:"actor_kind"`
		} `json:"items"`
	}
	do(t, e, cm1, http.MethodGet, base+"/plans/"+p.ID+"/history", nil, 200).JSON(t, &hist)
	var got []string
	for _, h := range hist.Items {
		if h.Kind == careplan.HistoryStage {
			got = append(got, h.To+" "+h.ActorKind+" "+h.Reason)
		}
	}
	want := []string{"post_w2_4 staff 入组时所处阶段", "post_d1_7 staff 切口渗液，恢复第一周的观察与随访", "post_m2_3 system 到达阶段开始日期自动进入"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stage history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRiskOverrideAndComorbidities(t *testing.T) {
	e := apitest.New(t)
	cm2 := actor{staff: e.LoginStaff("cm2")}
	id := e.Demo.Patients["patient6"] // 59, diabetes: low
	base := "/api/v1/patients/" + id
	p := getPlan(t, e, cm2, base+"/plan")
	if p.Risk.Level != "low" || p.Risk.Overridden || len(p.Risk.Factors) == 0 || p.Rhythm.EveryDays != 365 {
		t.Fatalf("patient6's risk %+v rhythm %+v", p.Risk, p.Rhythm)
	}
	risk := base + "/plans/" + p.ID + "/risk"
	if r := do(t, e, cm2, http.MethodPut, risk, map[string]string{"level": "high"}, 400); !strings.Contains(string(r.Body), `"field":"reason"`) {
		t.Fatalf("an override without a reason: %s", r.Body)
	}
	do(t, e, cm2, http.MethodPut, risk, map[string]string{"level": "extreme", "reason": "x"}, 400)
	do(t, e, cm2, http.MethodPut, risk, map[string]string{"level": "high", "reason": "独居，视力差，胰岛素自我注射困难"}, 200).JSON(t, &p)
	if p.Risk.Level != "high" || p.Risk.Computed != "low" || !p.Risk.Overridden || p.Rhythm.EveryDays != 30 {
		t.Fatalf("after override: %+v %+v", p.Risk, p.Rhythm)
	}
	var profile struct {
		RiskLevel string `json:"risk_level"`
	}
	do(t, e, cm2, http.MethodGet, base, nil, 200).JSON(t, &profile)
	if profile.RiskLevel != "high" {
		t.Fatalf("patient record risk %s, want high", profile.RiskLevel)
	}
	// New comorbidities re-score; the override stays in force.
	var comorb struct{ Items []struct{ Code string } }
	do(t, e, cm2, http.MethodPut, base+"/comorbidities", map[string]any{"codes": []string{"diabetes_complicated", "ckd"}}, 200).JSON(t, &comorb)
	if len(comorb.Items) != 2 {
		t.Fatalf("comorbidities %+v", comorb)
	}
	p = getPlan(t, e, cm2, base+"/plan")
	if p.Risk.Computed != "medium" || p.Risk.Level != "high" {
		t.Fatalf("after comorbidities: %+v", p.Risk)
	}
	do(t, e, cm2, http.MethodPut, base+"/comorbidities", map[string]any{"codes": []string{"gout"}}, 400)
	do(t, e, cm2, http.MethodPut, risk, map[string]string{"level": "auto", "reason": "复诊后自我管理良好"}, 200).JSON(t, &p)
	if p.Risk.Level != "medium" || p.Risk.Overridden {
		t.Fatalf("back to the rules: %+v", p.Risk)
	}
	do(t, e, cm2, http.MethodGet, base, nil, 200).JSON(t, &profile)
	if profile.RiskLevel != "medium" {
		t.Fatalf("patient record risk %s, want medium", profile.RiskLevel)
	}
	var hist struct {
		Items []struct{ Kind, From, To, Reason string }
	}
	do(t, e, cm2, http.MethodGet, base+"/plans/"+p.ID+"/history", nil, 200).JSON(t, &hist)
	var risks []string
	for _, h := range hist.Items {
		if h.Kind == careplan.HistoryRisk {
			risks = append(risks, h.From+"→"+h.To)
		}
	}
	if strings.Join(risks, ",") != "low→high,high→medium" {
		t.Fatalf("risk history %v", risks)
	}
}

func TestPlanAccessRules(t *testing.T) {
	e := apitest.New(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	cm1 := actor{staff: e.LoginStaff("cm1")}
	actors := map[string]actor{
		"anonymous": {},
		"patient1":  {token: e.LoginWeChat("patient1").AccessToken},
		"patient2":  {token: e.LoginWeChat("patient2").AccessToken},
		"family1":   {token: e.LoginWeChat("family1").AccessToken}, // patient1's daughter, every scope
		"family2":   {token: e.LoginWeChat("family2").AccessToken}, // patient3's son, appointments only
		"cm1":       cm1,
		"cm2":       {staff: e.LoginStaff("cm2")},
		"lead1":     {staff: e.LoginStaff("lead1")},
		"admin":     {staff: e.LoginStaff("admin")},
	}
	plan1 := getPlan(t, e, cm1, "/api/v1/patients/"+p1+"/plan")
	reads := []struct {
		actor, patient string
		want           int
	}{
		{"anonymous", p1, 401},
		{"patient1", p1, 200}, {"patient1", p3, 404}, {"patient2", p1, 404},
		{"family1", p1, 200}, {"family2", p3, 404}, {"family2", p1, 404},
		{"cm1", p1, 200}, {"cm2", p1, 404}, {"cm2", p3, 200}, {"lead1", p1, 200}, {"admin", p1, 404},
	}
	for _, tc := range reads {
		for _, path := range []string{"/plan", "/plans", "/education"} {
			resp := e.Do(actors[tc.actor].req(http.MethodGet, "/api/v1/patients/"+tc.patient+path, nil))
			if resp.Status != tc.want {
				t.Errorf("%s GET %s of %s: %d, want %d", tc.actor, path, tc.patient[:8], resp.Status, tc.want)
			}
		}
	}
	events := "/api/v1/patients/" + p1 + "/plans/" + plan1.ID + "/events"
	for name, want := range map[string]int{"patient1": 404, "family1": 404, "cm2": 404, "admin": 404, "lead1": 200, "cm1": 200} {
		resp := e.Do(actors[name].req(http.MethodPost, events, map[string]string{"event": "discharge", "date": dayFromToday(e, -10)}))
		if resp.Status != want {
			t.Errorf("%s records an event: %d %s, want %d", name, resp.Status, resp.Body, want)
		}
	}
	// Tasks: the patient and a relative with the report scope complete the
	// patient's own tasks; CM tasks are the CM's.
	var patientTask, cmTask taskBody
	for _, tk := range plan1.Tasks {
		if tk.Owner == careplan.OwnerPatient && tk.Status != careplan.TaskDone && patientTask.ID == "" {
			patientTask = tk
		}
		if tk.Owner == careplan.OwnerCM && tk.Status != careplan.TaskDone && cmTask.ID == "" {
			cmTask = tk
		}
	}
	done := func(tk taskBody) string {
		return "/api/v1/patients/" + p1 + "/plans/" + plan1.ID + "/tasks/" + tk.ID + "/done"
	}
	if r := do(t, e, actors["patient1"], http.MethodPost, done(cmTask), nil, 403); r.ErrorCode() != "task_not_patient_owned" {
		t.Fatalf("patient completing a CM task: %s", r.Body)
	}
	do(t, e, actors["patient2"], http.MethodPost, done(patientTask), nil, 404)
	var tk taskBody
	do(t, e, actors["family1"], http.MethodPost, done(patientTask), nil, 200).JSON(t, &tk)
	if tk.Status != careplan.TaskDone {
		t.Fatalf("task after completion: %+v", tk)
	}
	do(t, e, actors["patient1"], http.MethodPost, done(patientTask), nil, 200) // again: no change, no error
	do(t, e, cm1, http.MethodPost, done(cmTask), nil, 200)
	do(t, e, cm1, http.MethodPost, "/api/v1/patients/"+p1+"/plans/"+plan1.ID+"/tasks/no-such-task/done", nil, 404)
	// family2 has no report scope on patient3.
	plan3 := getPlan(t, e, actor{staff: e.LoginStaff("cm2")}, "/api/v1/patients/"+p3+"/plan")
	do(t, e, actors["family2"], http.MethodPost, "/api/v1/patients/"+p3+"/plans/"+plan3.ID+"/tasks/"+plan3.Tasks[0].ID+"/done", nil, 404)
	// Staff writes need the CSRF token.
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: events, Cookie: cm1.staff.Cookie, Body: map[string]string{"event": "discharge"}})
	if resp.Status != http.StatusForbidden {
		t.Fatalf("a staff write without CSRF: %d", resp.Status)
	}
	// Pathways and the library are for staff.
	do(t, e, actors["patient1"], http.MethodGet, "/api/v1/pathways", nil, 403)
	do(t, e, actors["admin"], http.MethodGet, "/api/v1/pathways/heart_failure", nil, 200)
	do(t, e, cm1, http.MethodGet, "/api/v1/pathways/nope", nil, 404)
	do(t, e, cm1, http.MethodGet, "/api/v1/comorbidities", nil, 200)
}

func TestThresholdsAndReportingForAlerts(t *testing.T) {
	e := apitest.New(t)
	ctx := context.Background()
	hf := e.Demo.Patients["patient3"] // heart failure, two months after discharge
	got, err := e.App.Careplan.ThresholdOverrides(ctx, hf)
	if err != nil {
		t.Fatal(err)
	}
	if got["weight_gain_kg_3d"] != 2 {
		t.Fatalf("heart failure overrides %v, want weight_gain_kg_3d 2", got)
	}
	vitals, err := e.App.Careplan.ExpectedReporting(ctx, hf)
	if err != nil {
		t.Fatal(err)
	}
	want := []careplan.VitalExpectation{{Type: "blood_pressure", EveryDays: 3}, {Type: "weight", EveryDays: 1}}
	if len(vitals) != 2 || vitals[0] != want[0] || vitals[1] != want[1] {
		t.Fatalf("expected reporting %v, want %v", vitals, want)
	}
	none, err := e.App.Careplan.ThresholdOverrides(ctx, e.Demo.Patients["patient7"])
	if err != nil || len(none) != 0 {
		t.Fatalf("a patient with no plan: %v %v", none, err)
	}
}

// TestEnrolBeforeTheMiniProgram: a CM enrols a patient who has never opened
// the mini-program; when they bind their phone, the plan is theirs to see.
func TestEnrolBeforeTheMiniProgram(t *testing.T) {
	e := apitest.New(t)
	cm1 := actor{staff: e.LoginStaff("cm1")}
	p7 := "/api/v1/patients/" + e.Demo.Patients["patient7"]
	var p planBody
	do(t, e, cm1, http.MethodPost, p7+"/plans", map[string]any{"pathway": "knee_arthroplasty",
		"anchors": map[string]string{"admission": dayFromToday(e, 5), "surgery": dayFromToday(e, 6)}}, http.StatusCreated).JSON(t, &p)
	if got := *p.task(t, "first_walk").DueOn; got != dayFromToday(e, 7) {
		t.Fatalf("first walk due %s, want the day after the planned surgery", got)
	}
	sunwei := actor{token: e.LoginWeChat("sunwei").AccessToken}
	do(t, e, sunwei, http.MethodGet, p7+"/plan", nil, http.StatusNotFound)
	do(t, e, sunwei, http.MethodPost, "/api/v1/me/phone", map[string]string{"code": "phone-13800000007"}, http.StatusOK)
	mine := getPlan(t, e, sunwei, p7+"/plan")
	if mine.ID != p.ID || mine.CurrentStage.Key != "pre_admission" || mine.NextStage.Key != "in_hospital" || *mine.NextStage.StartsOn != dayFromToday(e, 5) {
		t.Fatalf("patient7's own view: %+v", mine)
	}
}

// TestRegisterThenEnrol: a CM registers someone new and enrols them at once.
func TestRegisterThenEnrol(t *testing.T) {
	e := apitest.New(t)
	cm2 := actor{staff: e.LoginStaff("cm2")}
	var created struct {
		ID           string `json:"id"`
		AssignedCMID string `json:"assigned_cm_id"`
		Linked       bool   `json:"linked"`
	}
	do(t, e, cm2, http.MethodPost, "/api/v1/patients", map[string]string{"name": "钱芳", "phone": "139 0000 0008",
		"gender": "F", "birth_date": "1950-02-03"}, http.StatusCreated).JSON(t, &created)
	if created.AssignedCMID != e.Demo.Staff["cm2"] || created.Linked {
		t.Fatalf("registered %+v", created)
	}
	do(t, e, cm2, http.MethodPost, "/api/v1/patients", map[string]string{"name": "钱芳", "phone": "12345"}, http.StatusBadRequest)
	do(t, e, cm2, http.MethodPost, "/api/v1/patients", map[string]string{"name": "钱芳", "birth_date": "1950-13-03"}, http.StatusBadRequest)
	var p planBody
	do(t, e, cm2, http.MethodPost, "/api/v1/patients/"+created.ID+"/plans", map[string]any{"pathway": "heart_failure",
		"anchors": map[string]string{"admission": dayFromToday(e, -6), "discharge": dayFromToday(e, -1)}, "comorbidities": []string{"heart_failure"}},
		http.StatusCreated).JSON(t, &p)
	// 76 years old (+1), Charlson 1 (+1): medium, which is also the pathway's floor.
	if p.CurrentStage.Key != "post_d1_7" || p.Risk.Level != "medium" || p.CaseManager == nil {
		t.Fatalf("new patient's plan at %s, risk %+v", p.CurrentStage.Key, p.Risk)
	}
	do(t, e, actor{staff: e.LoginStaff("cm1")}, http.MethodGet, "/api/v1/patients/"+created.ID+"/plan", nil, http.StatusNotFound)
	do(t, e, actor{staff: e.LoginStaff("admin")}, http.MethodPost, "/api/v1/patients", map[string]string{"name": "x"}, http.StatusForbidden)
}
