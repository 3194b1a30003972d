package alert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

// PlanThresholds gives the threshold overrides of the patient's pathway,
// keyed as in ThresholdSpecs (or an alias, see CanonicalKey); unknown keys
// are ignored (the care-plan feature; NoPlan until it is wired).
type PlanThresholds interface {
	ThresholdOverrides(ctx context.Context, patientID string) (map[string]float64, error)
}

// ReportingPlan says which readings the patient's plan expects, how often
// (the care-plan feature; NoPlan until it is wired).
type ReportingPlan interface {
	ExpectedReporting(ctx context.Context, patientID string) ([]Expectation, error)
}

// PatientPlan is what a patient's plan says, as PlanThresholds and
// ReportingPlan would answer for them.
type PatientPlan struct {
	Thresholds   map[string]float64
	Expectations []Expectation
}

// PlanPages answers PlanThresholds and ReportingPlan for a page of patients
// at once (a few queries, not a few per patient); patients without a plan
// may be absent from the map.
type PlanPages interface {
	PlansOf(ctx context.Context, patientIDs []string) (map[string]PatientPlan, error)
}

// onePlanAtATime answers PlanPages from the per-patient interfaces, for
// plans that cannot answer a page at once.
type onePlanAtATime struct {
	plan      PlanThresholds
	reporting ReportingPlan
}

func (p onePlanAtATime) PlansOf(ctx context.Context, patientIDs []string) (map[string]PatientPlan, error) {
	out := make(map[string]PatientPlan, len(patientIDs))
	for _, id := range patientIDs {
		exps, err := p.reporting.ExpectedReporting(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(exps) == 0 {
			continue
		}
		over, err := p.plan.ThresholdOverrides(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("pathway thresholds: %w", err)
		}
		out[id] = PatientPlan{Thresholds: over, Expectations: exps}
	}
	return out, nil
}

// NoPlan is the plan of a patient without a care plan: no threshold
// overrides and no expected reports.
type NoPlan struct{}

// ThresholdOverrides returns none.
func (NoPlan) ThresholdOverrides(context.Context, string) (map[string]float64, error) {
	return nil, nil
}

// ExpectedReporting returns none.
func (NoPlan) ExpectedReporting(context.Context, string) ([]Expectation, error) { return nil, nil }

// CareTeam is who looks after a patient.
type CareTeam struct {
	CaseManagerID   string
	CaseManagerName string
	CoveringCMID    string // a CM covering for the assigned one, if any
}

// recipients are the staff a new alert is pushed to.
func (t CareTeam) recipients() []string {
	var ids []string
	for _, id := range []string{t.CaseManagerID, t.CoveringCMID} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// Patients is what the alert feature needs to know about patients (the
// patient feature, adapted in app).
type Patients interface {
	CareTeam(ctx context.Context, patientID string) (CareTeam, error)
	Name(ctx context.Context, patientID string) (string, error)
	// ActiveIDs pages through the patients under case management, by id.
	ActiveIDs(ctx context.Context, after string, limit int) ([]string, error)
}

// Service holds the alert lifecycle.
type Service struct {
	store     *Store
	readings  *observation.Store
	patients  Patients
	plan      PlanThresholds
	reporting ReportingPlan
	pages     PlanPages
	loc       *time.Location
	now       func() time.Time
}

// Deps are what the service needs from other features.
type Deps struct {
	Readings  *observation.Store
	Patients  Patients
	Plan      PlanThresholds
	Reporting ReportingPlan
	// Pages answers Plan and Reporting a page of patients at a time for the
	// scans; without it they ask Plan and Reporting one patient at a time.
	Pages    PlanPages
	Location *time.Location
	Now      func() time.Time
}

// NewService builds the service.
func NewService(store *Store, d Deps) *Service {
	if d.Plan == nil {
		d.Plan = NoPlan{}
	}
	if d.Reporting == nil {
		d.Reporting = NoPlan{}
	}
	if d.Pages == nil {
		d.Pages = onePlanAtATime{plan: d.Plan, reporting: d.Reporting}
	}
	return &Service{store: store, readings: d.Readings, patients: d.Patients, plan: d.Plan, reporting: d.Reporting,
		pages: d.Pages, loc: d.Location, now: d.Now}
}

// Layers are the thresholds of a patient, layer by layer.
type Layers struct {
	Defaults  Thresholds
	Pathway   Overrides
	Patient   Overrides
	Effective Thresholds
	UpdatedBy string
	UpdatedAt *time.Time
}

// Thresholds resolves a patient's thresholds: defaults, then the pathway's
// overrides, then the CM's.
func (s *Service) Thresholds(ctx context.Context, patientID string) (Layers, error) {
	pathway, err := s.plan.ThresholdOverrides(ctx, patientID)
	if err != nil {
		return Layers{}, fmt.Errorf("pathway thresholds: %w", err)
	}
	rows, err := s.store.Overrides(ctx, patientID)
	if err != nil {
		return Layers{}, err
	}
	return layers(pathway, rows), nil
}

// layers stacks the defaults, a pathway's overrides and a patient's.
func layers(pathway map[string]float64, rows []Override) Layers {
	l := Layers{Defaults: Defaults(), Pathway: Overrides{}, Patient: Overrides{}}
	for k, v := range pathway {
		if k = CanonicalKey(k); specOfOK(k) {
			l.Pathway[k] = v
		}
	}
	for _, r := range rows {
		l.Patient[r.ThresholdKey] = r.Value
		if l.UpdatedAt == nil || r.UpdatedAt.After(*l.UpdatedAt) {
			at := r.UpdatedAt
			l.UpdatedAt, l.UpdatedBy = &at, r.UpdatedBy
		}
	}
	l.Effective = l.Defaults.With(l.Pathway).With(l.Patient)
	return l
}

// SetOverrides replaces a patient's per-patient overrides (a CM's decision).
func (s *Service) SetOverrides(ctx context.Context, a auth.Actor, patientID string, o Overrides) (Layers, error) {
	if len(o) > len(ThresholdSpecs) {
		return Layers{}, errTooManyOverride
	}
	if err := o.Validate(); err != nil {
		return Layers{}, err
	}
	if err := s.store.ReplaceOverrides(ctx, patientID, o, a.ID, s.now().UTC()); err != nil {
		return Layers{}, err
	}
	return s.Thresholds(ctx, patientID)
}

// TargetRanges implements observation.Targets: the band in which a value
// raises no alert, per trend series.
func (s *Service) TargetRanges(ctx context.Context, patientID string) (map[string]observation.Range, error) {
	l, err := s.Thresholds(ctx, patientID)
	if err != nil {
		return nil, err
	}
	th := l.Effective
	p := func(v float64) *float64 { // a rule turned off bounds nothing
		if v <= 0 {
			return nil
		}
		return &v
	}
	rate := observation.Range{Low: p(th.HeartRateLow), High: p(th.HeartRateHigh)}
	return map[string]observation.Range{
		"systolic":        {Low: p(th.BPSystolicLow), High: p(th.BPSystolicHigh)},
		"diastolic":       {High: p(th.BPDiastolicHigh)},
		"pulse":           rate,
		"heart_rate":      rate,
		"glucose":         {Low: p(th.GlucoseLowCritical), High: p(th.GlucoseRandomHigh)},
		"glucose_fasting": {Low: p(th.GlucoseLowCritical), High: p(th.GlucoseFastingHigh)},
		"score":           {High: p(th.PainHigh)},
		"temperature":     {High: p(th.TemperatureHigh)},
		"spo2":            {Low: p(th.SpO2Low)},
	}, nil
}

// RulesFor implements observation.Alerter: it resolves the patient's
// thresholds and care team (outside any transaction).
func (s *Service) RulesFor(ctx context.Context, patientID string) (observation.ReadingRules, error) {
	l, err := s.Thresholds(ctx, patientID)
	if err != nil {
		return nil, err
	}
	team, err := s.patients.CareTeam(ctx, patientID)
	if err != nil {
		return nil, err
	}
	return patientRules{s: s, th: l.Effective, team: team}, nil
}

// patientRules are one patient's resolved rules.
type patientRules struct {
	s    *Service
	th   Thresholds
	team CareTeam
}

// Apply runs the rules on a new reading inside the reading's transaction
// (the caller holds the patient's lock), raises or folds alerts, and
// returns them with the guidance for the patient. It reads and writes
// through tx only.
func (p patientRules) Apply(ctx context.Context, tx *gorm.DB, r observation.Reading) (observation.AlertOutcome, error) {
	out := observation.AlertOutcome{Alerts: []observation.AlertNotice{}, Guidance: []observation.Guidance{}}
	history, err := p.s.readings.Around(ctx, tx, r.PatientID, r.Type, r.MeasuredAt, HistoryWindow)
	if err != nil {
		return out, err
	}
	for _, f := range EvaluateReading(p.th, r, history, p.s.loc) {
		a, folded, err := p.s.raise(ctx, tx, r.PatientID, f, p.team)
		if err != nil {
			return out, err
		}
		out.Alerts = append(out.Alerts, observation.AlertNotice{ID: a.ID, Rule: a.Rule, Severity: a.Severity, Summary: a.Summary, Folded: folded})
		if g := guidanceFor(f, p.th, p.team); g != nil {
			out.Guidance = append(out.Guidance, *g)
		}
	}
	out.Guidance = guidanceList(out.Guidance)
	return out, nil
}

// raise opens an alert for f, or folds f into the patient's open alert of
// the same kind: one more occurrence, the new readings linked, and the
// severity raised when f is worse (which reopens an acknowledged alert and
// is announced like a new one). The caller holds the patient's lock.
func (s *Service) raise(ctx context.Context, tx *gorm.DB, patientID string, f Finding, team CareTeam) (Alert, bool, error) {
	now := s.now().UTC()
	open, ok, err := s.store.OpenOf(ctx, tx, patientID, f.Kind)
	if err != nil {
		return Alert{}, false, err
	}
	if ok {
		a, folded, err := s.fold(ctx, tx, open, f, now, team)
		if err != nil || folded {
			return a, folded, err
		}
		// Resolved by the CM a moment ago: this is a new alert.
	}
	a := Alert{
		ID: database.NewID(), PatientID: patientID, Kind: f.Kind, Rule: f.Rule, Severity: f.Severity, VitalType: f.VitalType,
		Status: StatusOpen, Summary: truncate(f.Summary, 255), Occurrences: 1, FirstRaisedAt: now, LastTriggeredAt: now,
		CreatedAt: now, UpdatedAt: now,
	}
	kind := f.Kind
	a.OpenKey = &kind
	if team.CaseManagerID != "" {
		owner := team.CaseManagerID
		a.OwnerID = &owner
	}
	if err := s.store.Create(ctx, tx, &a, f.ReadingIDs); err != nil {
		return Alert{}, false, err
	}
	return a, false, s.announce(tx, a, false, team)
}

func (s *Service) fold(ctx context.Context, tx *gorm.DB, a Alert, f Finding, now time.Time, team CareTeam) (Alert, bool, error) {
	c := FoldChange{ReadingIDs: f.ReadingIDs, At: now}
	escalated := severityRank(f.Severity) > severityRank(a.Severity)
	if severityRank(f.Severity) >= severityRank(a.Severity) {
		c.Rule, c.Severity, c.Summary = f.Rule, f.Severity, truncate(f.Summary, 255)
		a.Rule, a.Severity, a.Summary = c.Rule, c.Severity, c.Summary
	}
	if escalated {
		c.Reopen = true
		a.Status, a.AcknowledgedAt, a.AcknowledgedBy = StatusOpen, nil, nil
	}
	folded, err := s.store.Fold(ctx, tx, a.ID, c)
	if err != nil || !folded {
		return Alert{}, false, err
	}
	a.Occurrences++
	a.LastTriggeredAt, a.UpdatedAt = now, now
	if escalated {
		return a, true, s.announce(tx, a, true, team)
	}
	return a, true, nil
}

// announce writes alert.raised in the alert's transaction.
func (s *Service) announce(tx *gorm.DB, a Alert, escalated bool, team CareTeam) error {
	ev := RaisedEvent{AlertID: a.ID, PatientID: a.PatientID, Kind: a.Kind, Rule: a.Rule, Severity: a.Severity,
		Escalated: escalated, RaisedAt: a.LastTriggeredAt, Recipients: team.recipients()}
	if a.OwnerID != nil {
		ev.OwnerID = *a.OwnerID
	}
	return outbox.Add(tx, TopicRaised, queue.Critical, ev)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// ScanNoReport raises no_report alerts for every active patient whose plan
// expects a report that is overdue. It is idempotent: a second run folds
// into the alerts the first one opened. It returns how many findings it had.
func (s *Service) ScanNoReport(ctx context.Context) (int, error) {
	found, after := 0, ""
	for {
		ids, err := s.patients.ActiveIDs(ctx, after, 200)
		if err != nil {
			return found, err
		}
		for _, id := range ids {
			n, err := s.scanPatient(ctx, id)
			if err != nil {
				return found, fmt.Errorf("scan patient %s: %w", id, err)
			}
			found += n
		}
		if len(ids) < 200 {
			return found, nil
		}
		after = ids[len(ids)-1]
	}
}

// MissedReporting lists the active patients whose plan expects a reading
// that is days whole local days overdue (the no-report rule with days for
// its threshold), for the reporting reminder. A patient whose no-report
// alert the CM turned off (no_report_days 0) is left out.
func (s *Service) MissedReporting(ctx context.Context, days int) ([]string, error) {
	const page = 1000
	now := s.now()
	var out []string
	after := ""
	for {
		ids, err := s.patients.ActiveIDs(ctx, after, page)
		if err != nil {
			return nil, err
		}
		missed, err := s.missedReporting(ctx, ids, days, now)
		if err != nil {
			return nil, err
		}
		out = append(out, missed...)
		if len(ids) < page {
			break
		}
		after = ids[len(ids)-1]
	}
	slices.Sort(out)
	return out, nil
}

// missedReporting applies the no-report rule to a page of patients with
// three queries: their plans, their per-patient overrides and, grouped,
// their last reading of each expected type.
func (s *Service) missedReporting(ctx context.Context, ids []string, days int, now time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	plans, err := s.pages.PlansOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("plans of %d patients: %w", len(ids), err)
	}
	var expecting, types []string
	for _, id := range ids {
		p := plans[id]
		if len(p.Expectations) == 0 {
			continue
		}
		expecting = append(expecting, id)
		for _, exp := range p.Expectations {
			if !slices.Contains(types, exp.Type) {
				types = append(types, exp.Type)
			}
		}
	}
	if len(expecting) == 0 {
		return nil, nil
	}
	overrides, err := s.store.OverridesOf(ctx, expecting)
	if err != nil {
		return nil, err
	}
	last, err := s.readings.LastMeasuredOf(ctx, expecting, types)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range expecting {
		th := layers(plans[id].Thresholds, overrides[id]).Effective
		if th.NoReportDays <= 0 {
			continue // the CM (or the pathway) turned the no-report alert off
		}
		th.NoReportDays = float64(days)
		for _, exp := range plans[id].Expectations {
			var at *time.Time
			if t, ok := last[id][exp.Type]; ok {
				at = &t
			}
			if EvaluateNoReport(th, exp, at, now, s.loc) != nil {
				out = append(out, id)
				break
			}
		}
	}
	return out, nil
}

func (s *Service) scanPatient(ctx context.Context, patientID string) (int, error) {
	exps, err := s.reporting.ExpectedReporting(ctx, patientID)
	if err != nil || len(exps) == 0 {
		return 0, err
	}
	l, err := s.Thresholds(ctx, patientID)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var findings []Finding
	for _, exp := range exps {
		last, err := s.readings.LastMeasured(ctx, patientID, exp.Type)
		if err != nil {
			return 0, err
		}
		if f := EvaluateNoReport(l.Effective, exp, last, now, s.loc); f != nil {
			findings = append(findings, *f)
		}
	}
	if len(findings) == 0 {
		return 0, nil
	}
	team, err := s.patients.CareTeam(ctx, patientID)
	if err != nil {
		return 0, err
	}
	err = s.readings.DB().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.readings.LockPatient(ctx, tx, patientID); err != nil {
			return err
		}
		for _, f := range findings {
			if _, _, err := s.raise(ctx, tx, patientID, f, team); err != nil {
				return err
			}
		}
		return nil
	})
	return len(findings), err
}

// CriticalAlerts counts a patient's alerts that were critical and triggered
// since a time (the care plan's risk score uses it).
func (s *Service) CriticalAlerts(ctx context.Context, patientID string, since time.Time) (int, error) {
	return s.store.CountCritical(ctx, patientID, since)
}

// Filter selects alerts for a list.
type Filter struct {
	Status   string // active (open + acknowledged, the default), open, acknowledged, resolved, all
	Severity string
	Cursor   string
	Limit    int
}

func (f Filter) query() (ListQuery, error) {
	q := ListQuery{Severity: f.Severity, Cursor: f.Cursor, Limit: f.Limit + 1}
	switch f.Status {
	case "", "active":
		q.Statuses = []string{StatusOpen, StatusAcknowledged}
	case StatusOpen, StatusAcknowledged, StatusResolved:
		q.Statuses = []string{f.Status}
	case "all":
	default:
		return ListQuery{}, errBadStatus
	}
	if f.Severity != "" && severityRank(f.Severity) == 0 {
		return ListQuery{}, errBadSeverity
	}
	if len(f.Cursor) > 36 {
		return ListQuery{}, errBadCursor
	}
	return q, nil
}

// List returns a page of alerts: one patient's (patientID) or a staff
// member's patients' (scope), newest first.
func (s *Service) List(ctx context.Context, q ListQuery, f Filter) ([]Alert, string, error) {
	fq, err := f.query()
	if err != nil {
		return nil, "", err
	}
	fq.PatientID, fq.Scope = q.PatientID, q.Scope
	rows, err := s.store.List(ctx, fq)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[f.Limit-1].ID
	}
	return rows, next, nil
}

// Get returns an alert with the readings that caused it.
func (s *Service) Get(ctx context.Context, id string) (Alert, []observation.Reading, error) {
	a, err := s.store.ByID(ctx, id)
	if err != nil {
		return Alert{}, nil, err
	}
	ids, err := s.store.ReadingIDs(ctx, id)
	if err != nil {
		return Alert{}, nil, err
	}
	rs, err := s.readings.ByIDs(ctx, ids)
	return a, rs, err
}

// Acknowledge: the CM has seen the alert and is acting on it.
func (s *Service) Acknowledge(ctx context.Context, a auth.Actor, id string) (Alert, error) {
	ok, err := s.store.Acknowledge(ctx, id, a.ID, s.now().UTC())
	if err != nil {
		return Alert{}, err
	}
	cur, err := s.store.ByID(ctx, id)
	if err != nil {
		return Alert{}, err
	}
	if !ok && cur.Status == StatusResolved {
		return Alert{}, ErrResolved
	}
	return cur, nil // acknowledging twice is harmless
}

// Resolution is how a CM closes an alert.
type Resolution struct {
	ActionTaken string
	Note        string
}

// Resolve closes an alert with the action taken and a note.
func (s *Service) Resolve(ctx context.Context, a auth.Actor, id string, r Resolution) (Alert, error) {
	if !slices.Contains(Actions, r.ActionTaken) {
		return Alert{}, errBadAction.WithDetail("allowed", Actions)
	}
	r.Note = strings.TrimSpace(r.Note)
	if r.Note == "" {
		return Alert{}, errNoteRequired
	}
	if utf8.RuneCountInString(r.Note) > 1000 {
		return Alert{}, apperr.Invalid("note", "too_long", "处理记录不能超过 1000 字")
	}
	ok, err := s.store.Resolve(ctx, id, a.ID, r.ActionTaken, r.Note, s.now().UTC())
	if err != nil {
		return Alert{}, err
	}
	if !ok {
		if _, err := s.store.ByID(ctx, id); err != nil {
			return Alert{}, err
		}
		return Alert{}, ErrResolved
	}
	return s.store.ByID(ctx, id)
}
