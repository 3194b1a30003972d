package followup_test

import (
	"testing"
	"time"

	"github.com/carepath/carepath/internal/followup"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func TestPlanPerRiskLevel(t *testing.T) {
	items := []followup.Item{
		{Key: "call_d3", Title: "出院第3天电话随访", Channel: "phone", DueOn: "2026-03-13"},
		{Key: "visit_d14", Title: "出院2周复诊", Channel: "visit", DueOn: "2026-03-24"},
		{Key: "call_d30", Title: "出院第30天电话随访", Channel: "phone"}, // anchor not yet recorded
	}
	for _, tc := range []struct {
		risk        string
		callWindow  string // first pathway follow-up: local days, inclusive
		rhythmKey   string
		rhythmStart string
		rhythmEnd   string // inclusive last day
	}{
		{"high", "2026-03-13..2026-03-14", "p1:rhythm:2026-04-23", "2026-04-22", "2026-04-24"},
		{"medium", "2026-03-13..2026-03-16", "p1:rhythm:2026-06-22", "2026-06-19", "2026-06-25"},
		{"low", "2026-03-13..2026-03-20", "p1:rhythm:2027-03-24", "2027-03-17", "2027-03-31"},
	} {
		t.Run(tc.risk, func(t *testing.T) {
			got := followup.Plan(followup.Schedule{PatientID: "pt", PlanID: "p1", RiskLevel: tc.risk, Items: items}, time.Time{}, shanghai)
			if len(got) != 3 {
				t.Fatalf("planned %d, want 2 pathway + 1 routine: %+v", len(got), got)
			}
			call := got[0]
			if call.ItemKey != "p1:call_d3" || call.Channel != "phone" || days(call) != tc.callWindow {
				t.Errorf("call %s %s %s, want window %s", call.ItemKey, call.Channel, days(call), tc.callWindow)
			}
			if got[1].Channel != "clinic" {
				t.Errorf("visit maps to %s, want clinic", got[1].Channel)
			}
			r := got[2]
			if r.ItemKey != tc.rhythmKey || r.Source != "rhythm" || days(r) != tc.rhythmStart+".."+tc.rhythmEnd {
				t.Errorf("routine %s %s, want %s %s..%s", r.ItemKey, days(r), tc.rhythmKey, tc.rhythmStart, tc.rhythmEnd)
			}
		})
	}
	// After a routine follow-up is made, the next counts from that day.
	done := time.Date(2026, 4, 25, 10, 0, 0, 0, shanghai)
	got := followup.Plan(followup.Schedule{PlanID: "p1", RiskLevel: "high", Items: items}, done, shanghai)
	if k := got[len(got)-1].ItemKey; k != "p1:rhythm:2026-05-25" {
		t.Errorf("next routine %s, want p1:rhythm:2026-05-25", k)
	}
	// No dated pathway follow-up yet: no routine one either.
	if got := followup.Plan(followup.Schedule{PlanID: "p1", RiskLevel: "high", Items: items[2:]}, time.Time{}, shanghai); len(got) != 0 {
		t.Errorf("undated plan planned %+v", got)
	}
}

// days shows a window as inclusive local days.
func days(p followup.Planned) string {
	return p.WindowStart.In(shanghai).Format(time.DateOnly) + ".." + p.WindowEnd.In(shanghai).AddDate(0, 0, -1).Format(time.DateOnly)
}

func TestOverdueAndEscalationAcrossShanghaiMidnight(t *testing.T) {
	due, _ := followup.ParseDay("2026-03-10", shanghai)
	start, end := followup.Window(due, due, shanghai)
	f := followup.Followup{Status: "pending", WindowStart: start, WindowEnd: end}
	// The window's last day is 10 March in Shanghai: it closes at 16:00 UTC on 10 March.
	if want := time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC); !end.Equal(want) {
		t.Fatalf("window ends %s, want %s", end, want)
	}
	for _, tc := range []struct {
		at                time.Time
		overdue, escalate bool
	}{
		{time.Date(2026, 3, 10, 23, 59, 59, 0, shanghai), false, false},
		{time.Date(2026, 3, 11, 0, 0, 0, 0, shanghai), true, false}, // still 10 March in UTC
		{time.Date(2026, 3, 12, 23, 59, 0, 0, shanghai), true, false},
		{time.Date(2026, 3, 13, 0, 0, 0, 0, shanghai), true, true}, // 48 h after the window closed
	} {
		if got := followup.Overdue(f, tc.at); got != tc.overdue {
			t.Errorf("Overdue at %s = %v, want %v", tc.at, got, tc.overdue)
		}
		if got := followup.Escalate(f, tc.at, 48*time.Hour); got != tc.escalate {
			t.Errorf("Escalate at %s = %v, want %v", tc.at, got, tc.escalate)
		}
	}
	done := f
	done.Status = "done"
	if followup.Overdue(done, time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai)) {
		t.Error("a recorded follow-up is overdue")
	}
	now := time.Date(2026, 3, 20, 0, 0, 0, 0, shanghai)
	escalated := f
	escalated.EscalatedAt = &now
	if followup.Escalate(escalated, now, 0) {
		t.Error("escalated twice")
	}
}

// TestWindowsFollowTheHospitalZone: the same rules in a hospital on UTC+6
// (Asia/Urumqi) and one with daylight saving (America/New_York): a window
// closes at that zone's midnight, not Shanghai's, and a day is a local day
// even when it is 23 hours long.
func TestWindowsFollowTheHospitalZone(t *testing.T) {
	urumqi, err := time.LoadLocation("Asia/Urumqi")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	for _, tc := range []struct {
		name          string
		loc           *time.Location
		first, last   string    // the window's local days
		start, end    time.Time // its bounds in UTC
		before, after time.Time // either side of its close, in local time
		shanghaiClose time.Time // when the window would close were the zone Shanghai's
	}{
		{"Asia/Urumqi", urumqi, "2026-03-10", "2026-03-10",
			time.Date(2026, 3, 9, 18, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 18, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 10, 23, 59, 59, 0, urumqi), time.Date(2026, 3, 11, 0, 0, 0, 0, urumqi),
			time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)},
		// 8 March 2026 is 23 hours long in New York (clocks go forward at 02:00).
		{"America/New_York across DST", newYork, "2026-03-07", "2026-03-08",
			time.Date(2026, 3, 7, 5, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 8, 23, 59, 59, 0, newYork), time.Date(2026, 3, 9, 0, 0, 0, 0, newYork),
			time.Date(2026, 3, 8, 16, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, _ := followup.ParseDay(tc.first, tc.loc)
			last, _ := followup.ParseDay(tc.last, tc.loc)
			start, end := followup.Window(first, last, tc.loc)
			if !start.Equal(tc.start) || !end.Equal(tc.end) {
				t.Fatalf("window %s..%s, want %s..%s", start, end, tc.start, tc.end)
			}
			f := followup.Followup{Status: "pending", WindowStart: start, WindowEnd: end}
			if followup.Overdue(f, tc.shanghaiClose) || followup.Overdue(f, tc.before) {
				t.Errorf("overdue at Shanghai's midnight (%s) or a second before the local one (%s)", tc.shanghaiClose, tc.before)
			}
			if !followup.Overdue(f, tc.after) {
				t.Errorf("not overdue at local midnight %s", tc.after)
			}
			delay := 48 * time.Hour
			if followup.Escalate(f, tc.after.Add(delay-time.Second), delay) || !followup.Escalate(f, tc.after.Add(delay), delay) {
				t.Errorf("escalation is not exactly %s after the local close", delay)
			}
			// The pathway's follow-ups and the routine rhythm are planned in local days too.
			plan := followup.Plan(followup.Schedule{PlanID: "p", RiskLevel: "high", Items: []followup.Item{
				{Key: "call", Title: "电话随访", Channel: "phone", DueOn: tc.first}}}, time.Time{}, tc.loc)
			for _, p := range plan {
				for _, b := range []time.Time{p.WindowStart, p.WindowEnd} {
					if l := b.In(tc.loc); l.Hour() != 0 || l.Minute() != 0 {
						t.Errorf("%s: bound %s is not a local midnight", p.ItemKey, l)
					}
				}
			}
		})
	}
}
