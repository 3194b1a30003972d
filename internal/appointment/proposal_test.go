package appointment_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

type proposalView struct {
	view
	PatientID   string `json:"patient_id"`
	Kind        string `json:"kind"`
	Preparation string `json:"preparation"`
	Location    string `json:"location"`
}

// proposalsOf lists the CM's proposals for one patient.
func proposalsOf(cm caller, patientID string) []proposalView {
	cm.t.Helper()
	var all struct {
		Items []proposalView `json:"items"`
	}
	cm.do(http.MethodGet, "/appointments/proposals", nil, 200, "", &all)
	var out []proposalView
	for _, p := range all.Items {
		if p.PatientID == patientID {
			out = append(out, p)
		}
	}
	return out
}

// TestPathwayProposesAppointmentForCM: patient2 (knee arthroplasty) is
// discharged; the post-discharge stage proposes the 2-week revisit to cm1,
// once however often the trigger runs. The patient sees nothing and is
// reminded of nothing until cm1 accepts; then it is theirs, scheduled, and
// reminded the day before.
func TestPathwayProposesAppointmentForCM(t *testing.T) {
	e := apitest.New(t)
	e.DeliverEvents() // the demo's own stage events
	p2 := e.Demo.Patients["patient2"]
	cm := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	other := caller{t: t, e: e, staff: e.LoginStaff("cm2")}
	patient := caller{t: t, e: e, token: e.LoginWeChat("patient2").AccessToken}
	if got := proposalsOf(cm, p2); len(got) != 0 {
		t.Fatalf("proposals before discharge: %+v", got)
	}

	var plan struct {
		ID string `json:"id"`
	}
	cm.do(http.MethodGet, "/patients/"+p2+"/plan", nil, 200, "", &plan)
	today := careplan.FormatDay(careplan.DayOf(e.Clock.Now(), shanghai()))
	for _, ev := range []string{"admission", "surgery", "discharge"} {
		cm.do(http.MethodPost, "/patients/"+p2+"/plans/"+plan.ID+"/events", map[string]string{"event": ev, "date": today}, 200, "", nil)
	}
	topics := e.DeliverEvents() // two stage changes (in hospital, then discharged) read the same current stage
	if strings.Count(strings.Join(topics, " "), careplan.TopicStageChanged) < 1 {
		t.Fatalf("no stage change delivered: %v", topics)
	}
	// Retries of the event and the hourly catch-up (twice) add nothing.
	payload := []byte(`{"plan_id":"` + plan.ID + `"}`)
	if err := e.App.Appointments.HandleStageChanged(t.Context(), payload); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.App.Handlers()[appointment.TaskPropose](t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	got := proposalsOf(cm, p2)
	if len(got) != 1 {
		t.Fatalf("%d proposals, want exactly the 2-week revisit: %+v", len(got), got)
	}
	prop := got[0]
	if want := at(e, 14, 9, 0); prop.Status != "proposed" || prop.Kind != "revisit" || !prop.StartsAt.Equal(want) ||
		prop.DurationMinutes != 30 || prop.Preparation == "" {
		t.Fatalf("proposal %+v, want a proposed 30-minute revisit at %s with preparation", prop, want)
	}

	// Not the patient's, nor another CM's.
	var mine list
	patient.do(http.MethodGet, "/patients/"+p2+"/appointments", nil, 200, "", &mine)
	for _, a := range mine.Items {
		if a.ID == prop.ID {
			t.Fatalf("patient sees the proposal: %+v", a)
		}
	}
	var home struct {
		Next *view `json:"next_appointment"`
	}
	patient.do(http.MethodGet, "/patients/"+p2+"/home", nil, 200, "", &home)
	if home.Next != nil && home.Next.ID == prop.ID {
		t.Fatalf("the home screen's next appointment is the proposal: %+v", home.Next)
	}
	patient.do(http.MethodGet, "/patients/"+p2+"/appointments/"+prop.ID, nil, 404, "not_found", nil)
	patient.do(http.MethodPost, "/patients/"+p2+"/appointments/"+prop.ID+"/confirm", nil, 404, "not_found", nil)
	other.do(http.MethodPost, "/patients/"+p2+"/appointments/"+prop.ID+"/accept-proposal", map[string]any{}, 404, "", nil)
	other.do(http.MethodPost, "/patients/"+p2+"/appointments/"+prop.ID+"/dismiss-proposal", map[string]any{"reason": "不需要"}, 404, "", nil)
	if got := proposalsOf(other, p2); len(got) != 0 {
		t.Fatalf("cm2 sees cm1's patient's proposals: %+v", got)
	}
	// A proposal is accepted or dismissed, not edited or closed.
	cm.do(http.MethodPut, "/patients/"+p2+"/appointments/"+prop.ID, booking("revisit", at(e, 14, 10, 0), 30), 409, "appointment_proposed", nil)

	// The day before, 10:00: a proposal is not reminded.
	e.Clock.Advance(at(e, 13, 10, 0).Sub(e.Clock.Now()))
	cm = caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	patient = caller{t: t, e: e, token: e.LoginWeChat("patient2").AccessToken}
	remind := func() {
		if err := e.App.Handlers()[appointment.TaskRemind](t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	remind()
	if r := reminders(t, e, prop.ID); len(r) != 0 {
		t.Fatalf("proposal reminded: %+v", r)
	}

	// Bad times are refused and change nothing.
	path := "/patients/" + p2 + "/appointments/" + prop.ID + "/accept-proposal"
	cm.do(http.MethodPost, path, map[string]any{"starts_at": at(e, 1, 10, 0), "ends_at": at(e, 1, 9, 0)}, 400, "ends_before_start", nil)
	cm.do(http.MethodPost, path, map[string]any{"starts_at": at(e, -1, 10, 0)}, 422, "appointment_in_past", nil)
	if got := proposalsOf(cm, p2); len(got) != 1 || !got[0].StartsAt.Equal(prop.StartsAt) {
		t.Fatalf("after refused accepts: %+v", got)
	}

	// Accepted at another hour and place (the length kept), with a key: a retry replays.
	accept := func() apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1" + path, Cookie: cm.staff.Cookie, CSRF: cm.staff.CSRF,
			Headers: map[string]string{"Idempotency-Key": "accept-" + prop.ID}, Body: map[string]any{"starts_at": at(e, 1, 14, 0), "location": "门诊楼2楼骨科诊室5"}})
	}
	first, retry := accept(), accept()
	var s saved
	first.JSON(t, &s)
	if first.Status != 200 || retry.Status != 200 || retry.Header.Get("Idempotent-Replayed") != "true" || string(retry.Body) != string(first.Body) {
		t.Fatalf("accept: %d %s; retry %d %q", first.Status, first.Body, retry.Status, retry.Header.Get("Idempotent-Replayed"))
	}
	if s.Appointment.Status != "scheduled" || !s.Appointment.StartsAt.Equal(at(e, 1, 14, 0)) || s.Appointment.DurationMinutes != 30 {
		t.Fatalf("accepted %+v", s.Appointment)
	}
	if got := proposalsOf(cm, p2); len(got) != 0 {
		t.Fatalf("still in the queue: %+v", got)
	}
	cm.do(http.MethodPost, path, map[string]any{}, 409, "appointment_not_proposed", nil)

	// Now the patient's: listed, confirmable, reminded the day before and that morning.
	patient.do(http.MethodGet, "/patients/"+p2+"/appointments", nil, 200, "", &mine)
	listed := false
	for _, a := range mine.Items {
		listed = listed || a.ID == prop.ID && a.Status == "scheduled"
	}
	if !listed {
		t.Fatalf("patient's list after accept lacks it: %+v", mine.Items)
	}
	remind()
	r := reminders(t, e, prop.ID)
	if len(r) != 2 || r[0].PatientID != p2 {
		t.Fatalf("reminders after accept: %+v", r)
	}
	patient.do(http.MethodPost, "/patients/"+p2+"/appointments/"+prop.ID+"/confirm", nil, 200, "", nil)
}

// TestDismissedProposalNeverReachesPatient: patient1's 6-week revisit
// (proposed when the demo put them in weeks 2–4) is dismissed with a reason.
func TestDismissedProposalNeverReachesPatient(t *testing.T) {
	e := apitest.New(t)
	e.DeliverEvents()
	p1 := e.Demo.Patients["patient1"]
	cm := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	got := proposalsOf(cm, p1)
	if len(got) != 1 || got[0].Kind != "revisit" {
		t.Fatalf("patient1's proposals: %+v", got)
	}
	path := "/patients/" + p1 + "/appointments/" + got[0].ID
	cm.do(http.MethodPost, path+"/dismiss-proposal", map[string]any{"reason": "  "}, 400, "dismiss_reason_required", nil)
	var v view
	cm.do(http.MethodPost, path+"/dismiss-proposal", map[string]any{"reason": "已在外院预约复诊"}, 200, "", &v)
	if v.Status != "cancelled" || v.CancelReason != "已在外院预约复诊" {
		t.Fatalf("dismissed: %+v", v)
	}
	cm.do(http.MethodPost, path+"/accept-proposal", map[string]any{}, 409, "appointment_not_proposed", nil)
	if got := proposalsOf(cm, p1); len(got) != 0 {
		t.Fatalf("dismissed proposal still queued: %+v", got)
	}
	// Dismissed for good: the catch-up does not propose it again.
	if err := e.App.Handlers()[appointment.TaskPropose](t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := proposalsOf(cm, p1); len(got) != 0 {
		t.Fatalf("proposed again after dismissal: %+v", got)
	}
	patient := caller{t: t, e: e, token: e.LoginWeChat("patient1").AccessToken}
	for _, when := range []string{"upcoming", "past"} {
		var l list
		patient.do(http.MethodGet, "/patients/"+p1+"/appointments?when="+when, nil, 200, "", &l)
		for _, a := range l.Items {
			if a.ID == got[0].ID {
				t.Fatalf("patient sees the dismissed proposal in %s: %+v", when, a)
			}
		}
	}
}

func shanghai() *time.Location {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	return loc
}

// TestProposalKeyIsUniqueInTheDatabase: two workers proposing the same plan
// item at once both pass the existence check; the unique proposal_key lets
// only one row in, and the store answers "already there" to the other.
func TestProposalKeyIsUniqueInTheDatabase(t *testing.T) {
	db := dbtest.New(t)
	now := time.Now().UTC().Truncate(time.Second)
	key := "plan-1:revisit_w2"
	proposal := func() *appointment.Appointment {
		return &appointment.Appointment{ID: database.NewID(), PatientID: "patient-1", HospitalID: "hospital-1", Kind: "revisit",
			Title: "复诊", StartsAt: now.Add(24 * time.Hour), EndsAt: now.Add(25 * time.Hour), Status: appointment.StatusProposed,
			ProposalKey: &key, CreatedByID: appointment.SystemActor, CreatedAt: now, UpdatedAt: now}
	}
	if err := db.Create(proposal()).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(proposal()).Error; !errors.Is(err, gorm.ErrDuplicatedKey) {
		t.Fatalf("second row with the same proposal_key: %v, want a duplicate-key error", err)
	}
	created, err := appointment.NewStore(db).CreateProposal(t.Context(), proposal())
	if err != nil || created {
		t.Fatalf("CreateProposal of an existing key: created %v, %v", created, err)
	}
	// Appointments the CM books carry no key: any number of them.
	for range 2 {
		a := proposal()
		a.ProposalKey, a.Status = nil, appointment.StatusScheduled
		if err := db.Create(a).Error; err != nil {
			t.Fatalf("booked appointment without a key: %v", err)
		}
	}
}
