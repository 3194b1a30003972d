package observation_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/observation"
)

type trendBody struct {
	Type     string `json:"type"`
	Range    string `json:"range"`
	TimeZone string `json:"time_zone"`
	From     string `json:"from"`
	To       string `json:"to"`
	Series   []struct {
		Name   string `json:"name"`
		Unit   string `json:"unit"`
		Target *struct {
			Low  *float64 `json:"low"`
			High *float64 `json:"high"`
		} `json:"target"`
		Points []struct {
			Day   string  `json:"day"`
			Min   float64 `json:"min"`
			Max   float64 `json:"max"`
			Mean  float64 `json:"mean"`
			Count int     `json:"count"`
		} `json:"points"`
	} `json:"series"`
	Latest *struct {
		MeasuredAt time.Time `json:"measured_at"`
	} `json:"latest"`
}

// points renders a series as "day min/max/mean×count …" for comparison.
func (b trendBody) points(name string) string {
	for _, s := range b.Series {
		if s.Name == name {
			var out []string
			for _, p := range s.Points {
				out = append(out, fmt.Sprintf("%s %g/%g/%g×%d", p.Day, p.Min, p.Max, p.Mean, p.Count))
			}
			return strings.Join(out, " ")
		}
	}
	return "no series " + name
}

func (b trendBody) target(name string) string {
	for _, s := range b.Series {
		if s.Name == name && s.Target != nil {
			f := func(p *float64) string {
				if p == nil {
					return "-"
				}
				return fmt.Sprint(*p)
			}
			return f(s.Target.Low) + ".." + f(s.Target.High)
		}
	}
	return "none"
}

func getTrend(t *testing.T, e *apitest.Env, auth apitest.Request, patientID, typ, rng string) trendBody {
	t.Helper()
	auth.Method, auth.Path = http.MethodGet, "/api/v1/patients/"+patientID+"/trends/"+typ+"?range="+rng
	resp := e.Do(auth)
	if resp.Status != http.StatusOK {
		t.Fatalf("trend %s %s: %d %s", typ, rng, resp.Status, resp.Body)
	}
	var b trendBody
	resp.JSON(t, &b)
	return b
}

// setClock moves the env's clock to t (before anyone logs in).
func setClock(e *apitest.Env, t time.Time) { e.Clock.Advance(t.Sub(e.Clock.Now())) }

func TestTrendAggregatesByShanghaiDay(t *testing.T) {
	e := apitest.New(t)
	shanghai := mustZone("Asia/Shanghai")
	setClock(e, time.Date(2026, 3, 15, 10, 0, 0, 0, shanghai))
	p2 := e.Demo.Patients["patient2"]
	tok := e.LoginWeChat("patient2").AccessToken
	local := func(s string) string {
		t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
		if err != nil {
			panic(err)
		}
		return t.Format(time.RFC3339)
	}
	for _, r := range []obj{
		{"type": "blood_pressure", "systolic": 150, "diastolic": 95, "measured_at": local("2026-03-08 09:00")}, // outside 7d
		{"type": "blood_pressure", "systolic": 130, "diastolic": 85, "measured_at": local("2026-03-14 23:50")},
		// 00:10 on the 15th in Shanghai is still the 14th in UTC: it belongs to the 15th.
		{"type": "blood_pressure", "systolic": 140, "diastolic": 88, "measured_at": local("2026-03-15 00:10")},
		{"type": "blood_pressure", "systolic": 120, "diastolic": 80, "pulse": 70, "measured_at": local("2026-03-15 08:00")},
		{"type": "glucose", "value": 6.1, "context": "fasting", "measured_at": local("2026-03-15 07:00")},
		{"type": "glucose", "value": 162, "unit": "mg/dL", "context": "after_meal", "measured_at": local("2026-03-15 09:00")},
	} {
		mustReport(t, e, tok, p2, r)
	}
	// A reading from 200 days ago, stored directly (reports older than 30 days are refused).
	old := time.Date(2025, 8, 27, 8, 0, 0, 0, shanghai)
	v := 118.0
	v2 := 76.0
	if err := e.App.DB.Create(&observation.Reading{ID: "old-reading", PatientID: p2, Type: "blood_pressure", Code: "85354-9",
		MeasuredAt: old.UTC(), LocalDay: "2025-08-27", Value: &v, Value2: &v2, Unit: "mm[Hg]", Source: "manual",
		ReportedBy: "x", ReceivedAt: old.UTC()}).Error; err != nil {
		t.Fatal(err)
	}

	week := getTrend(t, e, apitest.Request{Token: tok}, p2, "blood_pressure", "7d")
	if week.From != "2026-03-09" || week.To != "2026-03-15" || week.TimeZone != "Asia/Shanghai" {
		t.Fatalf("7d window %s..%s %s", week.From, week.To, week.TimeZone)
	}
	checks := []struct{ got, want string }{
		{week.points("systolic"), "2026-03-14 130/130/130×1 2026-03-15 120/140/130×2"},
		{week.points("diastolic"), "2026-03-14 85/85/85×1 2026-03-15 80/88/84×2"},
		{week.points("pulse"), "2026-03-15 70/70/70×1"},
		{week.target("systolic"), "90..140"},
		{week.target("diastolic"), "-..90"},
		{week.target("pulse"), "40..120"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if week.Latest == nil || !week.Latest.MeasuredAt.Equal(time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("latest %+v, want 08:00 Shanghai on the 15th", week.Latest)
	}
	month := getTrend(t, e, apitest.Request{Token: tok}, p2, "blood_pressure", "30d")
	if !strings.HasPrefix(month.points("systolic"), "2026-03-08 150/150/150×1 ") || month.From != "2026-02-14" {
		t.Fatalf("30d: %s from %s", month.points("systolic"), month.From)
	}
	if q := getTrend(t, e, apitest.Request{Token: tok}, p2, "blood_pressure", "90d"); strings.Contains(q.points("systolic"), "2025-08-27") {
		t.Fatal("90d includes a reading from 200 days ago")
	}
	year := getTrend(t, e, apitest.Request{Token: tok}, p2, "blood_pressure", "1y")
	if !strings.HasPrefix(year.points("systolic"), "2025-08-27 118/118/118×1") || year.From != "2025-03-16" {
		t.Fatalf("1y: %s from %s", year.points("systolic"), year.From)
	}

	glucose := getTrend(t, e, apitest.Request{Token: tok}, p2, "glucose", "")
	if glucose.Range != "30d" || glucose.points("glucose_fasting") != "2026-03-15 6.1/6.1/6.1×1" ||
		glucose.points("glucose_after_meal") != "2026-03-15 9/9/9×1" || glucose.points("glucose_bedtime") != "" {
		t.Fatalf("glucose series by context: %+v", glucose.Series)
	}
	if glucose.target("glucose_fasting") != "3.9..13.9" || glucose.target("glucose_after_meal") != "3.9..16.7" {
		t.Fatalf("glucose targets %s / %s", glucose.target("glucose_fasting"), glucose.target("glucose_after_meal"))
	}

	// The CM's threshold for this patient is the chart's target too.
	cm1 := e.LoginStaff("cm1")
	resp := e.Do(apitest.Request{Method: http.MethodPut, Path: "/api/v1/patients/" + p2 + "/alert-thresholds", Cookie: cm1.Cookie, CSRF: cm1.CSRF,
		Body: obj{"overrides": obj{"bp_systolic_high": 150}}})
	if resp.Status != http.StatusOK {
		t.Fatalf("set thresholds: %d %s", resp.Status, resp.Body)
	}
	staffView := getTrend(t, e, apitest.Request{Cookie: cm1.Cookie}, p2, "blood_pressure", "7d")
	if staffView.target("systolic") != "90..150" {
		t.Fatalf("target after override: %s", staffView.target("systolic"))
	}

	for _, bad := range []struct{ path, code string }{
		{"blood_pressure?range=2w", "invalid_range"},
		{"symptoms", "type_not_trendable"},
		{"cholesterol", "unknown_type"},
	} {
		resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p2 + "/trends/" + bad.path, Token: tok})
		if resp.Status != http.StatusBadRequest || resp.ErrorCode() != bad.code {
			t.Errorf("%s: %d %s, want 400 %s", bad.path, resp.Status, resp.Body, bad.code)
		}
	}
	empty := getTrend(t, e, apitest.Request{Token: tok}, p2, "weight", "7d")
	if empty.Latest != nil || len(empty.Series) != 1 || empty.points("weight") != "" {
		t.Fatalf("no weight yet: %+v", empty)
	}
}
