package admin_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/admin"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

func page(t *testing.T, e *apitest.Env, s apitest.StaffSession, path string, want int) string {
	t.Helper()
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: path, Cookie: s.Cookie})
	if resp.Status != want {
		t.Fatalf("GET %s: status %d, want %d\n%s", path, resp.Status, want, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET %s: content type %q, want text/html", path, ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("GET %s: CSP %q", path, csp)
	}
	return string(resp.Body)
}

func post(e *apitest.Env, s apitest.StaffSession, path string, form url.Values) apitest.Response {
	return e.Do(apitest.Request{Method: http.MethodPost, Path: path, Cookie: s.Cookie, Body: form})
}

func TestDeskPages(t *testing.T) {
	e := apitest.New(t)
	cm1 := e.LoginStaff("cm1")
	p1 := e.Demo.Patients["patient1"]

	dash := page(t, e, cm1, "/admin", http.StatusOK)
	for _, want := range []string{"在管患者", "待回复", "今日预约", "/admin/patients/" + p1} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	list := page(t, e, cm1, "/admin/patients?sort=name", http.StatusOK)
	if !strings.Contains(list, "/admin/patients/"+p1) {
		t.Errorf("patient list lacks patient1")
	}
	// An unknown sort key falls back to the allowlisted default.
	page(t, e, cm1, "/admin/patients?sort=name;drop", http.StatusOK)
	none := page(t, e, cm1, "/admin/patients?q=no-such-person-zzz", http.StatusOK)
	if strings.Contains(none, "/admin/patients/"+p1) {
		t.Errorf("search for nobody still lists patient1")
	}
	detail := page(t, e, cm1, "/admin/patients/"+p1, http.StatusOK)
	for _, want := range []string{`id="thread"`, `id="plan"`, `id="family"`, `id="access-log"`, `name="csrf_token" value="` + cm1.CSRF + `"`} {
		if !strings.Contains(detail, want) {
			t.Errorf("patient page lacks %q", want)
		}
	}
	page(t, e, cm1, "/admin/patients/"+p1+"/summary", http.StatusOK)
	page(t, e, cm1, "/admin/pathways", http.StatusOK)
	page(t, e, cm1, "/admin/education", http.StatusOK)

	adm := e.LoginStaff("admin")
	page(t, e, adm, "/admin", http.StatusOK)
	page(t, e, adm, "/admin/pathways", http.StatusOK)
}

func TestDeskAccess(t *testing.T) {
	e := apitest.New(t)
	cm1, cm2, adm := e.LoginStaff("cm1"), e.LoginStaff("cm2"), e.LoginStaff("admin")
	p1 := e.Demo.Patients["patient1"]

	// A CM editing the URL to another CM's patient: a 404 page, not JSON.
	body := page(t, e, cm2, "/admin/patients/"+p1, http.StatusNotFound)
	if !strings.Contains(body, "不在您的管理范围内") {
		t.Errorf("404 page: %s", body)
	}
	page(t, e, cm2, "/admin/patients/"+p1+"/summary", http.StatusNotFound)
	// Administrators configure; they read no records and have no caseload list.
	page(t, e, adm, "/admin/patients/"+p1, http.StatusForbidden)
	page(t, e, adm, "/admin/patients", http.StatusForbidden)

	// No session: a page redirects to the login form; a form post is refused.
	anon := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/patients/" + p1})
	if anon.Status != http.StatusSeeOther || anon.Header.Get("Location") != "/admin/login" {
		t.Errorf("anonymous GET: %d %s", anon.Status, anon.Header.Get("Location"))
	}
	form := url.Values{"text": {"您好"}, "csrf_token": {cm1.CSRF}}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/admin/patients/" + p1 + "/messages", Body: form}); r.Status != http.StatusUnauthorized {
		t.Errorf("anonymous POST: %d", r.Status)
	}
	// Without a valid CSRF token the form is refused.
	for name, token := range map[string]string{"missing": "", "wrong": "not-the-token", "another session's": cm2.CSRF} {
		r := post(e, cm1, "/admin/patients/"+p1+"/messages", url.Values{"text": {"您好"}, "csrf_token": {token}})
		if r.Status != http.StatusForbidden {
			t.Errorf("%s CSRF token: %d, want 403", name, r.Status)
		}
	}
	// cm2 posting into cm1's patient with cm2's own valid token: 404.
	if r := post(e, cm2, "/admin/patients/"+p1+"/messages", url.Values{"text": {"您好"}, "csrf_token": {cm2.CSRF}}); r.Status != http.StatusNotFound {
		t.Errorf("cross-caseload reply: %d, want 404", r.Status)
	}
}

func TestDeskActions(t *testing.T) {
	e := apitest.New(t)
	cm1 := e.LoginStaff("cm1")
	p1 := e.Demo.Patients["patient1"]
	base := "/admin/patients/" + p1

	// Reply: the patient reads it through the API.
	r := post(e, cm1, base+"/messages", url.Values{"text": {"请明早空腹复查血糖"}, "csrf_token": {cm1.CSRF}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), base) {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	note := post(e, cm1, base+"/messages", url.Values{"text": {"家属电话已核实"}, "kind": {"note"}, "csrf_token": {cm1.CSRF}})
	if note.Status != http.StatusSeeOther {
		t.Fatalf("note: %d %s", note.Status, note.Body)
	}
	tok := e.LoginWeChat("patient1").AccessToken
	msgs := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/thread/messages", Token: tok})
	if !strings.Contains(string(msgs.Body), "请明早空腹复查血糖") {
		t.Errorf("patient does not see the reply: %s", msgs.Body)
	}
	if strings.Contains(string(msgs.Body), "家属电话已核实") {
		t.Errorf("patient sees the internal note")
	}
	if strings.Contains(e.Logs(), "请明早空腹复查血糖") {
		t.Errorf("message text was logged")
	}
	// An empty reply is a rule violation shown as a page.
	if r := post(e, cm1, base+"/messages", url.Values{"text": {""}, "csrf_token": {cm1.CSRF}}); r.Status < 400 || r.Status >= 500 {
		t.Errorf("empty reply: %d", r.Status)
	}

	// Push an article from the library.
	articles := e.App.Education.Library().All()
	if len(articles) > 0 {
		if r := post(e, cm1, base+"/education", url.Values{"article": {articles[0].Key}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusSeeOther {
			t.Errorf("push article: %d %s", r.Status, r.Body)
		}
	}

	// Plan actions on the current plan, enrolling first when there is none.
	plan, err := e.App.Careplan.Current(t.Context(), p1)
	if err != nil {
		pw := e.App.Careplan.Pathways().All()[0]
		if r := post(e, cm1, base+"/plans", url.Values{"pathway": {pw.Key}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusSeeOther {
			t.Fatalf("enrol: %d %s", r.Status, r.Body)
		}
		if plan, err = e.App.Careplan.Current(t.Context(), p1); err != nil {
			t.Fatal(err)
		}
	}
	planBase := base + "/plans/" + plan.ID
	if r := post(e, cm1, planBase+"/risk", url.Values{"level": {"high"}, "reason": {"独居，术后行动不便"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusSeeOther {
		t.Errorf("set risk: %d %s", r.Status, r.Body)
	}
	if r := post(e, cm1, planBase+"/risk", url.Values{"level": {"extreme"}, "reason": {"x"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
		t.Errorf("set unknown risk: %d", r.Status)
	}
	if len(plan.Stages) > 1 {
		target := plan.Stages[len(plan.Stages)-1].Key
		if r := post(e, cm1, planBase+"/transitions", url.Values{"stage": {target}, "reason": {"提前出院"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusSeeOther && r.Status != http.StatusUnprocessableEntity {
			t.Errorf("transition: %d %s", r.Status, r.Body)
		}
	}
	today := e.Clock.Now().Format("2006-01-02")
	if r := post(e, cm1, planBase+"/events", url.Values{"event": {"admission"}, "date": {today}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusSeeOther && r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusConflict {
		t.Errorf("record admission: %d %s", r.Status, r.Body)
	}
	// An alert that does not exist is not found (a calm page).
	if r := post(e, cm1, base+"/alerts/x/acknowledge", url.Values{"csrf_token": {cm1.CSRF}}); r.Status != http.StatusNotFound {
		t.Errorf("acknowledge an unknown alert: %d", r.Status)
	}
	// The page shows the reply, the note, the pushed article.
	detail := page(t, e, cm1, base, http.StatusOK)
	for _, want := range []string{"请明早空腹复查血糖", "家属电话已核实", "内部备注"} {
		if !strings.Contains(detail, want) {
			t.Errorf("patient page lacks %q", want)
		}
	}
}

func TestStaffAccounts(t *testing.T) {
	e := apitest.New(t)
	adm, cm1 := e.LoginStaff("admin"), e.LoginStaff("cm1")

	list := page(t, e, adm, "/admin/staff", http.StatusOK)
	if !strings.Contains(list, "cm1") {
		t.Errorf("staff list lacks cm1")
	}
	// Only administrators manage accounts.
	page(t, e, cm1, "/admin/staff", http.StatusForbidden)
	if r := post(e, cm1, "/admin/staff", url.Values{"username": {"x"}, "display_name": {"x"}, "role": {"admin"}, "password": {"0123456789ab"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusForbidden {
		t.Errorf("cm creates an account: %d", r.Status)
	}
	// Create a CM, who can then log in; a weak password or unknown role is refused.
	if r := post(e, adm, "/admin/staff", url.Values{"username": {"cm9"}, "display_name": {"新同事"}, "role": {"cm"}, "password": {"short"}, "csrf_token": {adm.CSRF}}); r.Status != http.StatusBadRequest {
		t.Errorf("weak password: %d", r.Status)
	}
	if r := post(e, adm, "/admin/staff", url.Values{"username": {"cm9"}, "display_name": {"新同事"}, "role": {"root"}, "password": {apitest.Password}, "csrf_token": {adm.CSRF}}); r.Status != http.StatusBadRequest {
		t.Errorf("unknown role: %d", r.Status)
	}
	if r := post(e, adm, "/admin/staff", url.Values{"username": {"cm9"}, "display_name": {"新同事"}, "role": {"cm"}, "password": {apitest.Password}, "csrf_token": {adm.CSRF}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	cm9 := e.LoginStaff("cm9")
	page(t, e, cm9, "/admin", http.StatusOK)
	// Without the CSRF token nothing is disabled.
	id := e.Demo.Staff["cm1"]
	if r := post(e, adm, "/admin/staff/"+id+"/disable", url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("disable without CSRF: %d", r.Status)
	}
	if r := post(e, adm, "/admin/staff/"+id+"/disable", url.Values{"csrf_token": {adm.CSRF}}); r.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	// cm1's open session ends at once: the next page goes to the login form.
	r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin", Cookie: cm1.Cookie})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/login" {
		t.Errorf("disabled CM's session: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := post(e, adm, "/admin/staff/"+e.Demo.Staff["admin"]+"/disable", url.Values{"csrf_token": {adm.CSRF}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("disable self: %d", r.Status)
	}
	if r := post(e, adm, "/admin/staff/no-such-id/disable", url.Values{"csrf_token": {adm.CSRF}}); r.Status != http.StatusNotFound {
		t.Errorf("disable unknown: %d", r.Status)
	}
}

func TestFilterCases(t *testing.T) {
	rows := []admin.CaseRow{
		{Profile: patient.Profile{ID: "a", Name: "王建国", Bed: "12-1", MRN: "M001", PhoneMasked: "138****1234", RiskLevel: "high"}, Phase: "in_hospital", PathwayName: "全膝关节置换"},
		{Profile: patient.Profile{ID: "b", Name: "李秀英", Bed: "12-3", MRN: "M002", PhoneMasked: "139****5678", RiskLevel: "low"}, Phase: "post_discharge", PathwayName: "2型糖尿病"},
		{Profile: patient.Profile{ID: "c", Name: "张伟", Bed: "03", MRN: "M003", RiskLevel: "medium"}, Phase: "post_discharge"},
	}
	ids := func(rs []admin.CaseRow) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	cases := []struct{ q, phase, risk, sort, want string }{
		{"", "", "", "risk", "a,c,b"},
		{"", "", "", "name;drop table", "a,c,b"}, // unknown key: the default
		{"", "", "", "bed", "c,a,b"},
		{"王", "", "", "", "a"},
		{"5678", "", "", "", "b"},
		{"m003", "", "", "", "c"},
		{"糖尿病", "", "", "", "b"},
		{"", "post_discharge", "", "risk", "c,b"},
		{"", "", "high", "", "a"},
		{"nobody", "", "", "", ""},
	}
	for _, tc := range cases {
		if got := ids(admin.FilterCases(rows, tc.q, tc.phase, tc.risk, tc.sort)); got != tc.want {
			t.Errorf("FilterCases(q=%q phase=%q risk=%q sort=%q) = %q, want %q", tc.q, tc.phase, tc.risk, tc.sort, got, tc.want)
		}
	}
}
