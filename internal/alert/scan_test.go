package alert_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/patient"
)

// TestMissedReportingPageScanMatchesThePerPatientRule: the reporting
// reminder's scan, which asks a page of patients at once, picks exactly the
// patients the one-patient-at-a-time rule picks, on the demo patients plus a
// patient without a plan, CM overrides (alert off, a longer allowance) and a
// patient who reported every expected type late yesterday evening in
// Shanghai.
func TestMissedReportingPageScanMatchesThePerPatientRule(t *testing.T) {
	e := apitest.New(t)
	shanghai := mustZone(t)
	ctx := context.Background()
	svc := e.App.Alerts
	id := e.Demo.Patients
	if err := e.App.DB.Model(&patient.Patient{}).Where("id = ?", id["patient7"]).Update("status", patient.StatusActive).Error; err != nil {
		t.Fatal(err)
	}
	overrides := alert.NewStore(e.App.DB)
	if err := overrides.ReplaceOverrides(ctx, id["patient3"], alert.Overrides{alert.KeyNoReportDays: 0}, "cm2", e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := overrides.ReplaceOverrides(ctx, id["patient4"], alert.Overrides{alert.KeyNoReportDays: 7, alert.KeyPainHigh: 6}, "cm2", e.Clock.Now()); err != nil {
		t.Fatal(err)
	}

	// patient1's stage began five days ago; they report every expected type
	// at 23:30 yesterday, Shanghai time.
	now := e.Clock.Now().In(shanghai)
	if err := e.App.DB.Table("care_plans").Where("patient_id = ?", id["patient1"]).
		Update("stage_entered_at", now.Add(-5*24*time.Hour).UTC()).Error; err != nil {
		t.Fatal(err)
	}
	lateYesterday := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, shanghai).Add(-30 * time.Minute)
	bodies := map[string]obj{
		"blood_pressure": {"systolic": 122, "diastolic": 78}, "weight": {"value": 61.5}, "glucose": {"value": 6.1, "context": "fasting"},
		"heart_rate": {"value": 72}, "temperature": {"value": 36.6}, "spo2": {"value": 98}, "pain": {"score": 2, "context": "rest"},
		"symptoms": {"symptoms": []string{"fatigue"}}, "note": {"note": "今天很好"},
	}
	exps, err := e.App.Careplan.ExpectedReporting(ctx, id["patient1"])
	if err != nil || len(exps) == 0 {
		t.Fatalf("patient1's plan expects %v, %v: the test needs a plan that expects readings", exps, err)
	}
	// Only this evening's readings count (the demo's own are dropped).
	if err := e.App.DB.Exec("DELETE FROM alert_readings WHERE reading_id IN (SELECT id FROM observations WHERE patient_id = ?)", id["patient1"]).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.App.DB.Where("patient_id = ?", id["patient1"]).Delete(&observation.Reading{}).Error; err != nil {
		t.Fatal(err)
	}
	tok := e.LoginWeChat("patient1").AccessToken
	for _, exp := range exps {
		body := obj{"type": exp.Type, "measured_at": lateYesterday.Format(time.RFC3339)}
		for k, v := range bodies[exp.Type] {
			body[k] = v
		}
		reportAs(t, e, tok, id["patient1"], body)
	}

	active, err := e.App.Patients.Store().ActiveIDs(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for name, pid := range id {
		byName[pid] = name
	}
	names := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, pid := range ids {
			out[i] = byName[pid]
		}
		slices.Sort(out)
		return out
	}
	check := func(label string, days int) []string {
		t.Helper()
		got, err := svc.MissedReporting(ctx, days)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, pid := range active {
			missed, err := svc.MissedReportingOne(ctx, pid, days, e.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if missed {
				want = append(want, pid)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s, %d days: the page scan picks %v, the per-patient rule %v", label, days, names(got), names(want))
		}
		return names(got)
	}

	// Today: patient1 reported yesterday, so a one-day allowance is not yet spent.
	if got := check("today", 1); slices.Contains(got, "patient1") {
		t.Fatalf("today, 1 day: %v includes patient1, who reported yesterday", got)
	}
	check("today", 3)
	// With a one-day allowance patient1 is due on the first local midnight
	// past yesterday + their most frequent rhythm + 1, not a minute before
	// (counted in Shanghai days, not UTC days).
	every := exps[0].EveryDays
	for _, exp := range exps {
		every = min(every, exp.EveryDays)
	}
	due := time.Date(lateYesterday.Year(), lateYesterday.Month(), lateYesterday.Day()+every+1, 0, 0, 0, 0, shanghai)
	e.Clock.Advance(due.Add(-time.Minute).Sub(e.Clock.Now()))
	if got := check("a minute before due", 1); slices.Contains(got, "patient1") {
		t.Fatalf("a minute before due: %v includes patient1", got)
	}
	e.Clock.Advance(2 * time.Minute)
	if got := check("a minute after due", 1); !slices.Contains(got, "patient1") {
		t.Fatalf("a minute after due: %v leaves out patient1", got)
	}
	e.Clock.Advance(due.Add(10 * 24 * time.Hour).Sub(e.Clock.Now()))
	got := check("ten days later", 3)
	if !slices.Contains(got, "patient1") || !slices.Contains(got, "patient4") {
		t.Fatalf("ten days later, 3 days: %v, want patient1 and patient4 (whose 7-day allowance only turns the alert's threshold)", got)
	}
	if slices.Contains(got, "patient3") || slices.Contains(got, "patient7") {
		t.Fatalf("ten days later: %v includes patient3 (alert turned off) or patient7 (no plan)", got)
	}
}
