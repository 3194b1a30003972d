package followup

import (
	"fmt"
	"time"
)

// GraceDays is how many days after its due day a follow-up may still be
// made, by risk level: the higher the risk, the tighter the window.
func GraceDays(risk string) int {
	switch risk {
	case "high":
		return 1
	case "medium":
		return 3
	default:
		return 7
	}
}

// RhythmDays is the interval of the risk level's routine follow-ups
// (careplan.RhythmFor: high monthly, medium quarterly, low yearly).
func RhythmDays(risk string) int {
	switch risk {
	case "high":
		return 30
	case "medium":
		return 90
	default:
		return 365
	}
}

// Window is [local midnight of from, local midnight after to).
func Window(from, to time.Time, loc *time.Location) (time.Time, time.Time) {
	f, t := from.In(loc), to.In(loc)
	start := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	end := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	return start.UTC(), end.UTC()
}

// ParseDay reads a YYYY-MM-DD day in loc.
func ParseDay(s string, loc *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, ErrBadDate
	}
	return d, nil
}

// Schedule is an active plan's follow-ups as the care plan knows them.
type Schedule struct {
	PatientID string
	PlanID    string
	RiskLevel string
	Items     []Item
}

// Item is a pathway follow-up; DueOn is "" until its anchor is known.
type Item struct {
	Key, Title, Channel, DueOn string
}

// Planned is a follow-up the schedule calls for.
type Planned struct {
	ItemKey     string
	Source      string
	Title       string
	Channel     string
	WindowStart time.Time
	WindowEnd   time.Time
}

// Plan lists the follow-ups a schedule calls for: each pathway follow-up
// whose day is known, due that day with the risk level's grace; then the
// risk level's routine rhythm, one at a time, RhythmDays after the later of
// the last pathway follow-up and lastRoutine (the due day of the newest
// routine one, zero if none), with the grace on both sides. The caller keeps
// what exists (by item key), so repeating Plan creates nothing twice.
func Plan(s Schedule, lastRoutine time.Time, loc *time.Location) []Planned {
	grace := GraceDays(s.RiskLevel)
	var out []Planned
	var last time.Time
	for _, it := range s.Items {
		if it.DueOn == "" {
			continue
		}
		due, err := ParseDay(it.DueOn, loc)
		if err != nil {
			continue
		}
		if due.After(last) {
			last = due
		}
		start, end := Window(due, due.AddDate(0, 0, grace), loc)
		out = append(out, Planned{ItemKey: s.PlanID + ":" + it.Key, Source: SourcePathway, Title: it.Title,
			Channel: channelOf(it.Channel), WindowStart: start, WindowEnd: end})
	}
	if last.IsZero() {
		return out // the routine rhythm starts after the pathway's own follow-ups are dated
	}
	if lastRoutine.After(last) {
		last = lastRoutine.In(loc)
	}
	due := last.AddDate(0, 0, RhythmDays(s.RiskLevel))
	start, end := Window(due.AddDate(0, 0, -grace), due.AddDate(0, 0, grace), loc)
	out = append(out, Planned{ItemKey: fmt.Sprintf("%s:rhythm:%s", s.PlanID, due.Format(time.DateOnly)), Source: SourceRhythm,
		Title: "常规随访（按风险分层）", Channel: ChannelPhone, WindowStart: start, WindowEnd: end})
	return out
}

// channelOf maps a pathway channel (phone | visit | online | questionnaire)
// to a follow-up channel.
func channelOf(pathway string) string {
	switch pathway {
	case "visit":
		return ChannelClinic
	case "online", "questionnaire":
		return ChannelWeChat
	default:
		return ChannelPhone
	}
}

// Overdue reports whether a follow-up is past its window at now.
func Overdue(f Followup, now time.Time) bool {
	return f.Status == StatusPending && !now.Before(f.WindowEnd)
}

// Escalate reports whether an overdue follow-up is due for escalation to
// the department lead: still pending delay after its window closed.
func Escalate(f Followup, now time.Time, delay time.Duration) bool {
	return Overdue(f, now) && f.EscalatedAt == nil && !now.Before(f.WindowEnd.Add(delay))
}
