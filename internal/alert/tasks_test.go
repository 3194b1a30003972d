package alert_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/patient"
)

// plan stands in for the care-plan feature (not merged yet): patient5 is
// expected to report blood pressure daily, patient6 weight weekly, and
// patient6's pathway (heart failure) turns the weight rule on.
type plan struct {
	expect map[string][]alert.Expectation
	over   map[string]map[string]float64
}

func (p plan) ExpectedReporting(_ context.Context, id string) ([]alert.Expectation, error) {
	return p.expect[id], nil
}

func (p plan) ThresholdOverrides(_ context.Context, id string) (map[string]float64, error) {
	return p.over[id], nil
}

// directory answers alert.Patients from the real patient service.
type directory struct{ patients *patient.Service }

func (d directory) CareTeam(ctx context.Context, id string) (alert.CareTeam, error) {
	p, err := d.patients.Store().ByID(ctx, id)
	if err != nil || p.AssignedCMID == nil {
		return alert.CareTeam{}, err
	}
	return alert.CareTeam{CaseManagerID: *p.AssignedCMID, CaseManagerName: "个案管理师"}, nil
}

func (d directory) Name(ctx context.Context, id string) (string, error) {
	pr, err := d.patients.Profile(ctx, id)
	return pr.Name, err
}

func (d directory) ActiveIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return d.patients.Store().ActiveIDs(ctx, after, limit)
}

func TestNoReportScanIsIdempotentAndFollowsThePlan(t *testing.T) {
	e := apitest.New(t)
	shanghai := mustZone(t)
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, shanghai)
	e.Clock.Advance(start.Sub(e.Clock.Now()))
	p5, p6 := e.Demo.Patients["patient5"], e.Demo.Patients["patient6"]
	pl := plan{
		expect: map[string][]alert.Expectation{
			p5: {{Type: observation.TypeBloodPressure, EveryDays: 1, Since: start}},
			p6: {{Type: observation.TypeWeight, EveryDays: 7, Since: start}},
		},
		// Pathways may use the alias glucose_low (for glucose_low_critical); unknown keys are ignored.
		over: map[string]map[string]float64{p6: {alert.KeyWeightGainKg3d: alert.HeartFailureWeightGainKg, "glucose_low": 4.4, "mystery_key": 1}},
	}
	svc := alert.NewService(alert.NewStore(e.App.DB), alert.Deps{
		Readings: observation.NewStore(e.App.DB), Patients: directory{e.App.Patients}, Plan: pl, Reporting: pl,
		Location: shanghai, Now: e.Clock.Now,
	})
	ctx := context.Background()

	l, err := svc.Thresholds(ctx, p6)
	if err != nil || l.Pathway[alert.KeyWeightGainKg3d] != 2 || l.Effective.WeightGainKg3d != 2 ||
		l.Effective.GlucoseLowCritical != 4.4 || len(l.Pathway) != 2 {
		t.Fatalf("pathway layer: %+v, %v", l, err)
	}

	tok := e.LoginWeChat("patient5").AccessToken
	reportAs(t, e, tok, p5, obj{"type": "blood_pressure", "systolic": 128, "diastolic": 80, "measured_at": start.Add(-time.Hour).Format(time.RFC3339)})

	scan := func(at time.Time) int {
		t.Helper()
		e.Clock.Advance(at.Sub(e.Clock.Now()))
		n, err := svc.ScanNoReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Reported on the 1st: at 23:59 on the 4th, three whole days have not yet passed.
	if n := scan(time.Date(2026, 3, 4, 23, 59, 0, 0, shanghai)); n != 0 {
		t.Fatalf("scan on the 4th found %d", n)
	}
	if n := scan(time.Date(2026, 3, 5, 0, 5, 0, 0, shanghai)); n != 1 {
		t.Fatalf("scan just after midnight on the 5th found %d, want patient5's blood pressure", n)
	}
	// The hourly scan runs again: the finding folds into the same alert.
	scan(time.Date(2026, 3, 5, 1, 5, 0, 0, shanghai))
	cm1 := e.LoginStaff("cm1")
	var list alertList
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts", Cookie: cm1.Cookie}, &list)
	if len(list.Items) != 1 || list.Items[0].Rule != "no_report" || list.Items[0].Kind != "no_report:blood_pressure" ||
		list.Items[0].Occurrences != 2 || list.Items[0].PatientID != p5 || list.Items[0].Severity != "medium" {
		t.Fatalf("cm1's alerts after two scans: %+v", list.Items)
	}
	if n := len(raisedEvents(t, e, p5)); n != 1 {
		t.Fatalf("%d alert.raised events, want 1", n)
	}
	// Weekly weight for patient6 since the 1st: due on the 8th, three days past due on the 11th.
	if n := scan(time.Date(2026, 3, 10, 12, 0, 0, 0, shanghai)); n != 1 {
		t.Fatalf("on the 10th: %d findings, want only patient5's", n)
	}
	if n := scan(time.Date(2026, 3, 11, 0, 30, 0, 0, shanghai)); n != 2 {
		t.Fatalf("on the 11th: %d findings, want patient5's and patient6's", n)
	}
	cm2 := e.LoginStaff("cm2")
	getJSON(t, e, apitest.Request{Path: "/api/v1/alerts", Cookie: cm2.Cookie}, &list)
	var kinds []string
	for _, a := range list.Items {
		if a.PatientID == p6 {
			kinds = append(kinds, a.Kind)
		}
	}
	if strings.Join(kinds, ",") != "no_report:weight" {
		t.Fatalf("cm2's alerts for patient6: %v", kinds)
	}
	// The handler the worker runs is the same scan.
	if err := svc.HandleScanNoReport(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/alerts?status=bogus", Cookie: cm2.Cookie}); resp.Status != http.StatusBadRequest {
		t.Fatalf("bad status filter: %d", resp.Status)
	}
}
