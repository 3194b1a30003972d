package demo_test

import (
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

// TestDemoVitalsTellTheirStories: the demo's readings raised exactly the
// alerts the demo describes, through the real rules.
func TestDemoVitalsTellTheirStories(t *testing.T) {
	e := apitest.New(t)
	alerts := func(s apitest.StaffSession) []string {
		t.Helper()
		resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/alerts", Cookie: s.Cookie})
		var body struct {
			Items []struct {
				PatientName string `json:"patient_name"`
				Rule        string `json:"rule"`
				Status      string `json:"status"`
			} `json:"items"`
		}
		resp.JSON(t, &body)
		var out []string
		for _, a := range body.Items {
			out = append(out, a.PatientName+" "+a.Rule+" "+a.Status)
		}
		sort.Strings(out)
		return out
	}
	if got := alerts(e.LoginStaff("cm2")); strings.Join(got, "; ") != "刘桂兰 bp_high open; 王志强 weight_gain open" {
		t.Fatalf("cm2's open alerts: %v", got)
	}
	if got := alerts(e.LoginStaff("cm1")); len(got) != 0 {
		t.Fatalf("cm1's open alerts: %v (patient1's pain eases without alarms)", got)
	}
	p1 := e.Demo.Patients["patient1"]
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1 + "/trends/pain?range=30d", Token: e.LoginWeChat("patient1").AccessToken})
	var trend struct {
		Series []struct {
			Points []struct {
				Mean float64 `json:"mean"`
			} `json:"points"`
		} `json:"series"`
	}
	resp.JSON(t, &trend)
	pts := trend.Series[0].Points
	if len(pts) < 13 || pts[0].Mean <= pts[len(pts)-1].Mean {
		t.Fatalf("patient1's pain trend should ease over two weeks: %+v", pts)
	}
	var byFamily int64
	e.App.DB.Table("observations").Where("patient_id = ? AND on_behalf_of IS NOT NULL", p1).Count(&byFamily)
	if byFamily == 0 {
		t.Fatal("patient1's daughter reported none of his readings")
	}
}
