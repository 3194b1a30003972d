package admin

import (
	"context"
	"time"

	"github.com/carepath/carepath/internal/auth"
)

// The desk shows features that live on other branches (alerts, vitals,
// appointments) through these small interfaces; app wires the real feature
// in, and until then the no-op defaults below leave their sections empty.

// AlertRow is one alert as the desk lists it.
type AlertRow struct {
	ID          string
	PatientID   string
	PatientName string // filled by the desk from the caseload when empty
	Kind        string
	Severity    string // critical, high, medium, low
	Status      string // open, acknowledged, resolved
	Summary     string
	Occurrences int
	RaisedAt    time.Time
}

// Alerts is the alert feature as the desk uses it (internal/alert.Service
// behind an adapter). Acknowledge and Resolve must refuse, as not found, an
// alert that does not belong to patientID: the route's access check is on
// the patient in the URL.
type Alerts interface {
	Open(ctx context.Context, a auth.Actor) ([]AlertRow, error)
	ForPatient(ctx context.Context, a auth.Actor, patientID string) ([]AlertRow, error)
	Acknowledge(ctx context.Context, a auth.Actor, patientID, alertID string) error
	Resolve(ctx context.Context, a auth.Actor, patientID, alertID, action, note string) error
	// Enabled says whether a real alert feature is wired (the page hides the
	// section's actions and says so otherwise).
	Enabled() bool
}

// NoAlerts is the default until the alert feature is wired: nothing open.
type NoAlerts struct{}

func (NoAlerts) Open(context.Context, auth.Actor) ([]AlertRow, error) { return nil, nil }
func (NoAlerts) ForPatient(context.Context, auth.Actor, string) ([]AlertRow, error) {
	return nil, nil
}
func (NoAlerts) Acknowledge(context.Context, auth.Actor, string, string) error {
	return errNoAlertFeature
}
func (NoAlerts) Resolve(context.Context, auth.Actor, string, string, string, string) error {
	return errNoAlertFeature
}
func (NoAlerts) Enabled() bool { return false }

// Point is one reading of a series.
type Point struct {
	At    time.Time
	Value float64
	Alert bool // the reading raised an alert (drawn as a marker)
}

// Series is one vital's readings over a window, with its target band.
type Series struct {
	Vital  string // e.g. bp_systolic
	Label  string // zh-CN, e.g. 收缩压
	Unit   string
	Low    *float64 // target band, when the plan sets one
	High   *float64
	Points []Point // oldest first
}

// Vitals gives a patient's readings as series (internal/observation behind
// an adapter once it is merged).
type Vitals interface {
	Series(ctx context.Context, patientID string, since time.Time) ([]Series, error)
}

// NoVitals is the default until the observation feature is wired.
type NoVitals struct{}

func (NoVitals) Series(context.Context, string, time.Time) ([]Series, error) { return nil, nil }

// Appointment is one appointment on a CM's day.
type Appointment struct {
	PatientID   string
	PatientName string
	Title       string
	Place       string
	At          time.Time
}

// Appointments lists the appointments of the actor's patients on a day
// (internal/appointment behind an adapter once it is merged).
type Appointments interface {
	Day(ctx context.Context, a auth.Actor, from, to time.Time) ([]Appointment, error)
}

// NoAppointments is the default until the appointment feature is wired.
type NoAppointments struct{}

func (NoAppointments) Day(context.Context, auth.Actor, time.Time, time.Time) ([]Appointment, error) {
	return nil, nil
}

// Choice is a form option: the value sent and the label shown.
type Choice struct{ Value, Label string }

// ResolveActions are the actions a CM records when closing an alert; they
// mirror internal/alert.Actions (the alert service refuses any other).
var ResolveActions = []Choice{
	{"phone_follow_up", "电话随访"},
	{"advised_clinic_visit", "建议门诊就诊"},
	{"advised_emergency", "建议急诊或拨打 120"},
	{"medication_adjusted", "联系医生调整用药"},
	{"home_visit", "上门访视"},
	{"education", "健康教育"},
	{"no_action_needed", "评估后无需处理"},
	{"other", "其他"},
}
