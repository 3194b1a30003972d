package observation_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
)

// TestCriticalReadingReachesTheNotificationCentre: a critical blood pressure
// raises an alert whose event, handled by the worker, leaves the patient an
// in-app notification that names no reading.
func TestCriticalReadingReachesTheNotificationCentre(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: tok,
		Body: obj{"type": "blood_pressure", "systolic": 192, "diastolic": 118, "measured_at": ago(e, 0)}})
	if resp.Status != http.StatusCreated && resp.Status != http.StatusOK {
		t.Fatalf("report: %d %s", resp.Status, resp.Body)
	}
	e.DeliverEvents()
	centre := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/notifications", Token: tok})
	body := string(centre.Body)
	if centre.Status != http.StatusOK || !strings.Contains(body, `"kind":"reading_attention"`) {
		t.Fatalf("notification centre after a critical reading: %d %s", centre.Status, body)
	}
	// What the notification shows (not its ids and times, which may hold the digits by chance).
	var centreBody struct {
		Notifications []struct{ Kind, Title, Page string }
	}
	centre.JSON(t, &centreBody)
	for _, n := range centreBody.Notifications {
		if shown := n.Kind + n.Title + n.Page; strings.Contains(shown, "192") || strings.Contains(shown, "118") {
			t.Fatalf("the notification shows the reading: %+v", n)
		}
	}
}
