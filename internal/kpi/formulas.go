package kpi

import (
	"math"
	"sort"
	"time"
)

// round1 rounds to one decimal.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// NewRate is numerator ÷ denominator as a percentage, one decimal; no
// percentage when the denominator is 0.
func NewRate(num, den int) Rate {
	r := Rate{Numerator: num, Denominator: den}
	if den > 0 {
		p := round1(float64(num) / float64(den) * 100)
		r.Percent = &p
	}
	return r
}

// Median is the middle value of xs (the mean of the two middle values for
// an even count); ok is false for no values.
func Median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// Percentile is the nearest-rank percentile: the smallest value at or
// below which p percent of xs lie (rank ⌈p/100 × n⌉). ok is false for no values.
func Percentile(xs []float64, p float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	return s[rank-1], true
}

// Summarise turns waiting times into a Durations (minutes, one decimal).
func Summarise(waits []time.Duration, pending int) Durations {
	d := Durations{Count: len(waits), Pending: pending}
	mins := make([]float64, len(waits))
	for i, w := range waits {
		mins[i] = w.Minutes()
	}
	if m, ok := Median(mins); ok {
		m = round1(m)
		d.MedianMinutes = &m
	}
	if p, ok := Percentile(mins, 90); ok {
		p = round1(p)
		d.P90Minutes = &p
	}
	return d
}

// NPS is the Net Promoter Score (Reichheld 2003) of 0–10 answers to "how
// likely are you to recommend us": promoters answer 9–10, detractors 0–6,
// passives 7–8; the score is % promoters − % detractors, −100…100, one
// decimal; nil with no answers.
func NPS(answers []float64) NPSResult {
	r := NPSResult{Responses: len(answers)}
	for _, a := range answers {
		switch {
		case a >= 9:
			r.Promoters++
		case a <= 6:
			r.Detractors++
		}
	}
	if r.Responses > 0 {
		s := round1(float64(r.Promoters-r.Detractors) / float64(r.Responses) * 100)
		r.Score = &s
	}
	return r
}

// Message is one thread entry as first-response time needs it.
type Message struct {
	Thread    string
	Seq       int64
	FromStaff bool
	At        time.Time
}

// FirstResponses measures how long patients wait for the care team. The
// messages are one or more threads' visible text and image entries (notes,
// recalls and transfers excluded by the caller), in any order.
//
// An episode begins with a patient's or relative's message that follows a
// staff message or opens the thread, and ends with the next staff message:
// a patient writing three times before an answer waits once, from the
// first. Episodes that began in [p.From, p.To) count; the wait is the time
// to the answer, even an answer after p.To. Episodes not answered by
// asOf are pending and stay out of the median.
func FirstResponses(msgs []Message, p Period) (waits []time.Duration, pending int) {
	s := append([]Message(nil), msgs...)
	sort.Slice(s, func(i, j int) bool {
		if s[i].Thread != s[j].Thread {
			return s[i].Thread < s[j].Thread
		}
		return s[i].Seq < s[j].Seq
	})
	var open *Message
	flush := func() {
		if open != nil && inPeriod(open.At, p) {
			pending++
		}
		open = nil
	}
	for i := range s {
		m := s[i]
		if i > 0 && s[i-1].Thread != m.Thread {
			flush()
		}
		switch {
		case !m.FromStaff && open == nil:
			open = &s[i]
		case m.FromStaff && open != nil:
			if inPeriod(open.At, p) {
				waits = append(waits, m.At.Sub(open.At))
			}
			open = nil
		}
	}
	flush()
	return waits, pending
}

func inPeriod(t time.Time, p Period) bool { return !t.Before(p.From) && t.Before(p.To) }

// Day is a calendar day in the hospital's zone, as days since 1970-01-01.
type Day int

// DayOf is the local day of t in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	l := t.In(loc)
	return Day(time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// ParseDay reads a stored YYYY-MM-DD day.
func ParseDay(s string) (Day, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return Day(t.Unix() / 86400), true
}

// Interval is a stretch of a plan in one stage: [From, To) in local days,
// with the vitals the stage asks for.
type Interval struct {
	PatientID string
	From, To  Day
	Vitals    []Vital
}

// Vital is a reading a stage asks for every EveryDays days.
type Vital struct {
	Type      string
	EveryDays int
}

// Reading is one received reading's patient, type and local day.
type Reading struct {
	PatientID string
	Type      string
	Day       Day
}

// Completeness is data completeness: the stage's rhythm cut into slots of
// every_days whole days counted from the interval's first day; a slot is
// expected only when it lies wholly inside the interval (a trailing partial
// slot is not expected yet) and received when at least one reading of that
// type was measured on one of its days (a second reading in a slot adds
// nothing). Rate = received slots ÷ expected slots.
func Completeness(intervals []Interval, readings []Reading) Rate {
	type key struct {
		patient, typ string
		day          Day
	}
	have := map[key]bool{}
	for _, r := range readings {
		have[key{r.PatientID, r.Type, r.Day}] = true
	}
	expected, received := 0, 0
	for _, iv := range intervals {
		for _, v := range iv.Vitals {
			if v.EveryDays <= 0 {
				continue
			}
			for start := iv.From; start+Day(v.EveryDays) <= iv.To; start += Day(v.EveryDays) {
				expected++
				for d := start; d < start+Day(v.EveryDays); d++ {
					if have[key{iv.PatientID, v.Type, d}] {
						received++
						break
					}
				}
			}
		}
	}
	return NewRate(received, expected)
}

// Stay is a recorded discharge or admission day of a patient; Planned marks
// an admission recorded as planned ahead (计划内入院).
type Stay struct {
	PatientID string
	Day       Day
	Planned   bool
}

// ReadmissionWindow is the days after a discharge within which an
// admission counts as a readmission.
const ReadmissionWindow = 30

// Readmissions is the 30-day readmission rate of the admissions given. An
// index discharge's window is the 30 days after its discharge day (day
// d+1 … d+30, closing at the local midnight that begins day d+31).
// Denominator: discharges whose window closed in the period [from, to) (so
// every counted window is complete, as with follow-up timeliness).
// Numerator: those of them with an admission of the same patient recorded
// on a day d+1 … d+30, on any of the patient's care plans (a plan records
// one admission, so a readmission is the admission of a later plan).
// Given every admission it is the all-cause rate; given Unplanned(admissions)
// the unplanned rate, over the same denominator.
func Readmissions(discharges, admissions []Stay, from, to Day) Rate {
	byPatient := map[string][]Day{}
	for _, a := range admissions {
		byPatient[a.PatientID] = append(byPatient[a.PatientID], a.Day)
	}
	den, num := 0, 0
	for _, d := range discharges {
		closes := d.Day + ReadmissionWindow + 1
		if closes < from || closes >= to {
			continue
		}
		den++
		for _, a := range byPatient[d.PatientID] {
			if a > d.Day && a <= d.Day+ReadmissionWindow {
				num++
				break
			}
		}
	}
	return NewRate(num, den)
}

// Unplanned keeps the admissions not recorded as planned: a discharge
// followed by a planned admission (the next chemotherapy cycle, a staged
// operation) and then an unplanned one within the window is still an
// unplanned readmission.
func Unplanned(admissions []Stay) []Stay {
	var out []Stay
	for _, a := range admissions {
		if !a.Planned {
			out = append(out, a)
		}
	}
	return out
}
