package careplan_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/careplan"
)

type closedBody struct {
	ID       string     `json:"id"`
	Status   string     `json:"status"`
	ClosedAt *time.Time `json:"closed_at"`
	Closure  *struct {
		Reason     string `json:"reason"`
		ReasonName string `json:"reason_name"`
		Note       string `json:"note"`
		ClosedBy   string `json:"closed_by"`
	} `json:"closure"`
}

type historyBody struct {
	Items []struct{ Kind, From, To, Reason string }
}

func (h historyBody) closure(t *testing.T) struct{ Kind, From, To, Reason string } {
	t.Helper()
	for _, it := range h.Items {
		if it.Kind == careplan.HistoryClosure {
			return it
		}
	}
	t.Fatalf("history has no closure: %+v", h.Items)
	return struct{ Kind, From, To, Reason string }{}
}

// TestCloseAPlan: the CM closes patient1's plan (结案) with a reason and a
// note; patients and relatives cannot, and see that it is closed but not
// the note; a closed plan takes no more changes and the patient can be
// enrolled in the same pathway again.
func TestCloseAPlan(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	cm1 := actor{staff: e.LoginStaff("cm1")}
	patient := actor{token: e.LoginWeChat("patient1").AccessToken}
	family := actor{token: e.LoginWeChat("family1").AccessToken} // every scope on patient1
	base := "/api/v1/patients/" + p1
	plan := getPlan(t, e, cm1, base+"/plan")
	closePath := base + "/plans/" + plan.ID + "/close"
	note := "家属来电告知，" + strings.Repeat("术", 193) // 200 characters

	for name, a := range map[string]actor{"patient": patient, "family": family, "cm of another caseload": {staff: e.LoginStaff("cm2")},
		"admin": {staff: e.LoginStaff("admin")}} {
		if r := e.Do(a.req(http.MethodPost, closePath, map[string]string{"reason": "goals_met"})); r.Status != http.StatusNotFound {
			t.Errorf("the %s closes the plan: %d %s, want 404", name, r.Status, r.Body)
		}
	}
	for _, tc := range []struct {
		name        string
		body        map[string]string
		code, field string
	}{
		{"no reason", map[string]string{}, "invalid_field", "reason"},
		{"unknown reason", map[string]string{"reason": "bored"}, "invalid_close_reason", "reason"},
		{"other without a note", map[string]string{"reason": "other", "note": "  "}, "close_note_required", "note"},
		{"note too long", map[string]string{"reason": "died", "note": note + "。"}, "invalid_note", "note"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, e, cm1, http.MethodPost, closePath, tc.body, http.StatusBadRequest)
			if resp.ErrorCode() != tc.code || !strings.Contains(string(resp.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("%s, want code %s naming %s", resp.Body, tc.code, tc.field)
			}
		})
	}
	if p := getPlan(t, e, cm1, base+"/plan"); p.ID != plan.ID {
		t.Fatal("a refused close changed the plan")
	}

	var closed closedBody
	do(t, e, cm1, http.MethodPost, closePath, map[string]string{"reason": "died", "note": note}, http.StatusOK).JSON(t, &closed)
	if closed.Status != careplan.StatusClosed || closed.ClosedAt == nil || closed.Closure == nil || closed.Closure.Reason != careplan.CloseDied ||
		closed.Closure.ReasonName != "死亡" || closed.Closure.Note != note || closed.Closure.ClosedBy == "" {
		t.Fatalf("closed plan: %+v %+v", closed, closed.Closure)
	}
	resp := do(t, e, cm1, http.MethodPost, closePath, map[string]string{"reason": "goals_met"}, http.StatusConflict)
	if resp.ErrorCode() != "plan_already_closed" || !strings.Contains(string(resp.Body), "已结案") {
		t.Fatalf("closing twice: %s", resp.Body)
	}
	var row struct {
		CloseNote       string
		CloseNoteSealed bool
		ActiveKey       *string
	}
	e.App.DB.Table("care_plans").Select("close_note, close_note_sealed, active_key").Where("id = ?", plan.ID).Scan(&row)
	if !row.CloseNoteSealed || strings.Contains(row.CloseNote, "家属来电") || row.ActiveKey != nil {
		t.Fatalf("stored closure: sealed %v, active key %v, note %.40q", row.CloseNoteSealed, row.ActiveKey, row.CloseNote)
	}

	// Staff see the note in the plan, the list and the history.
	var staffHist historyBody
	do(t, e, cm1, http.MethodGet, base+"/plans/"+plan.ID+"/history", nil, http.StatusOK).JSON(t, &staffHist)
	if h := staffHist.closure(t); h.To != careplan.CloseDied || h.From != plan.CurrentStage.Key || h.Reason != note {
		t.Fatalf("closure in the staff's history: %+v", h)
	}
	if r := do(t, e, cm1, http.MethodGet, base+"/plans", nil, http.StatusOK); !strings.Contains(string(r.Body), "家属来电") {
		t.Fatalf("the staff's plan list lacks the note: %s", r.Body)
	}
	// The patient and the relative see that it is closed, and why, but not the note.
	for name, a := range map[string]actor{"patient": patient, "family": family} {
		var seen closedBody
		do(t, e, a, http.MethodGet, base+"/plans/"+plan.ID, nil, http.StatusOK).JSON(t, &seen)
		if seen.Status != careplan.StatusClosed || seen.ClosedAt == nil || seen.Closure == nil || seen.Closure.Reason != careplan.CloseDied {
			t.Errorf("%s sees %+v", name, seen)
		}
		for _, path := range []string{base + "/plans/" + plan.ID, base + "/plans", base + "/plans/" + plan.ID + "/history"} {
			if r := do(t, e, a, http.MethodGet, path, nil, http.StatusOK); strings.Contains(string(r.Body), "家属来电") || strings.Contains(string(r.Body), "closed_by") {
				t.Errorf("%s sees the CM's note or name at %s: %s", name, path, r.Body)
			}
		}
		if r := do(t, e, a, http.MethodGet, base+"/plan", nil, http.StatusNotFound); r.ErrorCode() != "no_active_plan" {
			t.Errorf("%s's current plan after closing: %s", name, r.Body)
		}
	}
	// A closed plan takes no more changes and is off the caseload.
	if r := do(t, e, cm1, http.MethodPost, base+"/plans/"+plan.ID+"/events", map[string]string{"event": "discharge", "date": dayFromToday(e, -10)},
		http.StatusUnprocessableEntity); r.ErrorCode() != "plan_closed" {
		t.Fatalf("event on a closed plan: %s", r.Body)
	}
	if r := do(t, e, cm1, http.MethodGet, "/api/v1/plans", nil, http.StatusOK); strings.Contains(string(r.Body), plan.ID) {
		t.Fatal("the closed plan is still on the caseload")
	}

	// A new episode: the same pathway again.
	var again planBody
	do(t, e, cm1, http.MethodPost, base+"/plans", map[string]any{"pathway": "knee_arthroplasty"}, http.StatusCreated).JSON(t, &again)
	if again.ID == plan.ID || again.Status != careplan.StatusActive {
		t.Fatalf("re-enrolment: %+v", again)
	}
	if cur := getPlan(t, e, patient, base+"/plan"); cur.ID != again.ID {
		t.Fatalf("current plan %s, want the new one %s", cur.ID, again.ID)
	}
	var list struct{ Items []closedBody }
	do(t, e, cm1, http.MethodGet, base+"/plans", nil, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 2 || list.Items[0].ID != again.ID || list.Items[1].Status != careplan.StatusClosed {
		t.Fatalf("plans after re-enrolling: %+v", list.Items)
	}
	// The lead of the department may close too.
	do(t, e, actor{staff: e.LoginStaff("lead1")}, http.MethodPost, base+"/plans/"+again.ID+"/close", map[string]string{"reason": "goals_met"}, http.StatusOK)
}

// TestClosedPlanStopsItsWork: once closed, patient6's plan no longer moves
// when its next stage's day comes, and no feature plans education,
// follow-ups, appointment proposals or reporting reminders from it.
func TestClosedPlanStopsItsWork(t *testing.T) {
	e := apitest.New(t)
	ctx := context.Background()
	p6 := e.Demo.Patients["patient6"]
	cm2 := actor{staff: e.LoginStaff("cm2")}
	base := "/api/v1/patients/" + p6
	p := getPlan(t, e, cm2, base+"/plan")
	e.DeliverEvents()
	if len(p.Vitals) == 0 {
		t.Fatal("patient6's stage expects no vitals: the reporting check below proves nothing")
	}
	do(t, e, cm2, http.MethodPost, base+"/plans/"+p.ID+"/close", map[string]string{"reason": "lost_to_follow_up"}, http.StatusOK)

	next, _ := careplan.ParseDay(*p.NextStage.StartsOn)
	e.Clock.Advance(time.Date(next.Year(), next.Month(), next.Day(), 1, 0, 0, 0, shanghai).Sub(e.Clock.Now()))
	if n, err := e.App.Careplan.AdvanceDue(ctx); err != nil || n != 0 {
		t.Fatalf("the day of the next stage: %d plans moved (%v), want none", n, err)
	}
	cm2 = actor{staff: e.LoginStaff("cm2")}
	if got := getPlan(t, e, cm2, base+"/plans/"+p.ID); got.CurrentStage.Key != p.CurrentStage.Key {
		t.Fatalf("the closed plan moved to %s", got.CurrentStage.Key)
	}
	positions, err := e.App.Careplan.ActivePositions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	schedules, err := e.App.Careplan.FollowupSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proposals, err := e.App.Careplan.ActiveStageAppointments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for what, ids := range map[string][]string{
		"education plans from":         planIDs(positions, func(x careplan.Position) string { return x.PlanID }),
		"follow-ups are planned from":  planIDs(schedules, func(x careplan.FollowupSchedule) string { return x.PlanID }),
		"appointments are proposed by": planIDs(proposals, func(x careplan.StageAppointments) string { return x.PlanID }),
	} {
		if slices.Contains(ids, p.ID) {
			t.Errorf("%s the closed plan", what)
		}
	}
	if _, ok, err := e.App.Careplan.StageAppointments(ctx, p.ID); ok || err != nil {
		t.Fatalf("the stage-changed handler would still propose for the closed plan (%v)", err)
	}
	if vitals, err := e.App.Careplan.ExpectedReporting(ctx, p6); err != nil || len(vitals) != 0 {
		t.Fatalf("readings still expected of patient6 (reminders, no-report alerts): %v %v", vitals, err)
	}
	if reps, err := e.App.Careplan.ReportingOf(ctx, []string{p6}); err != nil || len(reps) != 0 {
		t.Fatalf("reporting still planned for patient6: %v %v", reps, err)
	}
}

func planIDs[T any](list []T, id func(T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = id(x)
	}
	return out
}
