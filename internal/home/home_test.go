package home_test

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type homeView struct {
	PatientID string `json:"patient_id"`
	Plan      *struct {
		CurrentStage *struct {
			Name string `json:"name"`
		} `json:"current_stage"`
	} `json:"plan"`
	NextAppointment *struct {
		ID       string    `json:"id"`
		StartsAt time.Time `json:"starts_at"`
	} `json:"next_appointment"`
	UnreadMessages  *int `json:"unread_messages"`
	UnreadEducation *int `json:"unread_education"`
	LatestReadings  *[]struct {
		Type       string `json:"type"`
		Components []struct {
			Name  string  `json:"name"`
			Value float64 `json:"value"`
		} `json:"components"`
	} `json:"latest_readings"`
}

func getHome(t *testing.T, e *apitest.Env, patientID, token string) (int, homeView) {
	t.Helper()
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + patientID + "/home", Token: token})
	var v homeView
	if resp.Status == http.StatusOK {
		resp.JSON(t, &v)
	}
	return resp.Status, v
}

// The home screen in one call shows what the four separate calls showed.
func TestHomeShowsPlanAppointmentUnreadAndLatestReadings(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1").AccessToken

	for _, bp := range []struct{ sys, dia int }{{150, 95}, {132, 84}} {
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: tok,
			Body: map[string]any{"type": "blood_pressure", "systolic": bp.sys, "diastolic": bp.dia, "measured_at": e.Clock.Now().Format(time.RFC3339)}})
		if resp.Status != http.StatusCreated && resp.Status != http.StatusOK {
			t.Fatalf("report: %d %s", resp.Status, resp.Body)
		}
		e.Clock.Advance(time.Minute)
	}
	for _, kg := range []float64{71.5, 70.8} {
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: tok,
			Body: map[string]any{"type": "weight", "value": kg, "measured_at": e.Clock.Now().Format(time.RFC3339)}})
		if resp.Status != http.StatusCreated && resp.Status != http.StatusOK {
			t.Fatalf("report weight: %d %s", resp.Status, resp.Body)
		}
		e.Clock.Advance(time.Minute)
	}
	status, home := getHome(t, e, p1, tok)
	if status != http.StatusOK {
		t.Fatalf("GET home: %d", status)
	}
	if home.PatientID != p1 || home.Plan == nil || home.Plan.CurrentStage == nil || home.Plan.CurrentStage.Name == "" {
		t.Fatalf("home plan: %+v", home.Plan)
	}
	if home.NextAppointment == nil || !home.NextAppointment.StartsAt.After(e.Clock.Now()) {
		t.Fatalf("patient 1 has an upcoming appointment; home shows %+v", home.NextAppointment)
	}
	if home.LatestReadings == nil || len(*home.LatestReadings) == 0 {
		t.Fatal("home shows no latest readings")
	}
	latest := *home.LatestReadings
	seen := map[string]bool{}
	for _, r := range latest {
		if seen[r.Type] {
			t.Fatalf("latest readings list %s twice: %+v", r.Type, latest)
		}
		seen[r.Type] = true
	}
	if len(latest) < 2 || latest[0].Type != "blood_pressure" || latest[1].Type != "weight" {
		t.Fatalf("latest readings = %+v, want blood pressure then weight first (the home's order)", latest)
	}
	if len(latest[0].Components) == 0 || latest[0].Components[0].Value != 132 {
		t.Fatalf("latest blood pressure = %+v, want the newer 132", latest[0])
	}
	if len(latest[1].Components) == 0 || latest[1].Components[0].Value != 70.8 {
		t.Fatalf("latest weight = %+v, want the newer 70.8", latest[1])
	}

	// The same figures as the screens the badges lead to.
	var thread struct {
		UnreadCount int `json:"unread_count"`
	}
	e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/thread", Token: tok}).JSON(t, &thread)
	var feed struct {
		Unread int `json:"unread"`
	}
	e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/education?status=unread", Token: tok}).JSON(t, &feed)
	if home.UnreadMessages == nil || *home.UnreadMessages != thread.UnreadCount {
		t.Fatalf("home unread messages %v, thread says %d", home.UnreadMessages, thread.UnreadCount)
	}
	if home.UnreadEducation == nil || *home.UnreadEducation != feed.Unread {
		t.Fatalf("home unread education %v, feed says %d", home.UnreadEducation, feed.Unread)
	}

	// A new message from the CM moves the badge.
	cm := e.LoginStaff("cm1")
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/thread/messages", Cookie: cm.Cookie, CSRF: cm.CSRF,
		Body: map[string]any{"kind": "text", "text": "明天记得复查", "client_msg_id": "home-test-1"}})
	if resp.Status != http.StatusCreated && resp.Status != http.StatusOK {
		t.Fatalf("CM message: %d %s", resp.Status, resp.Body)
	}
	_, after := getHome(t, e, p1, tok)
	if after.UnreadMessages == nil || *after.UnreadMessages != *home.UnreadMessages+1 {
		t.Fatalf("unread after a CM message = %v, want %d", after.UnreadMessages, *home.UnreadMessages+1)
	}
}

// A relative sees only the sections the patient shared; others get 404.
func TestHomeShowsARelativeOnlyTheSharedSections(t *testing.T) {
	e := apitest.New(t)
	p3 := e.Demo.Patients["patient3"]
	son := e.LoginWeChat("family2").AccessToken // patient 3's son: appointments only
	status, home := getHome(t, e, p3, son)
	if status != http.StatusOK {
		t.Fatalf("GET home as a relative with a link: %d", status)
	}
	if home.Plan != nil || home.UnreadMessages != nil || home.UnreadEducation != nil || home.LatestReadings != nil {
		t.Fatalf("a relative with view_appointments only sees more: %+v", home)
	}
	if home.NextAppointment == nil {
		t.Fatal("a relative with view_appointments does not see patient 3's next appointment")
	}

	daughter := e.LoginWeChat("family1").AccessToken // patient 1's daughter
	if status, _ := getHome(t, e, p3, daughter); status != http.StatusNotFound {
		t.Fatalf("another family's relative: %d, want 404", status)
	}
	other := e.LoginWeChat("patient1").AccessToken
	if status, _ := getHome(t, e, p3, other); status != http.StatusNotFound {
		t.Fatalf("another patient: %d, want 404", status)
	}
}

// Opening the home screen writes nothing: no thread is created for a
// patient who never opened the chat.
func TestHomeIsARead(t *testing.T) {
	e := apitest.New(t)
	p := e.Demo.Patients["patient5"]
	tok := e.LoginWeChat("patient5").AccessToken
	count := func() (n int64) {
		if err := e.App.DB.Table("message_threads").Where("patient_id = ?", p).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	status, home := getHome(t, e, p, tok)
	if status != http.StatusOK {
		t.Fatalf("GET home: %d", status)
	}
	if home.UnreadMessages == nil || *home.UnreadMessages != 0 {
		t.Fatalf("unread = %v, want 0", home.UnreadMessages)
	}
	if after := count(); after != before {
		t.Fatalf("GET home changed message_threads for the patient: %d → %d", before, after)
	}
}
