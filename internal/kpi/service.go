package kpi

import (
	"context"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
)

// Rhythms tells which readings a pathway's stage asks for (the pathway's
// vitals: type and every_days); nil for an unknown pathway or stage.
type Rhythms interface {
	StageVitals(pathway, stage string) []Vital
}

// NPSQuestionnaire is the key of the questionnaire whose score is the 0–10
// recommendation answer (configs/questionnaires/nps.yaml).
const NPSQuestionnaire = "nps"

// messageLookback is how far before the period messages are read to know
// whether a patient's first message in the period opens a wait or continues
// one that began earlier (a wait unanswered for longer than this is taken
// to begin at its first message inside the lookback).
const messageLookback = 30 * 24 * time.Hour

// Service computes reports.
type Service struct {
	store   *Store
	rhythms Rhythms
	loc     *time.Location
	now     func() time.Time
}

// NewService builds the service.
func NewService(store *Store, rhythms Rhythms, loc *time.Location, now func() time.Time) *Service {
	return &Service{store: store, rhythms: rhythms, loc: loc, now: now}
}

// Zone is the hospital's zone that periods are cut in.
func (s *Service) Zone() *time.Location { return s.loc }

// ParsePeriod reads from and to (YYYY-MM-DD, hospital zone, to exclusive);
// empty ones default to the last 30 days including today.
func (s *Service) ParsePeriod(from, to string) (Period, error) {
	today := s.now().In(s.loc)
	end := time.Date(today.Year(), today.Month(), today.Day()+1, 0, 0, 0, 0, s.loc)
	if to != "" {
		t, err := time.ParseInLocation(time.DateOnly, to, s.loc)
		if err != nil {
			return Period{}, ErrBadTo
		}
		end = t
	}
	start := time.Date(end.Year(), end.Month(), end.Day()-30, 0, 0, 0, 0, s.loc)
	if from != "" {
		f, err := time.ParseInLocation(time.DateOnly, from, s.loc)
		if err != nil {
			return Period{}, ErrBadFrom
		}
		start = f
	}
	if !start.Before(end) {
		return Period{}, ErrRange
	}
	if end.After(time.Date(start.Year(), start.Month(), start.Day()+MaxDays, 0, 0, 0, 0, s.loc)) {
		return Period{}, ErrRangeLong
	}
	return Period{From: start, To: end}, nil
}

// Report computes every KPI of a's aggregate scope over p. Windows still
// open at the time of the call (p.To in the future) are cut at now: nothing
// not yet due counts as missed.
func (s *Service) Report(ctx context.Context, a auth.Actor, p Period) (Report, error) {
	scope := access.AggregateScope(a)
	if scope == "" {
		return Report{}, ErrNoKPIScope
	}
	now := s.now()
	until := p.To
	if now.Before(until) {
		until = now
	}
	r := Report{Scope: scope, From: p.From.In(s.loc).Format(time.DateOnly), To: p.To.In(s.loc).Format(time.DateOnly)}
	var err error
	if r.Timeliness, err = s.timeliness(ctx, a, p.From, until); err != nil {
		return Report{}, err
	}
	if r.Completeness, err = s.completeness(ctx, a, p.From, until); err != nil {
		return Report{}, err
	}
	if r.AlertAcknowledge, err = s.alertAcknowledge(ctx, a, p.From, until, now); err != nil {
		return Report{}, err
	}
	if r.FirstResponse, err = s.firstResponse(ctx, a, p.From, until, now); err != nil {
		return Report{}, err
	}
	scores, err := s.store.npsScores(ctx, a, NPSQuestionnaire, p.From, until)
	if err != nil {
		return Report{}, err
	}
	r.NPS = NPS(scores)
	if r.ActivePerCM, err = s.caseload(ctx, a); err != nil {
		return Report{}, err
	}
	if r.Readmission30Days, r.UnplannedReadmission30Days, err = s.readmissions(ctx, a, p.From, until); err != nil {
		return Report{}, err
	}
	return r, nil
}

// Follow-up timeliness rate (随访及时率).
//
//	numerator:   follow-ups of the denominator whose outcome was recorded
//	             before their window closed
//	denominator: follow-ups of the scope whose window closed in [from, to)
//	             (a window ends at local midnight after its last day)
//	exclusions:  follow-ups cancelled (their plan closed, 结案) before their
//	             window closed; one cancelled after it was missed stays
//	             missed. A follow-up rescheduled before its window closed
//	             counts by its new window; one recorded late or never counts
//	             as not timely
func (s *Service) timeliness(ctx context.Context, a auth.Actor, from, to time.Time) (Rate, error) {
	due, timely, err := s.store.timeliness(ctx, a, from, to)
	return NewRate(timely, due), err
}

// Data completeness (数据完整率): expected vs received readings.
//
//	expected:    for every care plan of the scope, each stage's vitals
//	             rhythm (pathway YAML: type, every_days) cut into slots of
//	             every_days local days from the first day the plan was in
//	             that stage within [from, to); only whole slots count
//	received:    expected slots with at least one reading of that type
//	             measured (not received) on one of the slot's local days
//	exclusions:  days outside the plan's life (before enrolment, after
//	             closing); stages of unknown pathways; readings beyond the
//	             rhythm (a second reading in a slot adds nothing)
//	time zone:   days are the hospital's; a stage entered mid-day counts
//	             from that day, one left mid-day until the day before
func (s *Service) completeness(ctx context.Context, a auth.Actor, from, to time.Time) (Rate, error) {
	plans, stages, err := s.store.plans(ctx, a, from, to)
	if err != nil {
		return Rate{}, err
	}
	rows, err := s.store.readings(ctx, a, from, to)
	if err != nil {
		return Rate{}, err
	}
	readings := make([]Reading, len(rows))
	for i, r := range rows {
		readings[i] = Reading{PatientID: r.PatientID, Type: r.Type, Day: DayOf(r.MeasuredAt, s.loc)}
	}
	return Completeness(s.intervals(plans, stages, from, to), readings), nil
}

// intervals cuts plans into their stages' stretches within [from, to).
func (s *Service) intervals(plans []planRow, stages []stageRow, from, to time.Time) []Interval {
	byPlan := map[string][]stageRow{}
	for _, st := range stages {
		byPlan[st.PlanID] = append(byPlan[st.PlanID], st)
	}
	var out []Interval
	for _, pl := range plans {
		end := to
		if pl.ClosedAt != nil && pl.ClosedAt.Before(end) {
			end = *pl.ClosedAt
		}
		list := byPlan[pl.ID]
		for i, st := range list {
			start, stop := st.At, end
			if i+1 < len(list) && list[i+1].At.Before(stop) {
				stop = list[i+1].At
			}
			if start.Before(from) {
				start = from
			}
			if !start.Before(stop) {
				continue
			}
			var vitals []Vital
			if s.rhythms != nil {
				vitals = s.rhythms.StageVitals(pl.PathwayKey, st.ToValue)
			}
			if len(vitals) == 0 {
				continue
			}
			out = append(out, Interval{PatientID: pl.PatientID, From: DayOf(start, s.loc), To: DayOf(stop, s.loc), Vitals: vitals})
		}
	}
	return out
}

// Alert time-to-acknowledge (预警响应时间): median and 90th percentile.
//
//	measured:    alerts of the scope first raised in [from, to) that a
//	             staff member has acknowledged or resolved by now; the
//	             time from first raised to the first of acknowledged or
//	             resolved (resolving without acknowledging is a response)
//	pending:     alerts raised in the period not yet acknowledged or
//	             resolved: reported as a count, not in the median
//	statistics:  median (mean of the two middle values for an even count)
//	             and nearest-rank p90, in minutes to one decimal
//	note:        an alert re-opened by a new reading keeps its first raised
//	             time and is measured to its latest acknowledgement
func (s *Service) alertAcknowledge(ctx context.Context, a auth.Actor, from, to, now time.Time) (Durations, error) {
	rows, err := s.store.alerts(ctx, a, from, to)
	if err != nil {
		return Durations{}, err
	}
	var waits []time.Duration
	pending := 0
	for _, r := range rows {
		at := r.AcknowledgedAt
		if at == nil || r.ResolvedAt != nil && r.ResolvedAt.Before(*at) {
			at = r.ResolvedAt
		}
		if at == nil || at.After(now) {
			pending++
			continue
		}
		waits = append(waits, at.Sub(r.FirstRaisedAt))
	}
	return Summarise(waits, pending), nil
}

// First response time in messaging (首次回复时长): median.
//
//	measured:    waits that began in [from, to): a patient's or relative's
//	             message after a staff message (or opening the thread),
//	             until the next staff message (see FirstResponses)
//	pending:     waits begun in the period and unanswered now
//	exclusions:  internal notes, recalls, transfers and recalled messages
//	statistics:  median and nearest-rank p90 in minutes, one decimal
func (s *Service) firstResponse(ctx context.Context, a auth.Actor, from, to, now time.Time) (Durations, error) {
	msgs, err := s.store.messages(ctx, a, from.Add(-messageLookback), now.Add(time.Second))
	if err != nil {
		return Durations{}, err
	}
	waits, pending := FirstResponses(msgs, Period{From: from, To: to})
	return Summarise(waits, pending), nil
}

// Active patients per CM (人均管理患者数).
//
//	numerator:   patients of the scope under case management now
//	             (status active) with an assigned CM
//	denominator: the distinct CMs those patients are assigned to
//	window:      a snapshot at the time of the report, not the period
//	             (assignments are not kept as history)
func (s *Service) caseload(ctx context.Context, a auth.Actor) (Caseload, error) {
	patients, cms, err := s.store.caseload(ctx, a)
	if err != nil {
		return Caseload{}, err
	}
	c := Caseload{ActivePatients: patients, CaseManagers: cms}
	if cms > 0 {
		v := round1(float64(patients) / float64(cms))
		c.PerCM = &v
	}
	return c, nil
}

// 30-day readmission rates (30天再入院率, 30天非计划再入院率), from the
// admission and discharge events recorded on care plans; see Readmissions
// for the window.
//
//	denominator: discharges whose 30-day window closed in [from, to)
//	all-cause:   those followed by an admission of the patient on day
//	             d+1 … d+30, planned or not
//	unplanned:   those followed by an admission not recorded as planned
//	             (计划内入院: the next chemotherapy cycle, a staged
//	             operation), as Chinese hospital quality reporting counts
//	             非计划再入院; an admission left unmarked, or recorded
//	             before the mark existed, is unplanned
func (s *Service) readmissions(ctx context.Context, a auth.Actor, from, to time.Time) (all, unplanned Rate, err error) {
	fromDay, toDay := DayOf(from, s.loc), DayOf(to, s.loc)
	// Discharges whose window closes in [fromDay, toDay): day d with d+31 in range.
	lo, hi := fromDay-ReadmissionWindow-1, toDay-ReadmissionWindow-1
	discharges, err := s.store.anchors(ctx, a, "discharge", formatDay(lo), formatDay(hi))
	if err != nil {
		return Rate{}, Rate{}, err
	}
	admissions, err := s.store.anchors(ctx, a, "admission", formatDay(lo+1), formatDay(hi+ReadmissionWindow))
	if err != nil {
		return Rate{}, Rate{}, err
	}
	return Readmissions(discharges, admissions, fromDay, toDay), Readmissions(discharges, Unplanned(admissions), fromDay, toDay), nil
}

func formatDay(d Day) string { return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly) }
