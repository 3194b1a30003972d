package admin_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/followup"
)

// mustContain fails for each want the body lacks.
func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestDeskSectionsShowTheCareFeatures(t *testing.T) {
	e := apitest.New(t)
	cm1 := e.LoginStaff("cm1")
	p1 := e.Demo.Patients["patient1"]

	// A critical reading through the patient API: on top of the dashboard's
	// alerts, and a red marker on the patient's chart, inside its target band's chart.
	tok := e.LoginWeChat("patient1").AccessToken
	rep := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: tok,
		Headers: map[string]string{"Idempotency-Key": "desk-bp-1"},
		Body:    map[string]any{"type": "blood_pressure", "systolic": 186, "diastolic": 112, "measured_at": e.Clock.Now().Add(-time.Minute).Format(time.RFC3339)}})
	if rep.Status != http.StatusCreated {
		t.Fatalf("report: %d %s", rep.Status, rep.Body)
	}
	dash := page(t, e, cm1, "/admin", http.StatusOK)
	alerts := dash[strings.Index(dash, `id="alerts"`):]
	if first := alerts[strings.Index(alerts, "<tbody>"):]; !strings.HasPrefix(first, `<tbody>
  <tr class="sev-critical">`) {
		t.Errorf("the first open alert is not the critical one: %.200s", first)
	}
	for _, window := range []string{"7d", "30d", "90d"} {
		vitals := page(t, e, cm1, "/admin/patients/"+p1+"?window="+window, http.StatusOK)
		vitals = vitals[strings.Index(vitals, `id="vitals"`):]
		mustContain(t, "vitals "+window, vitals, "收缩压", "舒张压", `class="band"`, `class="dot alert"`)
	}
	// README: cm1's patient 1 has an overdue day-3 call; patient 1's revisit is upcoming.
	mustContain(t, "dashboard", dash, `id="overdue"`, "超时随访", `/admin/patients/`+p1+`#followups`, "/admin/appointments/requests")
	detail := page(t, e, cm1, "/admin/patients/"+p1, http.StatusOK)
	mustContain(t, "patient page", detail, `id="appointments"`, "复诊", `id="followups"`, "已超时", `id="questionnaires"`,
		"疼痛评分", `id="pushes"`, "查看计划", "保存随访结果", "创建预约")
}

func TestDeskAppointmentForms(t *testing.T) {
	e := apitest.New(t)
	cm1, cm2 := e.LoginStaff("cm1"), e.LoginStaff("cm2")
	p1 := e.Demo.Patients["patient1"]
	base := "/admin/patients/" + p1
	loc, err := e.App.Config.Location()
	if err != nil {
		t.Fatal(err)
	}
	start := e.Clock.Now().In(loc).AddDate(0, 0, 3).Truncate(time.Hour)
	form := func(token string, at time.Time) url.Values {
		return url.Values{"kind": {appointment.KindExamination}, "title": {"心脏彩超"}, "starts_at": {at.Format("2006-01-02T15:04")},
			"minutes": {"60"}, "department": {"超声科"}, "location": {"门诊楼2楼"}, "csrf_token": {token}}
	}
	count := func() int {
		t.Helper()
		list, err := e.App.Appointments.List(t.Context(), p1, false, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	before := count()

	// Refused, nothing written: no CSRF token, another caseload, bad input.
	if r := post(e, cm1, base+"/appointments", form("", start)); r.Status != http.StatusForbidden {
		t.Errorf("without CSRF token: %d, want 403", r.Status)
	}
	r := post(e, cm2, base+"/appointments", form(cm2.CSRF, start))
	if r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), "不在您的管理范围内") {
		t.Errorf("another caseload's patient: %d, want the 404 page", r.Status)
	}
	bad := []struct {
		name   string
		edit   func(url.Values)
		status int
		want   string
	}{
		{"no start", func(v url.Values) { v.Set("starts_at", "") }, http.StatusBadRequest, "请填写正确的预约开始时间"},
		{"start not a time", func(v url.Values) { v.Set("starts_at", "明天上午") }, http.StatusBadRequest, "请填写正确的预约开始时间"},
		{"zero minutes", func(v url.Values) { v.Set("minutes", "0") }, http.StatusBadRequest, "预约时长应为 5 到 720 分钟"},
		{"unknown kind", func(v url.Values) { v.Set("kind", "spa") }, http.StatusBadRequest, "预约类型无效"},
		{"in the past", func(v url.Values) {
			v.Set("starts_at", e.Clock.Now().In(loc).Add(-2*time.Hour).Format("2006-01-02T15:04"))
		}, http.StatusUnprocessableEntity, "预约时间不能早于当前时间"},
	}
	for _, tc := range bad {
		v := form(cm1.CSRF, start)
		tc.edit(v)
		r := post(e, cm1, base+"/appointments", v)
		if r.Status != tc.status || !strings.Contains(string(r.Body), tc.want) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, r.Status, r.Body, tc.status, tc.want)
		}
	}
	if n := count(); n != before {
		t.Fatalf("refused forms wrote appointments: %d, want %d", n, before)
	}

	// Created; a second one at the same time is saved with an overlap warning.
	r = post(e, cm1, base+"/appointments", form(cm1.CSRF, start))
	if r.Status != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), "warn=overlap") {
		t.Fatalf("create: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	r = post(e, cm1, base+"/appointments", form(cm1.CSRF, start.Add(30*time.Minute)))
	if r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "warn=overlap") {
		t.Fatalf("overlapping create: %d %s", r.Status, r.Header.Get("Location"))
	}
	mustContain(t, "page after an overlap", page(t, e, cm1, strings.TrimSuffix(r.Header.Get("Location"), "#appointments"), http.StatusOK), "时间重叠", "心脏彩超")
	if n := count(); n != before+2 {
		t.Fatalf("appointments after two creates: %d, want %d", n, before+2)
	}

	// Edit: moved to another day, no overlap any more.
	list, _ := e.App.Appointments.List(t.Context(), p1, false, 100)
	var id string
	for _, a := range list {
		if a.Title == "心脏彩超" && a.StartsAt.Equal(start.Add(30*time.Minute)) {
			id = a.ID
		}
	}
	moved := start.AddDate(0, 0, 2)
	v := form(cm1.CSRF, moved)
	v.Set("title", "心脏彩超（复查）")
	if r := post(e, cm1, base+"/appointments/"+id, v); r.Status != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), "warn") {
		t.Fatalf("edit: %d %s", r.Status, r.Header.Get("Location"))
	}
	got, err := e.App.Appointments.Get(t.Context(), p1, id)
	if err != nil || !got.StartsAt.Equal(moved) || got.Title != "心脏彩超（复查）" || got.EndsAt.Sub(got.StartsAt) != time.Hour {
		t.Errorf("after edit: %+v %v", got, err)
	}
	if r := post(e, cm2, base+"/appointments/"+id, form(cm2.CSRF, moved)); r.Status != http.StatusNotFound {
		t.Errorf("cm2 edits cm1's patient's appointment: %d, want 404", r.Status)
	}
}

func TestDeskRescheduleRequests(t *testing.T) {
	e := apitest.New(t)
	cm1, cm2 := e.LoginStaff("cm1"), e.LoginStaff("cm2")
	p3 := e.Demo.Patients["patient3"]

	// README: patient 3 has asked to move his MDT consultation, in cm2's queue.
	queue := page(t, e, cm2, "/admin/appointments/requests", http.StatusOK)
	mustContain(t, "cm2's request queue", queue, "/admin/patients/"+p3, "同意改期", "维持原时间")
	if strings.Contains(page(t, e, cm1, "/admin/appointments/requests", http.StatusOK), "/admin/patients/"+p3) {
		t.Errorf("cm1's queue shows cm2's patient")
	}
	var target appointment.Appointment
	list, err := e.App.Appointments.List(t.Context(), p3, false, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if a.Status == appointment.StatusRescheduleRequested {
			target = a
		}
	}
	if target.ID == "" {
		t.Fatal("patient 3 has no reschedule request")
	}
	preferred := preferredOf(t, queue, target.ID)
	path := "/admin/patients/" + p3 + "/appointments/" + target.ID

	// A time the patient did not ask for, another caseload, no token: refused, unchanged.
	if r := post(e, cm2, path+"/accept", url.Values{"at": {"2030-01-01T00:00:00Z"}, "csrf_token": {cm2.CSRF}}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "请选择患者提出的期望时间之一") {
		t.Errorf("accept an unasked time: %d %s", r.Status, r.Body)
	}
	if r := post(e, cm1, path+"/accept", url.Values{"at": {preferred}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusNotFound {
		t.Errorf("cm1 accepts for cm2's patient: %d, want 404", r.Status)
	}
	if r := post(e, cm2, path+"/accept", url.Values{"at": {preferred}}); r.Status != http.StatusForbidden {
		t.Errorf("accept without CSRF: %d, want 403", r.Status)
	}
	if got, _ := e.App.Appointments.Get(t.Context(), p3, target.ID); got.Status != appointment.StatusRescheduleRequested || !got.StartsAt.Equal(target.StartsAt) {
		t.Fatalf("refused accepts changed the appointment: %+v", got)
	}

	// Accepted: moved to the chosen time, same length, to be confirmed afresh.
	if r := post(e, cm2, path+"/accept", url.Values{"at": {preferred}, "csrf_token": {cm2.CSRF}}); r.Status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	at, _ := time.Parse(time.RFC3339, preferred)
	got, _ := e.App.Appointments.Get(t.Context(), p3, target.ID)
	if got.Status != appointment.StatusScheduled || !got.StartsAt.Equal(at) || got.EndsAt.Sub(got.StartsAt) != target.EndsAt.Sub(target.StartsAt) {
		t.Errorf("after accept: %+v", got)
	}

	// Asked again, then declined: the time stays, the request is cleared.
	patient := auth.Actor{Kind: auth.KindUser, ID: "patient3-user"}
	if _, err := e.App.Appointments.RequestReschedule(t.Context(), patient, p3, target.ID, []time.Time{at.AddDate(0, 0, 1)}, ""); err != nil {
		t.Fatal(err)
	}
	if r := post(e, cm2, path+"/decline", url.Values{"csrf_token": {cm2.CSRF}}); r.Status != http.StatusSeeOther {
		t.Fatalf("decline: %d %s", r.Status, r.Body)
	}
	got, _ = e.App.Appointments.Get(t.Context(), p3, target.ID)
	if got.Status != appointment.StatusScheduled || !got.StartsAt.Equal(at) || got.PreferredTimes != "" {
		t.Errorf("after decline: %+v", got)
	}
	if r := post(e, cm2, path+"/decline", url.Values{"csrf_token": {cm2.CSRF}}); r.Status != http.StatusConflict {
		t.Errorf("decline with no request: %d, want 409", r.Status)
	}
}

// preferredOf finds the first preferred time the queue page offers for an appointment.
func preferredOf(t *testing.T, body, appointmentID string) string {
	t.Helper()
	i := strings.Index(body, appointmentID+"/accept")
	if i < 0 {
		t.Fatalf("the queue offers no accept form for %s", appointmentID)
	}
	rest := body[i:]
	j := strings.Index(rest, `<option value="`)
	if j < 0 {
		t.Fatalf("the accept form offers no time")
	}
	rest = rest[j+len(`<option value="`):]
	return rest[:strings.Index(rest, `"`)]
}

func TestDeskFollowupForms(t *testing.T) {
	e := apitest.New(t)
	cm1, cm2 := e.LoginStaff("cm1"), e.LoginStaff("cm2")
	p1 := e.Demo.Patients["patient1"]
	list, err := e.App.Followups.List(t.Context(), p1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var pending []followup.Followup
	for _, f := range list {
		if f.Status == followup.StatusPending {
			pending = append(pending, f)
		}
	}
	if len(pending) < 2 {
		t.Fatalf("patient 1 has %d pending follow-ups, want at least 2", len(pending))
	}
	f := pending[0]
	path := "/admin/patients/" + p1 + "/followups/" + f.ID
	good := url.Values{"reached": {"yes"}, "symptoms": {"伤口轻度渗液"}, "adherence": {"partial"}, "problems": {"漏服一次抗凝药"},
		"next_action": {"三天后再电话随访"}, "csrf_token": {cm1.CSRF}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for key, vals := range good {
			out[key] = vals
		}
		out.Set(k, v)
		return out
	}
	bad := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"reached missing", with("reached", ""), http.StatusBadRequest, "请说明是否联系上患者"},
		{"unknown adherence", with("adherence", "excellent"), http.StatusBadRequest, "用药依从性只能是"},
		{"text too long", with("problems", strings.Repeat("痛", 2001)), http.StatusBadRequest, "填写内容过长"},
	}
	for _, tc := range bad {
		r := post(e, cm1, path+"/outcome", tc.form)
		if r.Status != tc.status || !strings.Contains(string(r.Body), tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, r.Status, r.Body, tc.status, tc.want)
		}
	}
	if r := post(e, cm1, path+"/outcome", with("csrf_token", "")); r.Status != http.StatusForbidden {
		t.Errorf("without CSRF: %d, want 403", r.Status)
	}
	if r := post(e, cm2, path+"/outcome", with("csrf_token", cm2.CSRF)); r.Status != http.StatusNotFound {
		t.Errorf("another caseload: %d, want 404", r.Status)
	}
	if got := followupOf(t, e, p1, f.ID); got.Status != followup.StatusPending || got.Reached != nil {
		t.Fatalf("refused outcomes were written: %+v", got)
	}
	if r := post(e, cm1, path+"/outcome", good); r.Status != http.StatusSeeOther {
		t.Fatalf("record: %d %s", r.Status, r.Body)
	}
	got := followupOf(t, e, p1, f.ID)
	if got.Status != followup.StatusDone || got.Reached == nil || !*got.Reached || got.Adherence != "partial" || got.Problems != "漏服一次抗凝药" || got.RecordedByID != e.Demo.Staff["cm1"] {
		t.Errorf("recorded: %+v", got)
	}
	if strings.Contains(e.Logs(), "漏服一次抗凝药") {
		t.Errorf("follow-up text was logged")
	}
	mustContain(t, "patient page", page(t, e, cm1, "/admin/patients/"+p1, http.StatusOK), "漏服一次抗凝药", "部分遵医嘱")

	// Reschedule the next one.
	g := pending[1]
	rpath := "/admin/patients/" + p1 + "/followups/" + g.ID + "/reschedule"
	loc, _ := e.App.Config.Location()
	due := e.Clock.Now().In(loc).AddDate(0, 0, 10).Format("2006-01-02")
	for name, form := range map[string]url.Values{
		"bad date":   {"due_on": {"下周"}, "window_days": {"2"}, "csrf_token": {cm1.CSRF}},
		"bad window": {"due_on": {due}, "window_days": {"99"}, "csrf_token": {cm1.CSRF}},
	} {
		if r := post(e, cm1, rpath, form); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "class=") {
			t.Errorf("%s: %d", name, r.Status)
		}
	}
	if r := post(e, cm1, rpath, url.Values{"due_on": {"下周"}, "csrf_token": {cm1.CSRF}}); !strings.Contains(string(r.Body), "日期格式应为 YYYY-MM-DD") {
		t.Errorf("bad date page: %s", r.Body)
	}
	if got := followupOf(t, e, p1, g.ID); !got.WindowStart.Equal(g.WindowStart) {
		t.Fatalf("refused reschedules moved the follow-up")
	}
	if r := post(e, cm1, rpath, url.Values{"due_on": {due}, "channel": {"wechat"}, "window_days": {"2"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusSeeOther {
		t.Fatalf("reschedule: %d %s", r.Status, r.Body)
	}
	if got := followupOf(t, e, p1, g.ID); got.WindowStart.In(loc).Format("2006-01-02") != due || got.Channel != "wechat" {
		t.Errorf("rescheduled: %+v", got)
	}
}

func followupOf(t *testing.T, e *apitest.Env, patientID, id string) followup.Followup {
	t.Helper()
	list, err := e.App.Followups.List(t.Context(), patientID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range list {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("follow-up %s not found", id)
	return followup.Followup{}
}

func TestAdminTemplatesAndPathways(t *testing.T) {
	e := apitest.New(t)
	adm, cm1 := e.LoginStaff("admin"), e.LoginStaff("cm1")

	tpl := page(t, e, adm, "/admin/templates", http.StatusOK)
	reg := e.App.Notify.Templates()
	for _, k := range reg.Kinds() {
		tt, _ := reg.Template(k)
		mustContain(t, "templates page", tpl, k, tt.TemplateID, tt.Page)
	}
	page(t, e, cm1, "/admin/templates", http.StatusForbidden)

	orig, err := configs.Files.ReadFile("pathways/hypertension.yaml")
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(orig), "name: 高血压全病程管理", "name: 高血压全病程管理（2027版）", 1)

	// Every problem of a broken file is listed; nothing changes.
	broken := strings.Replace(renamed, "key: hypertension", "key: Hyper-Tension", 1)
	broken = strings.Replace(broken, "version: 1", "version: 0", 1)
	r := post(e, adm, "/admin/pathways/validate", url.Values{"yaml": {broken}, "csrf_token": {adm.CSRF}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("validate broken: %d", r.Status)
	}
	mustContain(t, "problems", string(r.Body), "未做任何更改", "key:", "version")
	if n := strings.Count(string(r.Body), "<li><code>"); n < 2 {
		t.Errorf("validate lists %d problems, want every one (at least 2)", n)
	}
	if r := post(e, adm, "/admin/pathways/load", url.Values{"yaml": {"key: [unclosed"}, "csrf_token": {adm.CSRF}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("load unparsable: %d", r.Status)
	}
	if r := post(e, adm, "/admin/pathways/validate", url.Values{"yaml": {""}, "csrf_token": {adm.CSRF}}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "请粘贴路径 YAML 或选择文件") {
		t.Errorf("validate empty: %d", r.Status)
	}
	// A pathway pushing an article the library lacks is refused.
	noArticle := strings.Replace(renamed, "article: ", "article: no-such-article-", 1)
	if noArticle != renamed {
		if r := post(e, adm, "/admin/pathways/validate", url.Values{"yaml": {noArticle}, "csrf_token": {adm.CSRF}}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "健康教育库中没有文章") {
			t.Errorf("validate missing article: %d", r.Status)
		}
	}

	// Valid: said so, not loaded.
	r = post(e, adm, "/admin/pathways/validate", url.Values{"yaml": {renamed}, "csrf_token": {adm.CSRF}})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "校验通过") {
		t.Fatalf("validate: %d %s", r.Status, r.Body)
	}
	current := func() string {
		p, _ := e.App.Careplan.Pathways().Pathway("hypertension")
		return p.Name
	}
	if current() != "高血压全病程管理" {
		t.Fatalf("validate changed the library")
	}
	// Load needs the admin role and the CSRF token.
	if r := post(e, adm, "/admin/pathways/load", url.Values{"yaml": {renamed}}); r.Status != http.StatusForbidden {
		t.Errorf("load without CSRF: %d", r.Status)
	}
	if r := post(e, cm1, "/admin/pathways/load", url.Values{"yaml": {renamed}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusForbidden {
		t.Errorf("CM loads a pathway: %d", r.Status)
	}
	if current() != "高血压全病程管理" {
		t.Fatalf("a refused load changed the library")
	}
	// Uploaded as a file: loaded into the running library.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf_token", adm.CSRF)
	fw, _ := mw.CreateFormFile("file", "hypertension.yaml")
	_, _ = fw.Write([]byte(renamed))
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/admin/pathways/load", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(&http.Cookie{Name: auth.SessionCookieName, Value: adm.Cookie})
	w := httptest.NewRecorder()
	e.App.Engine.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "已加载路径") {
		t.Fatalf("load upload: %d %s", w.Code, w.Body)
	}
	if current() != "高血压全病程管理（2027版）" {
		t.Errorf("after load the library has %q", current())
	}
	mustContain(t, "pathways page", page(t, e, adm, "/admin/pathways", http.StatusOK), "高血压全病程管理（2027版）", "1 个建议预约")
}

func TestDashboardShowsTodaysAppointments(t *testing.T) {
	e := apitest.New(t)
	loc, err := e.App.Config.Location()
	if err != nil {
		t.Fatal(err)
	}
	// 08:00 tomorrow in the hospital's zone, so the whole working day is ahead.
	now := e.Clock.Now().In(loc)
	morning := time.Date(now.Year(), now.Month(), now.Day()+1, 8, 0, 0, 0, loc)
	e.Clock.Advance(morning.Sub(now))
	cm1 := e.LoginStaff("cm1")
	p1 := e.Demo.Patients["patient1"]
	for _, at := range []time.Time{morning.Add(2 * time.Hour), morning.AddDate(0, 0, 1).Add(2 * time.Hour)} {
		r := post(e, cm1, "/admin/patients/"+p1+"/appointments", url.Values{"kind": {appointment.KindTreatment}, "title": {"换药 " + at.Format("01-02")},
			"starts_at": {at.Format("2006-01-02T15:04")}, "minutes": {"30"}, "csrf_token": {cm1.CSRF}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	dash := page(t, e, cm1, "/admin", http.StatusOK)
	today := dash[strings.Index(dash, `id="appointments"`):]
	today = today[:strings.Index(today, "</section>")]
	mustContain(t, "today's appointments", today, "10:00", "/admin/patients/"+p1, "换药 "+morning.Format("01-02"))
	if strings.Contains(today, "换药 "+morning.AddDate(0, 0, 1).Format("01-02")) {
		t.Errorf("tomorrow's appointment is listed today")
	}
}

// TestDeskProposalQueue: the appointment a pathway proposed for patient 1
// (the 6-week revisit, proposed when the demo put them in weeks 2–4) waits
// on cm1's requests page with accept and dismiss forms; cm1 accepts it an
// hour later, for 45 minutes, in another room.
func TestDeskProposalQueue(t *testing.T) {
	e := apitest.New(t)
	e.DeliverEvents()
	cm1, cm2 := e.LoginStaff("cm1"), e.LoginStaff("cm2")
	p1 := e.Demo.Patients["patient1"]
	props, err := e.App.Appointments.Proposals(t.Context(), auth.Actor{Kind: auth.KindStaff, ID: e.Demo.Staff["cm1"], Role: auth.RoleCM, HospitalID: e.Demo.HospitalID}, 10)
	if err != nil || len(props) != 1 {
		t.Fatalf("cm1's proposals: %+v (%v)", props, err)
	}
	prop := props[0]
	path := "/admin/patients/" + p1 + "/appointments/" + prop.ID
	mustContain(t, "patient page before", page(t, e, cm1, "/admin/patients/"+p1, http.StatusOK), "护理路径建议的预约", "路径建议，待采纳")
	queue := page(t, e, cm1, "/admin/appointments/requests", http.StatusOK)
	mustContain(t, "cm1's queue", queue, "路径建议的预约", "术后6周门诊复诊", path+"/accept-proposal", path+"/dismiss-proposal", "采纳", "不采纳")
	if strings.Contains(page(t, e, cm2, "/admin/appointments/requests", http.StatusOK), prop.ID) {
		t.Errorf("cm2's queue shows cm1's patient's proposal")
	}

	zone, _ := time.LoadLocation("Asia/Shanghai")
	later := prop.StartsAt.Add(time.Hour).In(zone).Format("2006-01-02T15:04")
	form := url.Values{"starts_at": {later}, "minutes": {"45"}, "location": {"门诊楼2楼关节外科5诊室"}, "csrf_token": {cm1.CSRF}}
	for _, tc := range []struct {
		who    apitest.StaffSession
		values url.Values
		action string
		status int
		text   string
	}{
		{cm1, url.Values{"starts_at": {"明天上午"}, "csrf_token": {cm1.CSRF}}, "/accept-proposal", http.StatusBadRequest, "请填写正确的预约开始时间"},
		{cm1, url.Values{"starts_at": {"2020-01-01T09:00"}, "csrf_token": {cm1.CSRF}}, "/accept-proposal", http.StatusUnprocessableEntity, "预约时间不能早于当前时间"},
		{cm1, url.Values{"reason": {" "}, "csrf_token": {cm1.CSRF}}, "/dismiss-proposal", http.StatusBadRequest, "不采纳预约建议需要填写原因"},
		{cm2, url.Values{"starts_at": {later}, "csrf_token": {cm2.CSRF}}, "/accept-proposal", http.StatusNotFound, ""},
		{cm1, url.Values{"starts_at": {later}}, "/accept-proposal", http.StatusForbidden, ""},
	} {
		if r := post(e, tc.who, path+tc.action, tc.values); r.Status != tc.status || !strings.Contains(string(r.Body), tc.text) {
			t.Errorf("%s %v: %d, want %d %q", tc.action, tc.values, r.Status, tc.status, tc.text)
		}
	}
	if got, _ := e.App.Appointments.Get(t.Context(), p1, prop.ID); got.Status != appointment.StatusProposed || !got.StartsAt.Equal(prop.StartsAt) {
		t.Fatalf("refused answers changed the proposal: %+v", got)
	}
	if r := post(e, cm1, path+"/accept-proposal", form); r.Status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	got, _ := e.App.Appointments.Get(t.Context(), p1, prop.ID)
	if got.Status != appointment.StatusScheduled || !got.StartsAt.Equal(prop.StartsAt.Add(time.Hour)) ||
		got.EndsAt.Sub(got.StartsAt) != 45*time.Minute || got.Location != "门诊楼2楼关节外科5诊室" || got.AcceptedAt == nil {
		t.Errorf("after accept: %+v", got)
	}
	if strings.Contains(page(t, e, cm1, "/admin/appointments/requests", http.StatusOK), path+"/accept-proposal") {
		t.Error("accepted proposal still in the queue")
	}
	if r := post(e, cm1, path+"/dismiss-proposal", url.Values{"reason": {"重复"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusConflict {
		t.Errorf("dismiss an accepted proposal: %d, want 409", r.Status)
	}
	after := page(t, e, cm1, "/admin/patients/"+p1, http.StatusOK)
	mustContain(t, "patient page", after, "术后6周门诊复诊")
	if strings.Contains(after, "护理路径建议的预约") {
		t.Error("the patient page still lists the accepted proposal as a proposal")
	}
}
