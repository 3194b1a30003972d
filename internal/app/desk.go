package app

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/admin"
	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/observation"
)

// The desk (internal/admin) sees alerts, vitals and the day's appointments
// through small interfaces; these adapters put the real features behind them.

// deskAlerts is the alert feature as the desk uses it.
type deskAlerts struct{ svc *alert.Service }

func alertRow(a alert.Alert) admin.AlertRow {
	return admin.AlertRow{ID: a.ID, PatientID: a.PatientID, Kind: a.Kind, Severity: a.Severity, Status: a.Status,
		Summary: a.Summary, Occurrences: a.Occurrences, RaisedAt: a.FirstRaisedAt}
}

// Open lists the active (open or acknowledged) alerts of the actor's patients.
func (d deskAlerts) Open(ctx context.Context, a auth.Actor) ([]admin.AlertRow, error) {
	list, _, err := d.svc.List(ctx, alert.ListQuery{Scope: access.StaffPatients(a, "patients")}, alert.Filter{Status: "active", Limit: 200})
	if err != nil {
		return nil, err
	}
	out := make([]admin.AlertRow, len(list))
	for i, al := range list {
		out[i] = alertRow(al)
	}
	return out, nil
}

// ForPatient lists the patient's active alerts and the most recent resolved ones.
func (d deskAlerts) ForPatient(ctx context.Context, _ auth.Actor, patientID string) ([]admin.AlertRow, error) {
	list, _, err := d.svc.List(ctx, alert.ListQuery{PatientID: patientID}, alert.Filter{Status: "all", Limit: 30})
	if err != nil {
		return nil, err
	}
	out := make([]admin.AlertRow, len(list))
	for i, al := range list {
		out[i] = alertRow(al)
	}
	return out, nil
}

// belongs refuses, as not found, an alert of another patient than the one
// in the URL (whose access the route has checked).
func (d deskAlerts) belongs(ctx context.Context, patientID, alertID string) error {
	al, _, err := d.svc.Get(ctx, alertID)
	if err != nil {
		return err
	}
	if al.PatientID != patientID {
		return alert.ErrNotFound
	}
	return nil
}

func (d deskAlerts) Acknowledge(ctx context.Context, a auth.Actor, patientID, alertID string) error {
	if err := d.belongs(ctx, patientID, alertID); err != nil {
		return err
	}
	_, err := d.svc.Acknowledge(ctx, a, alertID)
	return err
}

func (d deskAlerts) Resolve(ctx context.Context, a auth.Actor, patientID, alertID, action, note string) error {
	if err := d.belongs(ctx, patientID, alertID); err != nil {
		return err
	}
	_, err := d.svc.Resolve(ctx, a, alertID, alert.Resolution{ActionTaken: action, Note: note})
	return err
}

func (deskAlerts) Enabled() bool { return true }

// deskVitals draws each numeric vital's readings since a time, with the
// patient's target band (the alert thresholds in force) and a marker on
// every reading that raised an alert.
type deskVitals struct {
	readings *observation.Store
	alerts   *alert.Service
	marks    *alert.Store
}

// maxChartReadings bounds one chart window's read (90 days of several
// readings a day across all types).
const maxChartReadings = 3000

func (d deskVitals) Series(ctx context.Context, patientID string, since time.Time) ([]admin.Series, error) {
	rows, err := d.readings.List(ctx, observation.ListQuery{PatientID: patientID, Limit: maxChartReadings})
	if err != nil {
		return nil, err
	}
	marked, err := d.alertReadings(ctx, patientID)
	if err != nil {
		return nil, err
	}
	targets, err := d.alerts.TargetRanges(ctx, patientID)
	if err != nil {
		return nil, err
	}
	byName := map[string]*admin.Series{}
	var order []string
	for i := len(rows) - 1; i >= 0; i-- { // oldest first
		r := rows[i]
		if r.MeasuredAt.Before(since) {
			continue
		}
		spec, ok := observation.SpecOf(r.Type)
		if !ok || !spec.Numeric() {
			continue
		}
		for ci, comp := range spec.Components {
			v := r.Component(ci)
			if v == nil {
				continue
			}
			name, label := comp.Name, comp.Label
			if spec.SplitByContext && r.Context != "" {
				name += "_" + r.Context
				label += "（" + contextName(r.Context) + "）"
			}
			s, ok := byName[name]
			if !ok {
				unit := comp.Unit
				if len(spec.UnitLabels) > 0 {
					unit = spec.UnitLabels[0]
				} else if strings.HasPrefix(unit, "{") { // a score has no unit
					unit = "分"
				}
				s = &admin.Series{Vital: name, Label: label, Unit: unit}
				t, ok := targets[name]
				if !ok {
					t = targets[comp.Name]
				}
				s.Low, s.High = t.Low, t.High
				byName[name] = s
				order = append(order, name)
			}
			s.Points = append(s.Points, admin.Point{At: r.MeasuredAt, Value: *v, Alert: marked[r.ID]})
		}
	}
	out := make([]admin.Series, 0, len(order))
	for _, name := range order {
		out = append(out, *byName[name])
	}
	// A stable order: as the types are listed, then by name.
	slices.SortStableFunc(out, func(x, y admin.Series) int { return vitalRank(x.Vital) - vitalRank(y.Vital) })
	return out, nil
}

// alertReadings are the ids of the patient's readings that raised an alert.
func (d deskVitals) alertReadings(ctx context.Context, patientID string) (map[string]bool, error) {
	list, _, err := d.alerts.List(ctx, alert.ListQuery{PatientID: patientID}, alert.Filter{Status: "all", Limit: 200})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, al := range list {
		ids, err := d.marks.ReadingIDs(ctx, al.ID)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out[id] = true
		}
	}
	return out, nil
}

var vitalOrder = []string{"systolic", "diastolic", "pulse", "heart_rate", "glucose", "score", "weight", "temperature", "spo2"}

func vitalRank(name string) int {
	for i, v := range vitalOrder {
		if len(name) >= len(v) && name[:len(v)] == v {
			return i
		}
	}
	return len(vitalOrder)
}

func contextName(c string) string {
	switch c {
	case observation.GlucoseFasting:
		return "空腹"
	case observation.GlucoseAfterMeal:
		return "餐后"
	case observation.GlucoseRandom:
		return "随机"
	case observation.GlucoseBedtime:
		return "睡前"
	case observation.PainAtRest:
		return "静息"
	case observation.PainOnMovement:
		return "活动"
	}
	return c
}

// deskDay lists the day's appointments of the actor's patients.
type deskDay struct{ svc *appointment.Service }

func (d deskDay) Day(ctx context.Context, a auth.Actor, from, to time.Time) ([]admin.Appointment, error) {
	list, err := d.svc.Day(ctx, a, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]admin.Appointment, len(list))
	for i, ap := range list {
		title := appointment.Kinds[ap.Kind]
		if ap.Title != "" {
			title += " · " + ap.Title
		}
		place := ap.Department
		if ap.Location != "" {
			place += " " + ap.Location
		}
		out[i] = admin.Appointment{PatientID: ap.PatientID, Title: title, Place: place, At: ap.StartsAt}
	}
	return out, nil
}
