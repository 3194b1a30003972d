package careplan

import (
	"fmt"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// The rules below are pure functions of their inputs and a clock, so they
// are tested table-driven without a database.

// A day is a calendar date in the hospital's zone, held as midnight UTC so
// that day arithmetic never meets zone offsets.

// DayOf is the calendar date of t in loc.
func DayOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ParseDay reads a YYYY-MM-DD date.
func ParseDay(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }

// FormatDay writes a day as YYYY-MM-DD.
func FormatDay(d time.Time) string { return d.Format(time.DateOnly) }

// midnight is the instant a day begins in loc.
func midnight(day time.Time, loc *time.Location) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
}

// DaysBetween counts calendar days from a to b (both days).
func DaysBetween(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }

// AnchorDate is a recorded event: its day and when the CM recorded it.
type AnchorDate struct {
	On      time.Time // day
	KnownAt time.Time // instant
}

// Timing is when a stage or item falls: a day, nil while it depends on an
// event not yet recorded, and when that day became known.
type Timing struct {
	On      *time.Time
	KnownAt time.Time
}

// Schedule computes, from the events recorded so far, the first day of
// every stage (in pathway order) and the due day of every task and
// follow-up and the day of every proposed appointment (by key). A date whose anchor is unknown stays nil.
func Schedule(p *Pathway, anchors map[string]AnchorDate) (stages []Timing, items map[string]Timing) {
	memo := map[string]Timing{}
	var resolve func(o Offset, depth int) Timing
	resolve = func(o Offset, depth int) Timing {
		var base Timing
		if key, ok := strings.CutPrefix(o.Anchor, stageRef); ok {
			i := p.StageIndex(key)
			if i < 0 || depth > len(p.Stages) { // validation rules both out; stay safe
				return Timing{}
			}
			if t, ok := memo[key]; ok {
				base = t
			} else {
				base = resolve(p.Stages[i].Starts, depth+1)
				memo[key] = base
			}
		} else if a, ok := anchors[o.Anchor]; ok {
			d := a.On
			base = Timing{On: &d, KnownAt: a.KnownAt}
		}
		if base.On == nil {
			return Timing{}
		}
		d := base.On.AddDate(0, 0, o.Day)
		return Timing{On: &d, KnownAt: base.KnownAt}
	}
	stages = make([]Timing, len(p.Stages))
	items = map[string]Timing{}
	for i, s := range p.Stages {
		stages[i] = resolve(s.Starts, 0)
		for _, t := range s.Tasks {
			items[t.Key] = resolve(t.Due, 0)
		}
		for _, f := range s.Followups {
			items[f.Key] = resolve(f.Due, 0)
		}
		for _, a := range s.Appointments {
			items[a.Key] = resolve(a.Due, 0)
		}
	}
	return stages, items
}

// arrival is when a stage became reachable: its first day has begun in loc
// and the event it hangs on had been recorded.
func arrival(t Timing, loc *time.Location) (time.Time, bool) {
	if t.On == nil {
		return time.Time{}, false
	}
	at := midnight(*t.On, loc)
	if t.KnownAt.After(at) {
		at = t.KnownAt
	}
	return at, true
}

// NextStage is the stage a plan should be in at now: the furthest stage
// after current that has arrived. A manual transition wins over everything
// that had arrived before it, so the plan only moves on by itself when a
// later day comes or a later event is recorded. Automatic moves go forward
// only; current -1 (a new plan) lands on the furthest arrived stage, or the
// first stage when none has arrived yet.
func NextStage(stages []Timing, current int, lastManual *time.Time, now time.Time, loc *time.Location) int {
	next := current
	for i := current + 1; i < len(stages); i++ {
		at, ok := arrival(stages[i], loc)
		if !ok || at.After(now) {
			continue
		}
		if lastManual != nil && !at.After(*lastManual) {
			continue
		}
		next = i
	}
	if next < 0 && len(stages) > 0 {
		return 0
	}
	return next
}

// eventOrder lists which event must not come after which: admission ≤
// surgery ≤ discharge. Enrolment may come at any point of the journey.
var eventOrder = [][2]string{
	{AnchorAdmission, AnchorSurgery},
	{AnchorAdmission, AnchorDischarge},
	{AnchorSurgery, AnchorDischarge},
}

// ErrEventOutOfOrder is a 422: e.g. discharge before admission.
var errEventOutOfOrder = apperr.New(apperr.KindUnprocessable, "event_out_of_order", "事件日期顺序不合理")

// CheckEventOrder tells whether recording event on day keeps the events in
// journey order with those already recorded.
func CheckEventOrder(recorded map[string]time.Time, event string, on time.Time) error {
	for _, pair := range eventOrder {
		before, after := pair[0], pair[1]
		switch event {
		case before:
			if other, ok := recorded[after]; ok && on.After(other) {
				return outOfOrder(event, on, after, other, fmt.Sprintf("%s不能晚于%s（%s）", eventNames[event], eventNames[after], FormatDay(other)))
			}
		case after:
			if other, ok := recorded[before]; ok && on.Before(other) {
				return outOfOrder(event, on, before, other, fmt.Sprintf("%s不能早于%s（%s）", eventNames[event], eventNames[before], FormatDay(other)))
			}
		}
	}
	return nil
}

func outOfOrder(event string, on time.Time, other string, otherOn time.Time, msg string) error {
	e := errEventOutOfOrder.WithDetail("event", event).WithDetail("date", FormatDay(on)).
		WithDetail("conflicts_with", other).WithDetail("conflicting_date", FormatDay(otherOn))
	e.Message = msg
	return e
}

var eventNames = map[string]string{
	AnchorEnrolment: "入组日期", AnchorAdmission: "入院日期", AnchorSurgery: "手术日期", AnchorDischarge: "出院日期",
}

// Task statuses as shown; only done is stored, the rest follow from the day.
const (
	TaskDone        = "done"
	TaskOverdue     = "overdue"
	TaskDueToday    = "due"
	TaskUpcoming    = "upcoming"
	TaskUnscheduled = "unscheduled"
)

// TaskStatus is a task's status on today.
func TaskStatus(done bool, due *time.Time, today time.Time) string {
	switch {
	case done:
		return TaskDone
	case due == nil:
		return TaskUnscheduled
	case due.Before(today):
		return TaskOverdue
	case due.Equal(today):
		return TaskDueToday
	default:
		return TaskUpcoming
	}
}
