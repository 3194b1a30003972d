package followup

import (
	"math"
	"time"
)

// Timeliness is the follow-up timeliness rate (随访及时率) over a period:
//
//	follow-ups whose window closed in [from, to) and whose outcome was
//	recorded before the window closed
//	÷ all follow-ups whose window closed in [from, to)
//
// as a percentage rounded to one decimal. A follow-up rescheduled before its
// window closed counts by its new window. A follow-up recorded late counts
// as not timely, as does one never recorded. ok is false when no window
// closed in the period (no rate rather than 0% or 100%).
func Timeliness(list []Followup, from, to time.Time) (rate float64, ok bool) {
	due, timely := 0, 0
	for _, f := range list {
		if f.WindowEnd.Before(from) || !f.WindowEnd.Before(to) {
			continue
		}
		due++
		if f.Status == StatusDone && f.RecordedAt != nil && f.RecordedAt.Before(f.WindowEnd) {
			timely++
		}
	}
	if due == 0 {
		return 0, false
	}
	return math.Round(float64(timely)/float64(due)*1000) / 10, true
}
