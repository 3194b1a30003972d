package notify

import (
	"fmt"
	"time"
)

// QuietHours is a daily window, in the hospital's zone, in which non-urgent
// pushes wait. Start after End means the window crosses midnight (21:30–08:00).
type QuietHours struct {
	Start, End time.Duration // since local midnight
	Loc        *time.Location
}

// ParseQuietHours reads "HH:MM" bounds.
func ParseQuietHours(start, end string, loc *time.Location) (QuietHours, error) {
	s, err := time.Parse("15:04", start)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours start %q: %w", start, err)
	}
	e, err := time.Parse("15:04", end)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours end %q: %w", end, err)
	}
	since := func(t time.Time) time.Duration {
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	return QuietHours{Start: since(s), End: since(e), Loc: loc}, nil
}

// SendAt is when a push due at t may go: t itself when it is urgent or
// outside the window, else the end of the window (the next morning).
func (q QuietHours) SendAt(t time.Time, urgent bool) time.Time {
	if urgent || q.Start == q.End {
		return t
	}
	local := t.In(q.Loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, q.Loc)
	of := local.Sub(midnight)
	at := func(day time.Time, d time.Duration) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, q.Loc).Add(d)
	}
	if q.Start < q.End { // a window within one day, e.g. 12:00–14:00
		if of >= q.Start && of < q.End {
			return at(midnight, q.End)
		}
		return t
	}
	switch {
	case of >= q.Start: // evening: the morning after
		return at(midnight.AddDate(0, 0, 1), q.End)
	case of < q.End: // small hours: this morning
		return at(midnight, q.End)
	}
	return t
}

// NextMorning is the end of the quiet hours after t: when a push refused
// for WeChat's daily limit is tried again.
func (q QuietHours) NextMorning(t time.Time) time.Time {
	local := t.In(q.Loc)
	next := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, q.Loc).AddDate(0, 0, 1).Add(q.End)
	return next
}

// DayStart is local midnight of t's day in the hospital's zone: the daily cap counts from it.
func (q QuietHours) DayStart(t time.Time) time.Time {
	local := t.In(q.Loc)
	return time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, q.Loc)
}

// importantPriority is the lowest priority that may use the last slot of the daily cap.
const importantPriority = 3

// WithinCap reports whether a push of priority (1 most important) may go
// when sentToday pushes went to the patient's household today. Urgent pushes
// are never capped; the last slot is kept for the important kinds (an
// appointment tomorrow before a new article).
func WithinCap(priority int, urgent bool, sentToday, dailyCap int) bool {
	switch {
	case urgent:
		return true
	case sentToday >= dailyCap:
		return false
	case priority > importantPriority && dailyCap > 1:
		return sentToday < dailyCap-1
	}
	return true
}

// CanSend reports whether a subscription allows one more send.
func CanSend(s Subscription, longTerm bool) bool {
	if longTerm {
		return s.LongTerm
	}
	return s.Quota > 0
}
