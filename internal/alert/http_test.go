package alert_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type obj = map[string]any

type alertBody struct {
	ID             string `json:"id"`
	PatientID      string `json:"patient_id"`
	PatientName    string `json:"patient_name"`
	Kind           string `json:"kind"`
	Rule           string `json:"rule"`
	Severity       string `json:"severity"`
	Status         string `json:"status"`
	Summary        string `json:"summary"`
	Occurrences    int    `json:"occurrences"`
	OwnerID        string `json:"owner_id"`
	AcknowledgedBy string `json:"acknowledged_by"`
	ResolvedBy     string `json:"resolved_by"`
	ActionTaken    string `json:"action_taken"`
	ResolutionNote string `json:"resolution_note"`
	Readings       []struct {
		ID string `json:"id"`
	} `json:"readings"`
}

type reportResult struct {
	Reading struct {
		ID string `json:"id"`
	} `json:"reading"`
	Alerts []struct {
		ID       string `json:"id"`
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Folded   bool   `json:"folded"`
	} `json:"alerts"`
	Guidance []struct {
		Severity string   `json:"severity"`
		Title    string   `json:"title"`
		Actions  []string `json:"actions"`
		Contacts []struct {
			Role  string `json:"role"`
			Name  string `json:"name"`
			Phone string `json:"phone"`
		} `json:"contacts"`
	} `json:"guidance"`
}

func ago(e *apitest.Env, d time.Duration) string { return e.Clock.Now().Add(-d).Format(time.RFC3339) }

func reportAs(t *testing.T, e *apitest.Env, tok, patientID string, body obj) reportResult {
	t.Helper()
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + patientID + "/observations", Token: tok, Body: body})
	if resp.Status != http.StatusCreated {
		t.Fatalf("report %v: %d %s", body, resp.Status, resp.Body)
	}
	var r reportResult
	resp.JSON(t, &r)
	return r
}

func bpAt(e *apitest.Env, sys, dia float64, before time.Duration) obj {
	return obj{"type": "blood_pressure", "systolic": sys, "diastolic": dia, "measured_at": ago(e, before)}
}

// raisedEvents lists the alert.raised events of one patient, oldest first.
func raisedEvents(t *testing.T, e *apitest.Env, patientID string) []map[string]any {
	t.Helper()
	var events []outbox.Event
	if err := e.App.DB.Where("topic = ?", "alert.raised").Order("id").Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, ev := range events {
		var m map[string]any
		if err := json.Unmarshal(ev.Payload, &m); err != nil {
			t.Fatal(err)
		}
		if m["patient_id"] == patientID {
			out = append(out, m)
		}
	}
	return out
}

func getJSON(t *testing.T, e *apitest.Env, req apitest.Request, v any) int {
	t.Helper()
	req.Method = http.MethodGet
	resp := e.Do(req)
	if resp.Status == http.StatusOK && v != nil {
		resp.JSON(t, v)
	}
	return resp.Status
}

type alertList struct {
	Items      []alertBody `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

func TestCriticalReadingRaisesOneAlertWithGuidanceAndGoesThroughItsLifecycle(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"] // cm1's patient
	tok := e.LoginWeChat("patient2").AccessToken
	cm1, cm2, lead1, admin := e.LoginStaff("cm1"), e.LoginStaff("cm2"), e.LoginStaff("lead1"), e.LoginStaff("admin")

	first := reportAs(t, e, tok, p2, bpAt(e, 185, 115, 10*time.Minute))
	if len(first.Alerts) != 1 || first.Alerts[0].Rule != "bp_critical" || first.Alerts[0].Severity != "critical" || first.Alerts[0].Folded {
		t.Fatalf("alerts %+v, want one new bp_critical", first.Alerts)
	}
	g := first.Guidance
	if len(g) != 1 || g[0].Severity != "critical" || len(g[0].Contacts) != 2 || g[0].Contacts[0].Phone != "120" ||
		g[0].Contacts[1].Role != "case_manager" || g[0].Contacts[1].Name != "周敏（骨科个案管理师）" || !strings.Contains(strings.Join(g[0].Actions, ""), "拨打 120") {
		t.Fatalf("guidance %+v: want what to do now, 120 and the CM", g)
	}
	alertID := first.Alerts[0].ID

	// The same danger again folds into the open alert: no second alert, no second event.
	second := reportAs(t, e, tok, p2, bpAt(e, 190, 112, 5*time.Minute))
	if len(second.Alerts) != 1 || second.Alerts[0].ID != alertID || !second.Alerts[0].Folded {
		t.Fatalf("second critical: %+v, want folded into %s", second.Alerts, alertID)
	}
	events := raisedEvents(t, e, p2)
	if len(events) != 1 || events[0]["alert_id"] != alertID || events[0]["severity"] != "critical" || events[0]["owner_id"] != e.Demo.Staff["cm1"] {
		t.Fatalf("alert.raised events %v", events)
	}
	if rec, _ := events[0]["recipients"].([]any); len(rec) != 1 || rec[0] != e.Demo.Staff["cm1"] {
		t.Fatalf("recipients %v, want cm1", events[0]["recipients"])
	}
	if n, err := e.App.Alerts.CriticalAlerts(context.Background(), p2, e.Clock.Now().Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("critical alerts in the last hour: %d, %v; want 1 (for the care plan's risk score)", n, err)
	}
	raw, _ := json.Marshal(events[0])
	if strings.Contains(string(raw), "185") || strings.Contains(string(raw), "李秀英") {
		t.Fatalf("the event carries a value or a name: %s", raw)
	}

	// The patient sees the alert without the staff fields; the CM sees who owns it.
	var mine alertList
	getJSON(t, e, apitest.Request{Path: "/api/v1/patients/" + p2 + "/alerts", Token: tok}, &mine)
	if len(mine.Items) != 1 || mine.Items[0].Occurrences != 2 || mine.Items[0].OwnerID != "" {
		t.Fatalf("patient's view %+v", mine.Items)
	}
	var cmList alertList
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts", Cookie: cm1.Cookie}, &cmList)
	if len(cmList.Items) != 1 || cmList.Items[0].ID != alertID || cmList.Items[0].PatientName != "李秀英" || cmList.Items[0].OwnerID != e.Demo.Staff["cm1"] {
		t.Fatalf("cm1's list %+v", cmList.Items)
	}
	var leadList, otherList alertList
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts?severity=critical", Cookie: lead1.Cookie}, &leadList)
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts", Cookie: cm2.Cookie}, &otherList)
	if len(leadList.Items) != 1 || leadList.Items[0].ID != alertID {
		t.Fatalf("the ortho lead sees %+v, want cm1's patient's alert", leadList.Items)
	}
	for _, a := range otherList.Items {
		if a.PatientID == p2 {
			t.Fatalf("cm2 (cardiology) sees cm1's patient's alert %+v", a)
		}
	}
	if status := getJSON(t, e, apitest.Request{Path: "/api/v1/alerts", Cookie: admin.Cookie}, nil); status != http.StatusForbidden {
		t.Fatalf("admin lists alerts: %d, want 403", status)
	}

	var detail alertBody
	if status := getJSON(t, e, apitest.Request{Path: "/api/v1/alerts/" + alertID, Cookie: cm1.Cookie}, &detail); status != http.StatusOK || len(detail.Readings) != 2 {
		t.Fatalf("detail: %d %+v, want both readings", status, detail)
	}
	for _, who := range []apitest.StaffSession{cm2} {
		if status := getJSON(t, e, apitest.Request{Path: "/api/v1/alerts/" + alertID, Cookie: who.Cookie}, nil); status != http.StatusNotFound {
			t.Fatalf("another CM reads the alert: %d, want 404", status)
		}
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/alerts/" + alertID + "/acknowledge", Cookie: who.Cookie, CSRF: who.CSRF})
		if resp.Status != http.StatusNotFound {
			t.Fatalf("another CM acknowledges: %d, want 404", resp.Status)
		}
	}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/alerts/" + alertID + "/acknowledge", Token: tok}); resp.Status != http.StatusForbidden {
		t.Fatalf("the patient acknowledges: %d, want 403", resp.Status)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/alerts/no-such-alert", Cookie: cm1.Cookie}); resp.Status != http.StatusNotFound {
		t.Fatalf("unknown alert: %d", resp.Status)
	}

	post := func(path string, body any) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/alerts/" + alertID + path, Cookie: cm1.Cookie, CSRF: cm1.CSRF, Body: body})
	}
	for i := 0; i < 2; i++ { // acknowledging twice is harmless
		resp := post("/acknowledge", nil)
		var a alertBody
		resp.JSON(t, &a)
		if resp.Status != http.StatusOK || a.Status != "acknowledged" || a.AcknowledgedBy != e.Demo.Staff["cm1"] {
			t.Fatalf("acknowledge: %d %s", resp.Status, resp.Body)
		}
	}
	for _, bad := range []struct {
		body obj
		code string
	}{
		{obj{"action_taken": "phone_follow_up"}, "invalid_field"},
		{obj{"action_taken": "prayed", "note": "x"}, "invalid_action"},
		{obj{"action_taken": "phone_follow_up", "note": "   "}, "missing_field"},
	} {
		if resp := post("/resolve", bad.body); resp.Status != http.StatusBadRequest || resp.ErrorCode() != bad.code {
			t.Fatalf("resolve %v: %d %s, want 400 %s", bad.body, resp.Status, resp.Body, bad.code)
		}
	}
	resp := post("/resolve", obj{"action_taken": "advised_clinic_visit", "note": "电话随访：复测 150/95，已预约明日心内科门诊"})
	var resolved alertBody
	resp.JSON(t, &resolved)
	if resp.Status != http.StatusOK || resolved.Status != "resolved" || resolved.ActionTaken != "advised_clinic_visit" || resolved.ResolvedBy != e.Demo.Staff["cm1"] {
		t.Fatalf("resolve: %d %s", resp.Status, resp.Body)
	}
	if resp := post("/resolve", obj{"action_taken": "other", "note": "again"}); resp.Status != http.StatusConflict || resp.ErrorCode() != "alert_resolved" {
		t.Fatalf("resolving twice: %d %s", resp.Status, resp.Body)
	}
	if resp := post("/acknowledge", nil); resp.Status != http.StatusConflict {
		t.Fatalf("acknowledging a resolved alert: %d", resp.Status)
	}
	var active alertList
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts", Cookie: cm1.Cookie}, &active)
	if len(active.Items) != 0 {
		t.Fatalf("active alerts after resolving: %+v", active.Items)
	}
	var patientView alertList
	getJSON(t, e, apitest.Request{Path: "/api/v1/patients/" + p2 + "/alerts?status=resolved", Token: tok}, &patientView)
	if len(patientView.Items) != 1 || patientView.Items[0].ResolutionNote != "" {
		t.Fatalf("the patient must not see the CM's note: %+v", patientView.Items)
	}

	// Once resolved, the next danger opens a new alert.
	third := reportAs(t, e, tok, p2, bpAt(e, 182, 100, time.Minute))
	if len(third.Alerts) != 1 || third.Alerts[0].ID == alertID || third.Alerts[0].Folded {
		t.Fatalf("after resolution: %+v, want a new alert", third.Alerts)
	}
	if n := len(raisedEvents(t, e, p2)); n != 2 {
		t.Fatalf("%d alert.raised events, want 2", n)
	}

	// Reads and changes of alerts are audited against the patient.
	evs, err := e.App.Audit.ForPatient(context.Background(), p2, 50)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, ev := range evs {
		if ev.ObjectType == "alert" {
			trail = append([]string{ev.ActorRole + " " + ev.Result + " " + ev.Action}, trail...)
		}
	}
	for _, want := range []string{
		"cm ok GET /api/v1/alerts/:alertID", "cm denied GET /api/v1/alerts/:alertID",
		"cm ok POST /api/v1/alerts/:alertID/acknowledge", "cm ok POST /api/v1/alerts/:alertID/resolve",
		"cm error POST /api/v1/alerts/:alertID/resolve",
	} {
		if !strings.Contains(strings.Join(trail, "\n"), want) {
			t.Errorf("audit trail lacks %q:\n%s", want, strings.Join(trail, "\n"))
		}
	}
}

func TestHighBloodPressureEscalatesToCriticalAndReopens(t *testing.T) {
	e := apitest.New(t)
	p5 := e.Demo.Patients["patient5"]
	tok := e.LoginWeChat("patient5").AccessToken
	cm1 := e.LoginStaff("cm1")
	// cm2 covers for cm1 this week: both are told.
	e.App.DB.Exec("UPDATE patients SET covering_cm_id = ? WHERE id = ?", e.Demo.Staff["cm2"], p5)
	if r := reportAs(t, e, tok, p5, bpAt(e, 150, 92, 50*time.Hour)); len(r.Alerts) != 0 {
		t.Fatalf("one high reading: %+v", r.Alerts)
	}
	reportAs(t, e, tok, p5, bpAt(e, 145, 88, 26*time.Hour))
	third := reportAs(t, e, tok, p5, bpAt(e, 152, 96, 2*time.Hour))
	if len(third.Alerts) != 1 || third.Alerts[0].Rule != "bp_high" || third.Alerts[0].Severity != "high" {
		t.Fatalf("third high reading: %+v", third.Alerts)
	}
	if len(third.Guidance) != 1 || third.Guidance[0].Severity != "high" || third.Guidance[0].Contacts[0].Role != "case_manager" {
		t.Fatalf("guidance for high: %+v", third.Guidance)
	}
	id := third.Alerts[0].ID
	e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/alerts/" + id + "/acknowledge", Cookie: cm1.Cookie, CSRF: cm1.CSRF})

	crit := reportAs(t, e, tok, p5, bpAt(e, 184, 104, time.Hour))
	if len(crit.Alerts) != 1 || crit.Alerts[0].ID != id || !crit.Alerts[0].Folded || crit.Alerts[0].Severity != "critical" {
		t.Fatalf("critical after high: %+v, want %s escalated", crit.Alerts, id)
	}
	var a alertBody
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts/" + id, Cookie: cm1.Cookie}, &a)
	if a.Status != "open" || a.Severity != "critical" || a.Rule != "bp_critical" || a.Occurrences != 2 || len(a.Readings) != 4 || a.AcknowledgedBy != "" {
		t.Fatalf("escalated alert %+v: want open again, critical, all four readings", a)
	}
	events := raisedEvents(t, e, p5)
	if len(events) != 2 || events[1]["escalated"] != true || events[1]["severity"] != "critical" {
		t.Fatalf("events %v, want the escalation announced", events)
	}
	if rec, _ := events[1]["recipients"].([]any); len(rec) != 2 || rec[0] != e.Demo.Staff["cm1"] || rec[1] != e.Demo.Staff["cm2"] {
		t.Fatalf("recipients %v, want cm1 and the covering cm2", events[1]["recipients"])
	}
	// A lower finding later does not downgrade it.
	reportAs(t, e, tok, p5, bpAt(e, 150, 95, 30*time.Minute))
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts/" + id, Cookie: cm1.Cookie}, &a)
	if a.Severity != "critical" || a.Occurrences != 3 {
		t.Fatalf("after a high reading: %+v", a)
	}
}

func TestDayRulesThroughTheOfflineQueue(t *testing.T) {
	e := apitest.New(t)
	shanghai := mustZone(t)
	// 08:30 on 10 March in Shanghai.
	e.Clock.Advance(time.Date(2026, 3, 10, 8, 30, 0, 0, shanghai).Sub(e.Clock.Now()))
	p5, p6 := e.Demo.Patients["patient5"], e.Demo.Patients["patient6"]
	tok5, tok6 := e.LoginWeChat("patient5").AccessToken, e.LoginWeChat("patient6").AccessToken
	local := func(s string) string {
		t, _ := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
		return t.Format(time.RFC3339)
	}
	batch := func(tok, pid string, items []any) []reportResult {
		t.Helper()
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + pid + "/observations/batch", Token: tok, Body: obj{"items": items}})
		var b struct {
			Results []struct {
				Status int           `json:"status"`
				Result *reportResult `json:"result"`
			} `json:"results"`
		}
		resp.JSON(t, &b)
		var out []reportResult
		for i, r := range b.Results {
			if r.Status != http.StatusCreated {
				t.Fatalf("item %d: %s", i, resp.Body)
			}
			out = append(out, *r.Result)
		}
		return out
	}
	// Fasting glucose above 13.9 on 8, 9 and 10 March (Shanghai), sent at once
	// after three days offline; the first is at 00:20, still 7 March in UTC.
	res := batch(tok5, p5, []any{
		obj{"id": "g1", "type": "glucose", "value": 14.6, "context": "fasting", "measured_at": local("2026-03-08 00:20")},
		obj{"id": "g2", "type": "glucose", "value": 270, "unit": "mg/dL", "context": "fasting", "measured_at": local("2026-03-09 07:00")},
		obj{"id": "g3", "type": "glucose", "value": 15.1, "context": "fasting", "measured_at": local("2026-03-10 07:05")},
	})
	if len(res[0].Alerts)+len(res[1].Alerts) != 0 || len(res[2].Alerts) != 1 || res[2].Alerts[0].Rule != "glucose_fasting_high" {
		t.Fatalf("glucose alerts per item: %+v / %+v / %+v", res[0].Alerts, res[1].Alerts, res[2].Alerts)
	}

	// Pain after knee surgery: 2 at rest late on the 9th, 6 at rest just after midnight.
	res = batch(tok5, p5, []any{
		obj{"id": "p1", "type": "pain", "score": 2, "context": "rest", "measured_at": local("2026-03-09 23:55")},
		obj{"id": "p2", "type": "pain", "score": 6, "context": "rest", "measured_at": local("2026-03-10 00:05")},
	})
	if len(res[1].Alerts) != 1 || res[1].Alerts[0].Rule != "pain_rise" || res[1].Alerts[0].Severity != "medium" {
		t.Fatalf("pain rise across midnight: %+v", res[1].Alerts)
	}

	// Heart-failure weight gain, once cm2 turns the rule on for patient6.
	cm2 := e.LoginStaff("cm2")
	weights := func(prefix string, kg ...float64) []any {
		var items []any
		for i, w := range kg {
			items = append(items, obj{"id": prefix + string(rune('a'+i)), "type": "weight", "value": w, "measured_at": local([]string{"2026-03-07 07:30", "2026-03-08 07:40", "2026-03-09 07:35", "2026-03-10 07:45"}[i])})
		}
		return items
	}
	res = batch(tok6, p6, weights("w", 70.0, 70.4, 71.1, 72.0))
	for _, r := range res {
		if len(r.Alerts) != 0 {
			t.Fatalf("weight rule is off by default (no heart-failure pathway yet): %+v", r.Alerts)
		}
	}
	resp := e.Do(apitest.Request{Method: http.MethodPut, Path: "/api/v1/patients/" + p6 + "/alert-thresholds", Cookie: cm2.Cookie, CSRF: cm2.CSRF,
		Body: obj{"overrides": obj{"weight_gain_kg_3d": 2}}})
	if resp.Status != http.StatusOK {
		t.Fatalf("turn on weight rule: %d %s", resp.Status, resp.Body)
	}
	res = batch(tok6, p6, []any{obj{"id": "w-next", "type": "weight", "value": 72.2, "measured_at": local("2026-03-10 08:00")}})
	if len(res[0].Alerts) != 1 || res[0].Alerts[0].Rule != "weight_gain" || res[0].Guidance[0].Title == "" {
		t.Fatalf("weight gain of 2.2 kg since the morning of the 7th: %+v", res[0])
	}
}

func mustZone(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestThresholdOverridesByTheCaseManager(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	cm1, cm2 := e.LoginStaff("cm1"), e.LoginStaff("cm2")
	path := "/api/v1/patients/" + p2 + "/alert-thresholds"
	type view struct {
		Effective map[string]float64 `json:"effective"`
		Patient   map[string]float64 `json:"patient"`
		Pathway   map[string]float64 `json:"pathway"`
		UpdatedBy string             `json:"updated_by"`
		Specs     []struct {
			Key    string `json:"key"`
			Source string `json:"source"`
		} `json:"specs"`
	}
	var v view
	if status := getJSON(t, e, apitest.Request{Path: path, Cookie: cm1.Cookie}, &v); status != http.StatusOK {
		t.Fatalf("get: %d", status)
	}
	if v.Effective["bp_systolic_critical"] != 180 || v.Effective["glucose_low_critical"] != 3.9 || v.Effective["weight_gain_kg_3d"] != 0 || len(v.Patient) != 0 || len(v.Specs) != len(alert.ThresholdSpecs) {
		t.Fatalf("defaults: %+v", v)
	}
	for _, s := range v.Specs {
		if s.Source == "" {
			t.Errorf("threshold %s cites no source", s.Key)
		}
	}
	put := func(who apitest.StaffSession, tok string, body any) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPut, Path: path, Cookie: who.Cookie, CSRF: who.CSRF, Token: tok, Body: body})
	}
	cases := []struct {
		body      any
		wantCode  string
		wantField string
	}{
		{obj{"overrides": obj{"cholesterol": 5}}, "unknown_threshold", "overrides.cholesterol"},
		{obj{"overrides": obj{"bp_systolic_critical": 400}}, "threshold_out_of_range", "overrides.bp_systolic_critical"},
		{obj{"overrides": obj{"glucose_low_critical": 0}}, "threshold_out_of_range", "overrides.glucose_low_critical"},
		{obj{}, "invalid_field", "overrides"},
	}
	for _, tc := range cases {
		resp := put(cm1, "", tc.body)
		if resp.Status != http.StatusBadRequest || resp.ErrorCode() != tc.wantCode || !strings.Contains(string(resp.Body), `"field":"`+tc.wantField+`"`) {
			t.Fatalf("%v: %d %s, want 400 %s on %s", tc.body, resp.Status, resp.Body, tc.wantCode, tc.wantField)
		}
	}
	if resp := put(cm2, "", obj{"overrides": obj{"pain_high": 8}}); resp.Status != http.StatusNotFound {
		t.Fatalf("another CM: %d, want 404", resp.Status)
	}
	if resp := put(apitest.StaffSession{}, e.LoginWeChat("patient2").AccessToken, obj{"overrides": obj{"pain_high": 10}}); resp.Status != http.StatusNotFound {
		t.Fatalf("the patient: %d, want 404", resp.Status)
	}
	resp := put(cm1, "", obj{"overrides": obj{"bp_systolic_critical": 170, "no_report_days": 0}})
	resp.JSON(t, &v)
	if resp.Status != http.StatusOK || v.Effective["bp_systolic_critical"] != 170 || v.Effective["no_report_days"] != 0 || v.UpdatedBy != e.Demo.Staff["cm1"] {
		t.Fatalf("set: %d %s", resp.Status, resp.Body)
	}
	// The override changes what is critical for this patient.
	r := reportAs(t, e, e.LoginWeChat("patient2").AccessToken, p2, bpAt(e, 172, 95, time.Minute))
	if len(r.Alerts) != 1 || r.Alerts[0].Rule != "bp_critical" {
		t.Fatalf("172 with a 170 threshold: %+v", r.Alerts)
	}
	resp = put(cm1, "", obj{"overrides": obj{}})
	var cleared view
	resp.JSON(t, &cleared)
	if len(cleared.Patient) != 0 || cleared.Effective["bp_systolic_critical"] != 180 {
		t.Fatalf("cleared: %s", resp.Body)
	}
}

// TestFoldKeepsTheAcknowledgementAndNeverTouchesAResolvedAlert: a repeat of
// the same severity leaves the CM's acknowledgement in place; a fold that
// finds its alert resolved meanwhile changes nothing, and the next finding
// opens a new alert.
func TestFoldKeepsTheAcknowledgementAndNeverTouchesAResolvedAlert(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	tok := e.LoginWeChat("patient2").AccessToken
	cm1 := e.LoginStaff("cm1")
	first := reportAs(t, e, tok, p2, obj{"type": "glucose", "value": 3.4, "context": "random", "measured_at": ago(e, 20*time.Minute)})
	id := first.Alerts[0].ID
	e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/alerts/" + id + "/acknowledge", Cookie: cm1.Cookie, CSRF: cm1.CSRF})
	again := reportAs(t, e, tok, p2, obj{"type": "glucose", "value": 3.6, "context": "random", "measured_at": ago(e, 10*time.Minute)})
	var a alertBody
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts/" + id, Cookie: cm1.Cookie}, &a)
	if again.Alerts[0].ID != id || a.Status != "acknowledged" || a.Occurrences != 2 || len(a.Readings) != 2 {
		t.Fatalf("after a repeat: %+v", a)
	}

	// The alert is resolved between a report's read and its fold.
	ctx := context.Background()
	store := alert.NewStore(e.App.DB)
	open, ok, err := store.OpenOf(ctx, e.App.DB, p2, "glucose_low")
	if err != nil || !ok || open.ID != id {
		t.Fatalf("open alert: %+v %v %v", open, ok, err)
	}
	if ok, err := store.Resolve(ctx, id, e.Demo.Staff["cm1"], "phone_follow_up", "已电话随访", time.Now()); err != nil || !ok {
		t.Fatalf("resolve: %v %v", ok, err)
	}
	folded, err := store.Fold(ctx, e.App.DB, id, alert.FoldChange{Severity: "critical", Rule: "glucose_low", Summary: "x", Reopen: true, At: time.Now()})
	if err != nil || folded {
		t.Fatalf("fold into a resolved alert: %v %v, want false", folded, err)
	}
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts/" + id, Cookie: cm1.Cookie}, &a)
	if a.Status != "resolved" || a.Occurrences != 2 {
		t.Fatalf("the resolved alert changed: %+v", a)
	}
	third := reportAs(t, e, tok, p2, obj{"type": "glucose", "value": 3.5, "context": "random", "measured_at": ago(e, time.Minute)})
	if third.Alerts[0].ID == id || third.Alerts[0].Folded {
		t.Fatalf("after resolution: %+v", third.Alerts)
	}
}
