package demo

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/observation"
)

// seedVitals reports the demo patients' home readings of the last weeks,
// relative to the seed time, through the observation service (so alerts
// come from the rules):
//   - patient1 (knee replacement, cm1): pain at rest and on movement twice
//     a day for 14 days, easing from 4/6 to 1/2; his daughter sends some.
//   - patient3 (heart failure, cm2): the CM has turned the 2 kg / 3 days
//     weight rule on; steady weights for 11 days, then 2.4 kg in three days,
//     which raised an open alert, with oedema and breathlessness reported.
//   - patient4 (hypertension, cm2): morning and evening blood pressure for
//     28 days, drifting up; the last three readings are ≥140/90, which
//     raised an open "high" alert.
func seedVitals(ctx context.Context, d Deps, sum Summary) error {
	if d.Observations == nil {
		return nil
	}
	loc := d.Observations.Location()
	now := d.Now()
	// The last day of readings is today when the seed runs after 21:00 in
	// the hospital's zone, else yesterday: every reading is then in the
	// past, whatever the hour, and the alerts come out the same.
	last := now.In(loc).Add(-21 * time.Hour)
	y, m, dd := last.Date()
	// at is hh:mm local time, daysAgo days before the last day.
	at := func(daysAgo, hh, mm int) (string, bool) {
		t := time.Date(y, m, dd-daysAgo, hh, mm, 0, 0, loc)
		return t.Format(time.RFC3339), !t.After(now)
	}
	as := func(key string, family bool) observation.Reporter {
		pid := sum.Patients[key]
		if family {
			return observation.Reporter{Actor: auth.Actor{Kind: auth.KindUser, ID: sum.Users["fake-openid-family1"], Role: auth.RoleUser},
				Grant: access.Grant{PatientID: pid, Relation: access.RelationFamily}}
		}
		return observation.Reporter{Actor: auth.Actor{Kind: auth.KindUser, ID: sum.Users["fake-openid-"+key], Role: auth.RoleUser},
			Grant: access.Grant{PatientID: pid, Relation: access.RelationSelf}}
	}
	report := func(who observation.Reporter, in observation.Input) error {
		if _, err := d.Observations.Report(ctx, who, in, ""); err != nil {
			return fmt.Errorf("%s %s at %s: %w", who.Grant.PatientID, in.Type, in.MeasuredAt, err)
		}
		return nil
	}
	num := func(v float64) *float64 { return &v }

	// patient1: pain after knee replacement.
	for day := 13; day >= 0; day-- {
		progress := float64(13 - day) // 0 … 13
		rest, move := 4-int(progress*3/13), 6-int(progress*4/13)
		for _, r := range []struct {
			hh, score int
			ctx       string
		}{{8, rest, observation.PainAtRest}, {16, move, observation.PainOnMovement}} {
			when, ok := at(day, r.hh, 0)
			if !ok {
				continue
			}
			in := observation.Input{Type: observation.TypePain, MeasuredAt: when, Score: num(float64(r.score)), Context: r.ctx, Location: "右膝"}
			if err := report(as("patient1", day%3 == 0), in); err != nil {
				return err
			}
		}
	}

	// patient3: heart failure, weight rule on.
	p3 := sum.Patients["patient3"]
	cm2 := auth.Actor{Kind: auth.KindStaff, ID: sum.Staff["cm2"], Role: auth.RoleCM}
	if _, err := d.Alerts.SetOverrides(ctx, cm2, p3, alert.Overrides{alert.KeyWeightGainKg3d: alert.HeartFailureWeightGainKg}); err != nil {
		return err
	}
	weights := []float64{68.2, 68.0, 68.3, 68.1, 68.4, 68.2, 68.0, 68.3, 68.1, 68.2, 68.1, 68.9, 69.7, 70.5}
	for i, w := range weights {
		when, ok := at(len(weights)-1-i, 7, 30)
		if !ok {
			continue
		}
		if err := report(as("patient3", false), observation.Input{Type: observation.TypeWeight, MeasuredAt: when, Value: num(w)}); err != nil {
			return err
		}
	}
	if when, ok := at(0, 7, 40); ok {
		in := observation.Input{Type: observation.TypeSymptoms, MeasuredAt: when, Symptoms: []string{"edema", "dyspnea"}, Note: "脚踝肿，爬楼梯气短"}
		if err := report(as("patient3", false), in); err != nil {
			return err
		}
	}

	// patient4: hypertension, drifting up.
	for day := 27; day >= 0; day-- {
		drift := float64(27-day) * 0.6 // 0 … 16
		for k, hh := range []int{7, 20} {
			when, ok := at(day, hh, 15)
			if !ok {
				continue
			}
			wobble := float64((day*7+k*3)%5) - 2
			in := observation.Input{Type: observation.TypeBloodPressure, MeasuredAt: when,
				Systolic: num(math.Round(128 + drift + wobble)), Diastolic: num(math.Round(80 + drift/2 + wobble/2)), Pulse: num(float64(70 + (day+k)%6))}
			if err := report(as("patient4", false), in); err != nil {
				return err
			}
		}
	}
	return nil
}
