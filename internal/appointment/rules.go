package appointment

import (
	"fmt"
	"time"
)

// MaxDuration is the longest single appointment (a day-ward treatment).
const MaxDuration = 12 * time.Hour

// CheckTimes validates a booking's times against now.
func CheckTimes(start, end, now time.Time) error {
	if !end.After(start) {
		return ErrEndBeforeStart
	}
	if end.Sub(start) > MaxDuration {
		return ErrTooLong
	}
	if !start.After(now) {
		return ErrInPast
	}
	return nil
}

// Overlap is another active appointment of the patient sharing some time.
type Overlap struct {
	AppointmentID string
	Kind          string
	StartsAt      time.Time
	EndsAt        time.Time
}

// Overlaps lists the active appointments among others (excluding id) that
// share time with [start, end). Touching ends do not overlap.
func Overlaps(others []Appointment, id string, start, end time.Time) []Overlap {
	var out []Overlap
	for _, o := range others {
		if o.ID == id || !Active(o.Status) {
			continue
		}
		if o.StartsAt.Before(end) && start.Before(o.EndsAt) {
			out = append(out, Overlap{AppointmentID: o.ID, Kind: o.Kind, StartsAt: o.StartsAt, EndsAt: o.EndsAt})
		}
	}
	return out
}

// Reminder hours, in the hospital's zone.
const (
	dayBeforeHour = 18
	morningHour   = 7
	// lookahead is how far ahead reminders are written; the consumer holds
	// them until send_at.
	lookahead = 48 * time.Hour
)

// DueReminder is a reminder to write now.
type DueReminder struct {
	Slot   string
	SendAt time.Time
}

// DueReminders lists the reminders an active appointment calls for at now:
// the day before at 18:00 and the morning of the day at 07:00 (hospital
// zone), each written once its send time is within the lookahead. A slot
// whose time has passed is sent at once while it still makes sense: the
// day-before one until 22:00 that evening, the morning one until an hour
// before the start. A morning slot at or after the start (an early
// appointment) is moved to two hours before it.
func DueReminders(a Appointment, now time.Time, loc *time.Location) []DueReminder {
	if !Active(a.Status) || !a.StartsAt.After(now) {
		return nil
	}
	start := a.StartsAt.In(loc)
	day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
	var out []DueReminder
	add := func(slot string, at, lastUseful time.Time) {
		if at.Sub(now) > lookahead || !now.Before(lastUseful) {
			return
		}
		if at.Before(now) {
			at = now
		}
		out = append(out, DueReminder{Slot: slot, SendAt: at.UTC()})
	}
	dayBefore := day.AddDate(0, 0, -1).Add(dayBeforeHour * time.Hour)
	// Not after 22:00 the day before: the morning reminder follows soon enough.
	add(SlotDayBefore, dayBefore, dayBefore.Add(4*time.Hour))
	morning := day.Add(morningHour * time.Hour)
	if !morning.Before(start.Add(-time.Hour)) {
		morning = start.Add(-2 * time.Hour)
	}
	add(SlotMorning, morning, start.Add(-time.Hour))
	return out
}

// DedupeKey identifies one reminder for the notification pipeline.
func DedupeKey(appointmentID, slot string, startsAt time.Time) string {
	return fmt.Sprintf("appointment_reminder:%s:%s:%d", appointmentID, slot, startsAt.Unix())
}

// ProposalTime is when a pathway's proposal suggests: its due day
// (YYYY-MM-DD) at its time of day (HH:MM) in the hospital's zone, lasting
// minutes. False when the day or time does not parse.
func ProposalTime(dueOn, at string, minutes int, loc *time.Location) (time.Time, time.Time, bool) {
	start, err := time.ParseInLocation("2006-01-02 15:04", dueOn+" "+at, loc)
	if err != nil || minutes <= 0 {
		return time.Time{}, time.Time{}, false
	}
	return start.UTC(), start.Add(time.Duration(minutes) * time.Minute).UTC(), true
}
