package app

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/idempotency"
)

// vitals are the reading and alert services over one database handle (the
// app's, or the seed's transaction).
type vitals struct {
	Observations *observation.Service
	Alerts       *alert.Service
}

// buildVitals wires observation and alert together, with the care plan
// supplying the pathway's threshold overrides and the reports it expects.
// (The symptom checklist is still the default list for every pathway.)
// Notes are sealed at rest; keys remembers idempotent reports (sealed: a replayed response repeats the reading).
func buildVitals(db *gorm.DB, sealer observation.Sealer, keys *idempotency.Store, patients *patient.Service, plans *careplan.Service, loc *time.Location, now func() time.Time) vitals {
	readings := observation.NewStore(db).Sealed(sealer)
	alerts := alert.NewService(alert.NewStore(db).Sealed(sealer), alert.Deps{
		Readings: readings, Patients: patientDirectory{patients: patients},
		Plan: plans, Reporting: planReporting{plans: plans}, Pages: planReporting{plans: plans}, Location: loc, Now: now,
	})
	obs := observation.NewService(readings, keys, observation.Deps{
		Alerter: alerts, Targets: alerts, Checklist: observation.DefaultChecklist{}, Location: loc, Now: now,
	})
	return vitals{Observations: obs, Alerts: alerts}
}

// planReporting adapts the care plan's expected vitals to the no-report rule.
type planReporting struct{ plans *careplan.Service }

func (r planReporting) ExpectedReporting(ctx context.Context, patientID string) ([]alert.Expectation, error) {
	exps, err := r.plans.ExpectedReporting(ctx, patientID)
	if err != nil || len(exps) == 0 {
		return nil, err
	}
	since, err := r.plans.ReportingSince(ctx, patientID)
	if err != nil {
		return nil, err
	}
	out := make([]alert.Expectation, len(exps))
	for i, e := range exps {
		out[i] = alert.Expectation{Type: e.Type, EveryDays: e.EveryDays, Since: since}
	}
	return out, nil
}

// PlansOf answers the same for a page of patients with one query.
func (r planReporting) PlansOf(ctx context.Context, patientIDs []string) (map[string]alert.PatientPlan, error) {
	reps, err := r.plans.ReportingOf(ctx, patientIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]alert.PatientPlan, len(reps))
	for id, rep := range reps {
		if len(rep.Vitals) == 0 {
			continue
		}
		exps := make([]alert.Expectation, len(rep.Vitals))
		for i, e := range rep.Vitals {
			exps[i] = alert.Expectation{Type: e.Type, EveryDays: e.EveryDays, Since: rep.Since}
		}
		out[id] = alert.PatientPlan{Thresholds: rep.Thresholds, Expectations: exps}
	}
	return out, nil
}

// patientDirectory adapts the patient records to what alerts need.
type patientDirectory struct {
	patients *patient.Service
}

func (d patientDirectory) CareTeam(ctx context.Context, patientID string) (alert.CareTeam, error) {
	t, err := d.patients.Store().CareTeamOf(ctx, patientID)
	if err != nil {
		return alert.CareTeam{}, err
	}
	var team alert.CareTeam
	if t.CoveringCMID != nil {
		team.CoveringCMID = *t.CoveringCMID
	}
	if t.AssignedCMID != nil {
		team.CaseManagerID = *t.AssignedCMID
	}
	if t.AssignedCMName != nil {
		team.CaseManagerName = *t.AssignedCMName
	}
	return team, nil
}

func (d patientDirectory) Name(ctx context.Context, patientID string) (string, error) {
	pr, err := d.patients.Profile(ctx, patientID)
	return pr.Name, err
}

func (d patientDirectory) ActiveIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return d.patients.Store().ActiveIDs(ctx, after, limit)
}
