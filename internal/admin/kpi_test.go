package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/kpi"
)

// TestKPIPages: the CM's dashboard shows their caseload's KPIs; /admin/kpis
// shows an admin the hospital and a lead the department; a bad range is a
// 400 page with the Chinese message; no patient appears on the page.
func TestKPIPages(t *testing.T) {
	e := apitest.New(t)
	cm1, lead1, admin := e.LoginStaff("cm1"), e.LoginStaff("lead1"), e.LoginStaff("admin")

	dash := page(t, e, cm1, "/admin", http.StatusOK)
	for _, want := range []string{"近 30 天指标", "我的分管患者", "随访及时率", "数据完整率", "预警响应中位时间", "首次回复中位时长", "NPS", "人均管理患者", "30 天再入院率", `href="/admin/kpis"`} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	org := page(t, e, admin, "/admin/kpis", http.StatusOK)
	if !strings.Contains(org, "全院") || !strings.Contains(org, "随访及时率") {
		t.Errorf("admin's KPI page:\n%s", org)
	}
	dept := page(t, e, lead1, "/admin/kpis?from=2026-01-01&to=2026-02-01", http.StatusOK)
	if !strings.Contains(dept, "本科室") || !strings.Contains(dept, `value="2026-01-01"`) {
		t.Errorf("lead's KPI page:\n%s", dept)
	}
	for _, body := range []string{dash, org, dept} {
		for name, id := range e.Demo.Patients {
			if strings.Contains(body, id) && !strings.Contains(body, "/admin/patients/"+id) {
				t.Errorf("%s's id on a KPI page outside a caseload link", name)
			}
		}
	}
	if strings.Contains(org, "/admin/patients/") {
		t.Error("the admin's KPI page links patients")
	}
	bad := page(t, e, admin, "/admin/kpis?from=2026-03-10&to=2026-03-01", http.StatusBadRequest)
	if !strings.Contains(bad, "开始日期必须早于结束日期") {
		t.Errorf("bad range page:\n%s", bad)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/kpis", Token: e.LoginWeChat("patient1").AccessToken}); resp.Status == http.StatusOK {
		t.Error("a patient opens the KPI page")
	}
}

// TestPlannedReadmissions: the next chemotherapy cycle recorded as a planned
// admission, through the API or the desk, counts in the all-cause 30-day
// readmission rate and not in the unplanned one; a correction of the date
// that says nothing of the mark keeps it, on the API and the desk; the desk
// can mark it unplanned and planned again and shows the mark; enrolment can
// mark its admission planned. The desk shows the unplanned rate first, and
// a planned discharge is a 400 page that says why.
func TestPlannedReadmissions(t *testing.T) {
	e := apitest.New(t)
	cm1 := e.LoginStaff("cm1")
	loc, err := e.App.Config.Location()
	if err != nil {
		t.Fatal(err)
	}
	day := func(n int) string { return e.Clock.Now().In(loc).AddDate(0, 0, n).Format(time.DateOnly) }
	api := "/api/v1/patients/" + e.Demo.Patients["patient7"] // not enrolled anywhere yet
	call := func(method, path string, body any, want int) apitest.Response {
		t.Helper()
		r := e.Do(apitest.Request{Method: method, Path: path, Body: body, Cookie: cm1.Cookie, CSRF: cm1.CSRF})
		if r.Status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
		}
		return r
	}
	// The heart-failure stay ends 50 days ago; its window closes 19 days ago, inside the period.
	period := "?from=" + day(-25) + "&to=" + day(-10)
	report := func() (all, unplanned kpi.Rate) {
		t.Helper()
		var r kpi.Report
		call(http.MethodGet, "/api/v1/kpis"+period, nil, http.StatusOK).JSON(t, &r)
		return r.Readmission30Days, r.UnplannedReadmission30Days
	}
	baseAll, baseUnplanned := report()
	want := func(step string, readmitted, unplanned int) {
		t.Helper()
		all, unpl := report()
		den := baseAll.Denominator + 1
		if all.Denominator != den || unpl.Denominator != den || all.Numerator != baseAll.Numerator+readmitted || unpl.Numerator != baseUnplanned.Numerator+unplanned {
			t.Errorf("%s: all-cause %d/%d, unplanned %d/%d; want +%d/%d and +%d/%d over %d/%d and %d/%d", step,
				all.Numerator, all.Denominator, unpl.Numerator, unpl.Denominator, readmitted, den, unplanned, den,
				baseAll.Numerator, baseAll.Denominator, baseUnplanned.Numerator, baseUnplanned.Denominator)
		}
	}
	type events struct {
		ID     string
		Events []struct {
			Event   string
			Date    string
			Planned *bool
		}
	}
	mustContain(t, "enrolment form", page(t, e, cm1, "/admin/patients/"+e.Demo.Patients["patient7"], http.StatusOK), `name="planned_admission"`)
	var stay, chemo events
	call(http.MethodPost, api+"/plans", map[string]any{"pathway": "heart_failure",
		"anchors": map[string]string{"enrolment": day(-62), "admission": day(-60), "discharge": day(-50)}}, http.StatusCreated).JSON(t, &stay)
	call(http.MethodPost, api+"/plans", map[string]any{"pathway": "lung_cancer_chemo",
		"anchors": map[string]string{"enrolment": day(-45)}}, http.StatusCreated).JSON(t, &chemo)
	call(http.MethodPost, api+"/plans/"+chemo.ID+"/events", map[string]any{"event": "admission", "date": day(-40), "planned": true},
		http.StatusOK).JSON(t, &chemo)
	if len(chemo.Events) != 2 || chemo.Events[1].Event != "admission" || chemo.Events[1].Planned == nil || !*chemo.Events[1].Planned ||
		chemo.Events[0].Planned != nil {
		t.Fatalf("events after a planned admission: %+v", chemo.Events)
	}
	want("planned admission through the API", 1, 0)

	desk := "/admin/patients/" + e.Demo.Patients["patient7"] + "/plans/" + chemo.ID + "/events"
	record := func(form url.Values, status int) string {
		t.Helper()
		form.Set("csrf_token", cm1.CSRF)
		r := post(e, cm1, desk, form)
		if r.Status != status {
			t.Fatalf("desk %s planned=%q: %d %s, want %d", form.Get("event"), form.Get("planned"), r.Status, r.Body, status)
		}
		return string(r.Body)
	}
	call(http.MethodPost, api+"/plans/"+chemo.ID+"/events", map[string]any{"event": "admission", "date": day(-39)}, http.StatusOK).JSON(t, &chemo)
	if p := chemo.Events[1].Planned; p == nil || !*p {
		t.Fatalf("an admission's date corrected through the API, the mark left out: %+v", chemo.Events)
	}
	want("date corrected through the API", 1, 0)
	mustContain(t, "patient page", page(t, e, cm1, "/admin/patients/"+e.Demo.Patients["patient7"], http.StatusOK),
		`name="planned"`, "（计划内入院）")
	record(url.Values{"event": {"admission"}, "date": {day(-40)}}, http.StatusSeeOther)
	want("date corrected on the desk, the mark left as it was", 1, 0)
	record(url.Values{"event": {"admission"}, "date": {day(-40)}, "planned": {"0"}}, http.StatusSeeOther)
	want("marked unplanned on the desk", 1, 1)
	mustContain(t, "patient page", page(t, e, cm1, "/admin/patients/"+e.Demo.Patients["patient7"], http.StatusOK), "（非计划入院）")
	record(url.Values{"event": {"admission"}, "date": {day(-40)}, "planned": {"1"}}, http.StatusSeeOther)
	want("marked planned on the desk", 1, 0)
	// Enrolment: a new plan's admission can be planned; the mark without an admission is refused.
	var knee events
	call(http.MethodPost, api+"/plans", map[string]any{"pathway": "knee_arthroplasty", "planned_admission": true,
		"anchors": map[string]string{"enrolment": day(-30), "admission": day(-28)}}, http.StatusCreated).JSON(t, &knee)
	if len(knee.Events) != 2 || knee.Events[1].Event != "admission" || knee.Events[1].Planned == nil || !*knee.Events[1].Planned {
		t.Fatalf("events of a plan enrolled with a planned admission: %+v", knee.Events)
	}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: api + "/plans", Body: map[string]any{"pathway": "type2_diabetes", "planned_admission": true},
		Cookie: cm1.Cookie, CSRF: cm1.CSRF}); r.Status != http.StatusBadRequest || r.ErrorCode() != "planned_without_admission" {
		t.Fatalf("planned admission without an admission: %d %s", r.Status, r.Body)
	}
	refused := record(url.Values{"event": {"discharge"}, "date": {day(-35)}, "planned": {"1"}}, http.StatusBadRequest)
	mustContain(t, "planned discharge page", refused, "只有入院事件可以标记为计划内入院")

	kpis := page(t, e, cm1, "/admin/kpis"+period, http.StatusOK)
	unplannedAt, allAt := strings.Index(kpis, "30 天非计划再入院率"), strings.Index(kpis, "30 天再入院率（全部）")
	if unplannedAt < 0 || allAt < unplannedAt {
		t.Errorf("KPI page: unplanned rate at %d, all-cause at %d; want both, unplanned first", unplannedAt, allAt)
	}
	mustContain(t, "KPI page", kpis, "化疗周期、分期手术")
}
