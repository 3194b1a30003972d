package appointment_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type view struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Title        string `json:"title"`
	CancelReason string `json:"cancel_reason"`
	Reschedule   *struct {
		PreferredTimes []time.Time `json:"preferred_times"`
		Note           string      `json:"note"`
	} `json:"reschedule"`
	StartsAt        time.Time `json:"starts_at"`
	DurationMinutes int       `json:"duration_minutes"`
}

type saved struct {
	Appointment view `json:"appointment"`
	Warnings    []struct {
		Code          string `json:"code"`
		AppointmentID string `json:"appointment_id"`
	} `json:"warnings"`
}

type list struct {
	Items []view `json:"items"`
}

type caller struct {
	t     *testing.T
	e     *apitest.Env
	token string
	staff apitest.StaffSession
}

func (c caller) do(method, path string, body any, want int, wantCode string, v any) apitest.Response {
	c.t.Helper()
	r := apitest.Request{Method: method, Path: "/api/v1" + path, Body: body, Token: c.token, Cookie: c.staff.Cookie, CSRF: c.staff.CSRF}
	resp := c.e.Do(r)
	if resp.Status != want || wantCode != "" && resp.ErrorCode() != wantCode {
		c.t.Fatalf("%s %s: %d %s, want %d %s", method, path, resp.Status, resp.Body, want, wantCode)
	}
	if v != nil {
		resp.JSON(c.t, v)
	}
	return resp
}

// at is a time in Asia/Shanghai, days from the clock's today.
func at(e *apitest.Env, days, hour, minute int) time.Time {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := e.Clock.Now().In(loc)
	return time.Date(now.Year(), now.Month(), now.Day()+days, hour, minute, 0, 0, loc)
}

func booking(kind string, start time.Time, minutes int) map[string]any {
	return map[string]any{"kind": kind, "starts_at": start, "ends_at": start.Add(time.Duration(minutes) * time.Minute),
		"department": "骨科门诊", "clinician": "李医生", "location": "门诊楼3楼312室",
		"directions": "从东门进入，乘电梯至3楼右转", "preparation": "请空腹，携带身份证、医保卡和出院小结"}
}

func TestAppointmentLifecycle(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	cm := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	patient := caller{t: t, e: e, token: e.LoginWeChat("patient1").AccessToken}
	daughter := caller{t: t, e: e, token: e.LoginWeChat("family1").AccessToken}

	var first, second saved
	cm.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 3, 9, 0), 30), 201, "", &first)
	if first.Appointment.Status != "scheduled" || first.Appointment.Title != "复诊" || first.Appointment.DurationMinutes != 30 || len(first.Warnings) != 0 {
		t.Fatalf("created %+v", first)
	}
	// A second booking sharing ten minutes is warned about, not refused.
	cm.do(http.MethodPost, p1+"/appointments", booking("examination", at(e, 3, 9, 20), 60), 201, "", &second)
	if len(second.Warnings) != 1 || second.Warnings[0].Code != "overlap" || second.Warnings[0].AppointmentID != first.Appointment.ID {
		t.Fatalf("overlap warnings %+v", second.Warnings)
	}
	// Touching ends do not overlap.
	var third saved
	cm.do(http.MethodPost, p1+"/appointments", booking("treatment", at(e, 3, 10, 20), 30), 201, "", &third)
	if len(third.Warnings) != 0 {
		t.Fatalf("touching appointments warned: %+v", third.Warnings)
	}

	// The patient confirms (twice: a retry is harmless); family cancels one with a reason.
	var v view
	patient.do(http.MethodPost, p1+"/appointments/"+first.Appointment.ID+"/confirm", nil, 200, "", &v)
	patient.do(http.MethodPost, p1+"/appointments/"+first.Appointment.ID+"/confirm", nil, 200, "", &v)
	if v.Status != "confirmed" {
		t.Fatalf("after confirm: %s", v.Status)
	}
	daughter.do(http.MethodPost, p1+"/appointments/"+third.Appointment.ID+"/cancel", map[string]any{"reason": "  "}, 400, "cancel_reason_required", nil)
	daughter.do(http.MethodPost, p1+"/appointments/"+third.Appointment.ID+"/cancel", map[string]any{"reason": "当天要陪父亲做检查"}, 200, "", &v)
	if v.Status != "cancelled" || v.CancelReason == "" {
		t.Fatalf("after cancel: %+v", v)
	}
	patient.do(http.MethodPost, p1+"/appointments/"+third.Appointment.ID+"/confirm", nil, 409, "appointment_status_conflict", nil)
	cm.do(http.MethodPut, p1+"/appointments/"+third.Appointment.ID, booking("treatment", at(e, 4, 10, 0), 30), 409, "appointment_closed", nil)

	// The patient asks for another time; the request waits in cm1's queue, not cm2's.
	patient.do(http.MethodPost, p1+"/appointments/"+second.Appointment.ID+"/reschedule-request", map[string]any{"preferred_times": []time.Time{}}, 400, "preferred_times_invalid", nil)
	patient.do(http.MethodPost, p1+"/appointments/"+second.Appointment.ID+"/reschedule-request",
		map[string]any{"preferred_times": []time.Time{at(e, -1, 9, 0)}}, 400, "preferred_times_invalid", nil)
	patient.do(http.MethodPost, p1+"/appointments/"+second.Appointment.ID+"/reschedule-request",
		map[string]any{"preferred_times": []time.Time{at(e, 5, 14, 0), at(e, 6, 9, 0)}, "note": "下午更方便"}, 200, "", &v)
	if v.Status != "reschedule_requested" || v.Reschedule == nil || len(v.Reschedule.PreferredTimes) != 2 {
		t.Fatalf("after request: %+v", v)
	}
	var queue list
	cm.do(http.MethodGet, "/appointments/requests", nil, 200, "", &queue)
	if !hasID(queue.Items, second.Appointment.ID) {
		t.Fatalf("cm1's queue misses the request: %+v", queue.Items)
	}
	caller{t: t, e: e, staff: e.LoginStaff("cm2")}.do(http.MethodGet, "/appointments/requests", nil, 200, "", &queue)
	if hasID(queue.Items, second.Appointment.ID) {
		t.Fatal("cm2 sees cm1's patient's request")
	}
	// The CM moves it to the first preferred time: scheduled again, out of the queue.
	var moved saved
	cm.do(http.MethodPut, p1+"/appointments/"+second.Appointment.ID, booking("examination", at(e, 5, 14, 0), 60), 200, "", &moved)
	if moved.Appointment.Status != "scheduled" || moved.Appointment.Reschedule != nil || !moved.Appointment.StartsAt.Equal(at(e, 5, 14, 0)) {
		t.Fatalf("moved %+v", moved.Appointment)
	}
	cm.do(http.MethodGet, "/appointments/requests", nil, 200, "", &queue)
	if hasID(queue.Items, second.Appointment.ID) {
		t.Fatal("answered request still queued")
	}

	// Outcomes only once it has started.
	cm.do(http.MethodPost, p1+"/appointments/"+first.Appointment.ID+"/close", map[string]any{"status": "completed"}, 422, "appointment_not_started", nil)
	cm.do(http.MethodPost, p1+"/appointments/"+first.Appointment.ID+"/close", map[string]any{"status": "cancelled"}, 400, "cancel_reason_required", nil)
	e.Clock.Advance(4 * 24 * time.Hour)
	cm.staff = e.LoginStaff("cm1") // sessions expired meanwhile
	daughter.token = e.LoginWeChat("family1").AccessToken
	cm.do(http.MethodPost, p1+"/appointments/"+first.Appointment.ID+"/close", map[string]any{"status": "completed"}, 200, "", &v)
	if v.Status != "completed" {
		t.Fatalf("closed %+v", v)
	}
	var past, upcoming list
	daughter.do(http.MethodGet, p1+"/appointments?when=past", nil, 200, "", &past)
	daughter.do(http.MethodGet, p1+"/appointments", nil, 200, "", &upcoming)
	if !hasID(past.Items, first.Appointment.ID) || hasID(upcoming.Items, first.Appointment.ID) || !hasID(upcoming.Items, second.Appointment.ID) {
		t.Fatalf("past %+v upcoming %+v", past.Items, upcoming.Items)
	}
}

func hasID(items []view, id string) bool {
	for _, v := range items {
		if v.ID == id {
			return true
		}
	}
	return false
}

func TestBadBookings(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	cm := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	before := count(e)
	cm.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, -1, 9, 0), 30), 422, "appointment_in_past", nil)
	cm.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 2, 9, 0), -30), 400, "ends_before_start", nil)
	cm.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 2, 9, 0), 0), 400, "ends_before_start", nil)
	cm.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 2, 6, 0), 13*60), 400, "appointment_too_long", nil)
	bad := booking("revisit", at(e, 2, 9, 0), 30)
	bad["kind"] = "spa"
	cm.do(http.MethodPost, p1+"/appointments", bad, 400, "", nil)
	if n := count(e); n != before {
		t.Fatalf("a refused booking was written (%d rows, %d before)", n, before)
	}

	// Someone else's appointment is 404 whoever asks through the wrong patient.
	var a saved
	cm.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 2, 9, 0), 30), 201, "", &a)
	p2 := "/patients/" + e.Demo.Patients["patient2"]
	cm.do(http.MethodGet, p2+"/appointments/"+a.Appointment.ID, nil, 404, "not_found", nil)
	caller{t: t, e: e, token: e.LoginWeChat("patient2").AccessToken}.
		do(http.MethodPost, p2+"/appointments/"+a.Appointment.ID+"/confirm", nil, 404, "not_found", nil)
}

func count(e *apitest.Env) int64 {
	var n int64
	e.App.DB.Model(&appointment.Appointment{}).Count(&n)
	return n
}

func TestAppointmentAccess(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	p3 := "/patients/" + e.Demo.Patients["patient3"]
	cm1 := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	cm2 := caller{t: t, e: e, staff: e.LoginStaff("cm2")}
	var a saved
	cm1.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 2, 9, 0), 30), 201, "", &a)
	item := p1 + "/appointments/" + a.Appointment.ID

	// A CM not assigned to the patient sees nothing and books nothing.
	cm2.do(http.MethodGet, p1+"/appointments", nil, 404, "not_found", nil)
	cm2.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 2, 9, 0), 30), 404, "not_found", nil)
	// Staff do not answer for the patient.
	cm1.do(http.MethodPost, item+"/confirm", nil, 404, "not_found", nil)
	// The patient and family do not book.
	patient := caller{t: t, e: e, token: e.LoginWeChat("patient1").AccessToken}
	patient.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 2, 9, 0), 30), 404, "not_found", nil)
	// patient3's son holds view_appointments only: he may list and confirm his father's.
	son := caller{t: t, e: e, token: e.LoginWeChat("family2").AccessToken}
	var b saved
	cm2.do(http.MethodPost, p3+"/appointments", booking("mdt", at(e, 2, 15, 0), 60), 201, "", &b)
	son.do(http.MethodPost, p3+"/appointments/"+b.Appointment.ID+"/confirm", nil, 200, "", nil)
	son.do(http.MethodGet, p1+"/appointments", nil, 404, "not_found", nil)

	// patient1 takes view_appointments away from his daughter: she is refused from the next request.
	daughter := caller{t: t, e: e, token: e.LoginWeChat("family1").AccessToken}
	daughter.do(http.MethodGet, p1+"/appointments", nil, 200, "", nil)
	var members struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	patient.do(http.MethodGet, p1+"/family/members", nil, 200, "", &members)
	patient.do(http.MethodPut, p1+"/family/members/"+members.Items[0].ID+"/scopes", map[string]any{"scopes": []string{"view_plan"}}, 200, "", nil)
	daughter.do(http.MethodGet, p1+"/appointments", nil, 404, "not_found", nil)
	daughter.do(http.MethodPost, item+"/cancel", map[string]any{"reason": "有事"}, 404, "not_found", nil)
	daughter.do(http.MethodGet, p1+"/calendar.ics", nil, 404, "not_found", nil)
}

func TestCalendarExportParses(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	cm := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	long := booking("pre_admission", at(e, 2, 8, 30), 60)
	long["title"] = "入院预约：全膝关节置换术，请于入院服务中心办理手续；携带身份证、医保卡、既往检查报告，并提前一天晚上十点后禁食"
	var a saved
	cm.do(http.MethodPost, p1+"/appointments", long, 201, "", &a)
	resp := caller{t: t, e: e, token: e.LoginWeChat("patient1").AccessToken}.do(http.MethodGet, p1+"/calendar.ics", nil, 200, "", nil)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
		t.Fatalf("content type %q", ct)
	}
	raw := string(resp.Body)
	if !strings.HasSuffix(raw, "\r\n") || strings.Contains(strings.ReplaceAll(raw, "\r\n", ""), "\n") {
		t.Fatal("lines do not all end in CRLF")
	}
	for _, l := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Fatalf("line of %d octets: %q", len(l), l)
		}
	}
	props := unfold(raw)
	event := props[a.Appointment.ID]
	if event == nil {
		t.Fatalf("no event with UID for %s in\n%s", a.Appointment.ID, raw)
	}
	if got, want := event["DTSTART"], at(e, 2, 8, 30).UTC().Format("20060102T150405Z"); got != want {
		t.Errorf("DTSTART %s, want %s", got, want)
	}
	if got, want := event["DTEND"], at(e, 2, 9, 30).UTC().Format("20060102T150405Z"); got != want {
		t.Errorf("DTEND %s, want %s", got, want)
	}
	if got := event["SUMMARY"]; got != strings.ReplaceAll(strings.ReplaceAll(long["title"].(string), ",", `\,`), ";", `\;`) {
		t.Errorf("SUMMARY %q", got)
	}
	if !strings.Contains(event["DESCRIPTION"], `\n`) || event["LOCATION"] != "门诊楼3楼312室" {
		t.Errorf("DESCRIPTION %q LOCATION %q", event["DESCRIPTION"], event["LOCATION"])
	}
}

// unfold undoes RFC 5545 line folding and returns each VEVENT's properties by UID (without the host).
func unfold(raw string) map[string]map[string]string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
		if strings.HasPrefix(l, " ") && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	out := map[string]map[string]string{}
	var cur map[string]string
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		switch {
		case l == "BEGIN:VEVENT":
			cur = map[string]string{}
		case l == "END:VEVENT":
			uid, _, _ := strings.Cut(cur["UID"], "@")
			out[uid] = cur
			cur = nil
		case cur != nil:
			cur[name] = value
		}
	}
	return out
}

func TestRemindersWrittenOncePerSlot(t *testing.T) {
	e := apitest.New(t)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	// 10:00 in Shanghai, so tomorrow's appointment is due both its reminders.
	now := e.Clock.Now().In(loc)
	e.Clock.Advance(time.Date(now.Year(), now.Month(), now.Day()+1, 10, 0, 0, 0, loc).Sub(e.Clock.Now()))
	p1 := "/patients/" + e.Demo.Patients["patient1"]
	cm := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	var a saved
	cm.do(http.MethodPost, p1+"/appointments", booking("revisit", at(e, 1, 9, 30), 30), 201, "", &a)

	run := func() {
		if err := e.App.Handlers()[appointment.TaskRemind](t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	run()
	run()
	got := reminders(t, e, a.Appointment.ID)
	if len(got) != 2 {
		t.Fatalf("%d reminders, want the day-before and morning ones: %+v", len(got), got)
	}
	// The notification pipeline takes the reminders: each lands once in the
	// patient's notification centre, whatever else happens to the push.
	e.DeliverEvents()
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + e.Demo.Patients["patient1"] + "/notifications",
		Token: e.LoginWeChat("patient1").AccessToken})
	var centre struct {
		Items []struct {
			Kind string `json:"kind"`
		} `json:"notifications"`
	}
	resp.JSON(t, &centre)
	reminded := 0
	for _, it := range centre.Items {
		if it.Kind == "appointment_reminder" {
			reminded++
		}
	}
	if resp.Status != http.StatusOK || reminded != 2 {
		t.Fatalf("notification centre: %d, %d appointment reminders, want 2: %s", resp.Status, reminded, resp.Body)
	}
	want := map[string]time.Time{"day_before": at(e, 0, 18, 0).UTC(), "morning": at(e, 1, 7, 0).UTC()}
	for _, r := range got {
		if r.Kind != "appointment_reminder" || r.Urgent || r.PatientID != e.Demo.Patients["patient1"] ||
			!r.NotBefore.Equal(want[r.Data.Slot]) || r.DedupeKey != appointment.DedupeKey(a.Appointment.ID, r.Data.Slot, a.Appointment.StartsAt) {
			t.Errorf("reminder %+v, want send_at %s", r, want[r.Data.Slot])
		}
	}
	// Moved to another day: reminded again for the new time, once.
	cm.do(http.MethodPut, p1+"/appointments/"+a.Appointment.ID, booking("revisit", at(e, 1, 15, 0), 30), 200, "", nil)
	run()
	run()
	if got := reminders(t, e, a.Appointment.ID); len(got) != 4 {
		t.Fatalf("%d reminders after the move, want 4", len(got))
	}
	// A cancelled appointment is not reminded.
	var b saved
	cm.do(http.MethodPost, p1+"/appointments", booking("examination", at(e, 1, 16, 0), 30), 201, "", &b)
	caller{t: t, e: e, token: e.LoginWeChat("patient1").AccessToken}.
		do(http.MethodPost, p1+"/appointments/"+b.Appointment.ID+"/cancel", map[string]any{"reason": "已在外院完成检查"}, 200, "", nil)
	run()
	if got := reminders(t, e, b.Appointment.ID); len(got) != 0 {
		t.Fatalf("cancelled appointment reminded: %+v", got)
	}
}

type notifyRequest struct {
	Kind      string    `json:"kind"`
	PatientID string    `json:"patient_id"`
	DedupeKey string    `json:"dedupe_key"`
	Urgent    bool      `json:"urgent"`
	NotBefore time.Time `json:"not_before"`
	Data      struct {
		AppointmentID string `json:"appointment_id"`
		Slot          string `json:"slot"`
	} `json:"data"`
}

func reminders(t *testing.T, e *apitest.Env, appointmentID string) []notifyRequest {
	t.Helper()
	var events []outbox.Event
	if err := e.App.DB.Where("topic = ?", appointment.TopicNotify).Order("id").Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	var out []notifyRequest
	for _, ev := range events {
		var r notifyRequest
		if err := json.Unmarshal(ev.Payload, &r); err != nil {
			t.Fatal(err)
		}
		if r.Data.AppointmentID == appointmentID {
			out = append(out, r)
		}
	}
	return out
}
