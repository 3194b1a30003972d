package careplan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/platform/apperr"
)

var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func day(s string) time.Time {
	d, err := careplan.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

func fmtDay(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return careplan.FormatDay(*t)
}

func TestDayOfUsesTheHospitalZone(t *testing.T) {
	cases := []struct {
		utc  string
		want string
	}{
		{"2026-03-01T15:59:59Z", "2026-03-01"}, // 23:59:59 in Shanghai
		{"2026-03-01T16:00:00Z", "2026-03-02"}, // midnight in Shanghai
		{"2026-02-28T16:00:00Z", "2026-03-01"}, // month end
		{"2024-02-28T16:00:00Z", "2024-02-29"}, // leap day
		{"2026-12-31T16:00:00Z", "2027-01-01"}, // year end
	}
	for _, tc := range cases {
		at, _ := time.Parse(time.RFC3339, tc.utc)
		if got := careplan.FormatDay(careplan.DayOf(at, shanghai)); got != tc.want {
			t.Errorf("DayOf(%s) = %s, want %s", tc.utc, got, tc.want)
		}
	}
}

// TestScheduleOfEveryShippedPathway instantiates each shipped pathway with
// only the enrolment known, then records admission, surgery and discharge,
// and checks that every date appears once its anchor is known and that the
// dates move when an event is corrected.
func TestScheduleOfEveryShippedPathway(t *testing.T) {
	lib, err := careplan.LoadPathways(configs.Files, "pathways")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	for _, p := range lib.All() {
		t.Run(p.Key, func(t *testing.T) {
			anchors := map[string]careplan.AnchorDate{careplan.AnchorEnrolment: {On: day("2026-03-01"), KnownAt: at}}
			stages, items := careplan.Schedule(p, anchors)
			if got := fmtDay(stages[0].On); got != "2026-03-01" {
				t.Errorf("first stage starts %s, want the enrolment day", got)
			}
			for i, s := range p.Stages {
				known := s.Starts.Anchor == careplan.AnchorEnrolment
				if got := stages[i].On != nil; got != known {
					t.Errorf("stage %s known=%v before any event, want %v", s.Key, got, known)
				}
			}
			for key, it := range items {
				if it.On != nil && anchorOf(p, key) != careplan.AnchorEnrolment {
					t.Errorf("%s is dated %s although its anchor is not recorded", key, fmtDay(it.On))
				}
			}
			anchors[careplan.AnchorAdmission] = careplan.AnchorDate{On: day("2026-03-10"), KnownAt: at}
			anchors[careplan.AnchorSurgery] = careplan.AnchorDate{On: day("2026-03-11"), KnownAt: at}
			anchors[careplan.AnchorDischarge] = careplan.AnchorDate{On: day("2026-03-14"), KnownAt: at}
			stages, items = careplan.Schedule(p, anchors)
			for i, s := range p.Stages {
				if stages[i].On == nil {
					t.Errorf("stage %s undated with every event recorded", s.Key)
				}
				if i > 0 && stages[i].On.Before(*stages[i-1].On) {
					t.Errorf("stage %s starts %s, before the previous stage (%s)", s.Key, fmtDay(stages[i].On), fmtDay(stages[i-1].On))
				}
			}
			for key, it := range items {
				if it.On == nil {
					t.Errorf("%s undated with every event recorded", key)
				}
			}
			// Correcting discharge by two days moves exactly what hangs on it.
			before := items
			anchors[careplan.AnchorDischarge] = careplan.AnchorDate{On: day("2026-03-16"), KnownAt: at}
			_, items = careplan.Schedule(p, anchors)
			for key, it := range items {
				shift := careplan.DaysBetween(*before[key].On, *it.On)
				want := 0
				if anchorOf(p, key) == careplan.AnchorDischarge {
					want = 2
				}
				if shift != want {
					t.Errorf("%s moved %d days when discharge moved 2, want %d", key, shift, want)
				}
			}
			if p.StageIndex("post_d1_7") < 0 || p.StageIndex("long_term") < 0 {
				t.Errorf("%s lacks the post-discharge sub-phases", p.Key)
			}
		})
	}
}

func anchorOf(p *careplan.Pathway, key string) string {
	for _, s := range p.Stages {
		for _, t := range s.Tasks {
			if t.Key == key {
				return t.Due.Anchor
			}
		}
		for _, f := range s.Followups {
			if f.Key == key {
				return f.Due.Anchor
			}
		}
		for _, a := range s.Appointments {
			if a.Key == key {
				return a.Due.Anchor
			}
		}
	}
	return ""
}

func TestScheduleFollowsStageReferences(t *testing.T) {
	p, err := careplan.ParsePathway("demo.yaml", []byte(goodPathway))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	stages, _ := careplan.Schedule(p, map[string]careplan.AnchorDate{
		careplan.AnchorEnrolment: {On: day("2026-01-31"), KnownAt: at},
		careplan.AnchorDischarge: {On: day("2026-02-01"), KnownAt: at.Add(time.Hour)},
	})
	got := fmt.Sprintf("%s %s %s %s", fmtDay(stages[0].On), fmtDay(stages[1].On), fmtDay(stages[2].On), fmtDay(stages[3].On))
	if want := "2026-01-31 - 2026-02-01 2026-03-03"; got != want {
		t.Fatalf("stage starts %s, want %s", got, want)
	}
	if !stages[3].KnownAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("a stage anchored on another is known when that one is: %v", stages[3].KnownAt)
	}
}

func TestNextStage(t *testing.T) {
	d := func(s string) *time.Time { x := day(s); return &x }
	known := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// Stages: 0 from 03-01, 1 from 03-10, 2 from 03-14, 3 not yet dated.
	stages := []careplan.Timing{{On: d("2026-03-01"), KnownAt: known}, {On: d("2026-03-10"), KnownAt: known}, {On: d("2026-03-14"), KnownAt: known}, {}}
	shanghaiTime := func(s string) time.Time {
		at, err := time.ParseInLocation("2006-01-02 15:04:05", s, shanghai)
		if err != nil {
			panic(err)
		}
		return at
	}
	manual := shanghaiTime("2026-03-12 09:00:00")
	lateKnown := []careplan.Timing{stages[0], stages[1], {On: d("2026-03-11"), KnownAt: shanghaiTime("2026-03-12 10:00:00")}, {}}
	cases := []struct {
		name       string
		stages     []careplan.Timing
		current    int
		lastManual *time.Time
		now        time.Time
		want       int
	}{
		{"new plan lands on today's stage", stages, -1, nil, shanghaiTime("2026-03-11 08:00:00"), 1},
		{"new plan before anything starts", stages, -1, nil, shanghaiTime("2026-02-20 08:00:00"), 0},
		{"one second before Shanghai midnight", stages, 1, nil, shanghaiTime("2026-03-13 23:59:59"), 1},
		{"at Shanghai midnight", stages, 1, nil, shanghaiTime("2026-03-14 00:00:00"), 2},
		{"UTC midnight is not the hospital's", stages, 1, nil, time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), 2},
		{"UTC day before, Shanghai already next day", stages, 1, nil, time.Date(2026, 3, 13, 16, 0, 0, 0, time.UTC), 2},
		{"UTC 15:59 is still Shanghai's 23:59", stages, 1, nil, time.Date(2026, 3, 13, 15, 59, 0, 0, time.UTC), 1},
		{"skips over several arrived stages", stages, 0, nil, shanghaiTime("2026-03-20 08:00:00"), 2},
		{"never moves back by itself", stages, 2, nil, shanghaiTime("2026-03-11 08:00:00"), 2},
		{"undated stage never arrives", stages, 2, nil, shanghaiTime("2027-01-01 08:00:00"), 2},
		{"manual move back is kept", stages, 0, &manual, shanghaiTime("2026-03-12 18:00:00"), 0},
		{"after a manual move, the next day that comes moves on", stages, 0, &manual, shanghaiTime("2026-03-14 00:00:01"), 2},
		{"an event recorded after the manual move counts", lateKnown, 0, &manual, shanghaiTime("2026-03-12 10:00:00"), 2},
		{"a back-dated event arrives when it is recorded", lateKnown, 1, nil, shanghaiTime("2026-03-12 09:59:59"), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := careplan.NextStage(tc.stages, tc.current, tc.lastManual, tc.now, shanghai); got != tc.want {
				t.Fatalf("got stage %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCheckEventOrder(t *testing.T) {
	recorded := map[string]time.Time{careplan.AnchorAdmission: day("2026-03-10"), careplan.AnchorSurgery: day("2026-03-11")}
	cases := []struct {
		event, on string
		wantCode  string
	}{
		{careplan.AnchorDischarge, "2026-03-14", ""},
		{careplan.AnchorDischarge, "2026-03-11", ""}, // same day as surgery
		{careplan.AnchorDischarge, "2026-03-09", "event_out_of_order"},
		{careplan.AnchorDischarge, "2026-03-10", "event_out_of_order"}, // before surgery
		{careplan.AnchorAdmission, "2026-03-12", "event_out_of_order"}, // after surgery
		{careplan.AnchorSurgery, "2026-03-09", "event_out_of_order"},
		{careplan.AnchorEnrolment, "2027-01-01", ""},
	}
	for _, tc := range cases {
		t.Run(tc.event+" "+tc.on, func(t *testing.T) {
			err := careplan.CheckEventOrder(recorded, tc.event, day(tc.on))
			code := ""
			if e, ok := apperr.As(err); ok {
				code = e.Code
				if e.Kind != apperr.KindUnprocessable || e.Details["conflicts_with"] == "" {
					t.Errorf("error %+v: want a 422 naming the conflicting event", e)
				}
			}
			if code != tc.wantCode {
				t.Fatalf("got %q (%v), want %q", code, err, tc.wantCode)
			}
		})
	}
}

func TestScoreRisk(t *testing.T) {
	today := day("2026-11-23")
	born := func(s string) *time.Time { d := day(s); return &d }
	cases := []struct {
		name string
		in   careplan.RiskInput
		want string
		pts  int
	}{
		{"young, nothing", careplan.RiskInput{BirthDate: born("1990-01-01")}, careplan.RiskLow, 0},
		{"unknown age", careplan.RiskInput{}, careplan.RiskLow, 0},
		{"64 the day before the birthday", careplan.RiskInput{BirthDate: born("1961-11-24")}, careplan.RiskLow, 0},
		{"65 on the birthday", careplan.RiskInput{BirthDate: born("1961-11-23"), Comorbidities: []string{"diabetes"}}, careplan.RiskMedium, 2},
		{"80 scores two", careplan.RiskInput{BirthDate: born("1946-01-01")}, careplan.RiskMedium, 2},
		{"hypertension alone is not in Charlson", careplan.RiskInput{Comorbidities: []string{"hypertension"}}, careplan.RiskLow, 0},
		{"Charlson 3 scores two", careplan.RiskInput{Comorbidities: []string{"ckd", "diabetes"}}, careplan.RiskMedium, 2},
		{"unknown codes ignored", careplan.RiskInput{Comorbidities: []string{"nonsense"}}, careplan.RiskLow, 0},
		{"one critical alert", careplan.RiskInput{CriticalAlerts: 1}, careplan.RiskMedium, 2},
		{"critical alerts capped at four", careplan.RiskInput{CriticalAlerts: 5}, careplan.RiskHigh, 4},
		{"old, sick and unstable", careplan.RiskInput{BirthDate: born("1940-05-05"), Comorbidities: []string{"heart_failure", "ckd"}, CriticalAlerts: 1}, careplan.RiskHigh, 6},
		{"missed follow-ups", careplan.RiskInput{MissedFollowups: 3, BirthDate: born("1950-01-01")}, careplan.RiskMedium, 3},
		{"pathway floor", careplan.RiskInput{Floor: careplan.RiskMedium}, careplan.RiskMedium, 0},
		{"floor does not lower", careplan.RiskInput{Floor: careplan.RiskMedium, CriticalAlerts: 2}, careplan.RiskHigh, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Today = today
			got := careplan.ScoreRisk(tc.in)
			if got.Level != tc.want || got.Points != tc.pts {
				t.Fatalf("got %s (%d points, %v), want %s (%d points)", got.Level, got.Points, got.Factors, tc.want, tc.pts)
			}
		})
	}
}

func TestRhythmFollowsRisk(t *testing.T) {
	cases := []struct {
		level      string
		every      int
		lifestyle  bool
		specialist bool
	}{
		{careplan.RiskLow, 365, false, false},
		{careplan.RiskMedium, 90, true, false},
		{careplan.RiskHigh, 30, true, true},
	}
	for _, tc := range cases {
		got := careplan.RhythmFor(tc.level)
		if got.EveryDays != tc.every || got.Lifestyle != tc.lifestyle || got.Specialist != tc.specialist {
			t.Errorf("RhythmFor(%s) = %+v", tc.level, got)
		}
	}
}

func TestTaskStatus(t *testing.T) {
	today := day("2026-03-10")
	d := func(s string) *time.Time { x := day(s); return &x }
	cases := []struct {
		done bool
		due  *time.Time
		want string
	}{
		{true, d("2026-03-01"), careplan.TaskDone},
		{false, nil, careplan.TaskUnscheduled},
		{false, d("2026-03-09"), careplan.TaskOverdue},
		{false, d("2026-03-10"), careplan.TaskDueToday},
		{false, d("2026-03-11"), careplan.TaskUpcoming},
	}
	for _, tc := range cases {
		if got := careplan.TaskStatus(tc.done, tc.due, today); got != tc.want {
			t.Errorf("TaskStatus(%v, %s) = %s, want %s", tc.done, fmtDay(tc.due), got, tc.want)
		}
	}
}

func TestMergeKeepsTheStricterValue(t *testing.T) {
	got := careplan.MergeThresholds(
		map[string]float64{"weight_gain_kg_3d": 2, "spo2_low": 90, "no_report_days": 3},
		map[string]float64{"weight_gain_kg_3d": 1.5, "spo2_low": 93, "no_report_days": 5},
	)
	want := map[string]float64{"weight_gain_kg_3d": 1.5, "spo2_low": 93, "no_report_days": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	vitals := careplan.MergeVitals(
		[]careplan.VitalExpectation{{Type: "weight", EveryDays: 1}, {Type: "blood_pressure", EveryDays: 7}},
		[]careplan.VitalExpectation{{Type: "blood_pressure", EveryDays: 1}},
	)
	if fmt.Sprint(vitals) != "[{blood_pressure 1} {weight 1}]" {
		t.Fatalf("merged vitals %v", vitals)
	}
}
