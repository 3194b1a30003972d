package alert_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/observation"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at parses a wall-clock time in Shanghai, "2026-05-01 07:00".
func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func num(v float64) *float64 { return &v }

func bp(id, when string, sys, dia float64) observation.Reading {
	return observation.Reading{ID: id, Type: observation.TypeBloodPressure, MeasuredAt: at(when), Value: num(sys), Value2: num(dia)}
}

func glucose(id, when string, v float64, context string) observation.Reading {
	return observation.Reading{ID: id, Type: observation.TypeGlucose, MeasuredAt: at(when), Value: num(v), Context: context}
}

func pain(id, when string, score float64, context string) observation.Reading {
	return observation.Reading{ID: id, Type: observation.TypePain, MeasuredAt: at(when), Value: num(score), Context: context}
}

func weight(id, when string, kg float64) observation.Reading {
	return observation.Reading{ID: id, Type: observation.TypeWeight, MeasuredAt: at(when), Value: num(kg)}
}

type ruleCase struct {
	name     string
	th       func(*alert.Thresholds)
	history  []observation.Reading
	reading  observation.Reading
	want     string   // "rule/severity", "" for no finding
	wantIDs  []string // the readings that caused it, in time order
	wantText string   // a fragment of the summary
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := alert.Defaults()
			if tc.th != nil {
				tc.th(&th)
			}
			got := alert.EvaluateReading(th, tc.reading, tc.history, shanghai)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("got %+v, want no finding", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d findings %+v, want one %s", len(got), got, tc.want)
			}
			f := got[0]
			if f.Rule+"/"+f.Severity != tc.want {
				t.Fatalf("got %s/%s, want %s", f.Rule, f.Severity, tc.want)
			}
			if tc.wantIDs != nil && strings.Join(f.ReadingIDs, ",") != strings.Join(tc.wantIDs, ",") {
				t.Fatalf("readings %v, want %v", f.ReadingIDs, tc.wantIDs)
			}
			if !strings.Contains(f.Summary, tc.wantText) {
				t.Fatalf("summary %q lacks %q", f.Summary, tc.wantText)
			}
		})
	}
}

func TestBloodPressureRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "180 systolic is critical", reading: bp("n", "2026-05-01 08:00", 180, 100), want: "bp_critical/critical", wantIDs: []string{"n"}, wantText: "180/100"},
		{name: "110 diastolic alone is critical", reading: bp("n", "2026-05-01 08:00", 150, 110), want: "bp_critical/critical"},
		{name: "179/109 is not critical", reading: bp("n", "2026-05-01 08:00", 179, 109), want: ""},
		{name: "one high reading is not an alert", reading: bp("n", "2026-05-01 08:00", 150, 95), want: ""},
		{name: "three high readings in a row",
			history: []observation.Reading{bp("a", "2026-04-29 08:00", 145, 85), bp("b", "2026-04-30 08:00", 130, 92)},
			reading: bp("n", "2026-05-01 08:00", 150, 95), want: "bp_high/high", wantIDs: []string{"a", "b", "n"}, wantText: "连续 3 次"},
		{name: "exactly 140/90 counts as high",
			history: []observation.Reading{bp("a", "2026-04-29 08:00", 140, 80), bp("b", "2026-04-30 08:00", 120, 90)},
			reading: bp("n", "2026-05-01 08:00", 140, 70), want: "bp_high/high"},
		{name: "139/89 three times is not high",
			history: []observation.Reading{bp("a", "2026-04-29 08:00", 139, 89), bp("b", "2026-04-30 08:00", 139, 89)},
			reading: bp("n", "2026-05-01 08:00", 139, 89), want: ""},
		{name: "a normal reading between breaks the run",
			history: []observation.Reading{bp("a", "2026-04-28 08:00", 150, 95), bp("ok", "2026-04-29 08:00", 125, 80), bp("b", "2026-04-30 08:00", 150, 95)},
			reading: bp("n", "2026-05-01 08:00", 150, 95), want: ""},
		{name: "three high readings more than 7 days apart are not a run",
			history: []observation.Reading{bp("a", "2026-04-20 08:00", 150, 95), bp("b", "2026-04-24 08:00", 150, 95)},
			reading: bp("n", "2026-05-01 08:00", 150, 95), want: ""},
		{name: "a late reading completes a run from the middle",
			history: []observation.Reading{bp("a", "2026-04-29 08:00", 150, 95), bp("c", "2026-05-01 08:00", 150, 95)},
			reading: bp("n", "2026-04-30 08:00", 150, 95), want: "bp_high/high", wantIDs: []string{"a", "n", "c"}},
		{name: "critical wins over high for the same reading",
			history: []observation.Reading{bp("a", "2026-04-29 08:00", 150, 95), bp("b", "2026-04-30 08:00", 150, 95)},
			reading: bp("n", "2026-05-01 08:00", 190, 115), want: "bp_critical/critical", wantIDs: []string{"n"}},
		{name: "a patient override raises the high threshold",
			th:      func(th *alert.Thresholds) { th.BPSystolicHigh, th.BPDiastolicHigh = 155, 100 },
			history: []observation.Reading{bp("a", "2026-04-29 08:00", 150, 95), bp("b", "2026-04-30 08:00", 150, 95)},
			reading: bp("n", "2026-05-01 08:00", 150, 95), want: ""},
	})
}

func TestGlucoseRules(t *testing.T) {
	high := func(id, when string) observation.Reading { return glucose(id, when, 14.2, observation.GlucoseFasting) }
	runRuleCases(t, []ruleCase{
		{name: "below 3.9 is critical whatever the context", reading: glucose("n", "2026-05-01 15:00", 3.8, observation.GlucoseAfterMeal), want: "glucose_low/critical", wantText: "低血糖"},
		{name: "3.9 itself is not low", reading: glucose("n", "2026-05-01 15:00", 3.9, observation.GlucoseRandom), want: ""},
		{name: "fasting above 13.9 three days running",
			history: []observation.Reading{high("a", "2026-04-29 07:00"), high("b", "2026-04-30 07:00")},
			reading: high("n", "2026-05-01 07:00"), want: "glucose_fasting_high/high", wantIDs: []string{"a", "b", "n"}, wantText: "连续 3 天"},
		{name: "13.9 exactly does not count",
			history: []observation.Reading{high("a", "2026-04-29 07:00"), glucose("b", "2026-04-30 07:00", 13.9, observation.GlucoseFasting)},
			reading: high("n", "2026-05-01 07:00"), want: ""},
		{name: "a day without a fasting reading breaks the run",
			history: []observation.Reading{high("a", "2026-04-28 07:00"), high("b", "2026-04-29 07:00"), glucose("x", "2026-04-30 12:00", 16, observation.GlucoseAfterMeal)},
			reading: high("n", "2026-05-01 07:00"), want: ""},
		{name: "after-meal values never start the fasting rule",
			history: []observation.Reading{high("a", "2026-04-29 07:00"), high("b", "2026-04-30 07:00")},
			reading: glucose("n", "2026-05-01 09:00", 16, observation.GlucoseAfterMeal), want: ""},
		{name: "a non-fasting value above 16.7 is high on its own", reading: glucose("n", "2026-05-01 21:00", 18.2, observation.GlucoseBedtime),
			want: "glucose_random_high/high", wantText: "非空腹血糖 18.2"},
		{name: "a fasting value above 16.7 is not a random-glucose finding", reading: glucose("n", "2026-05-01 07:00", 18.2, observation.GlucoseFasting), want: ""},
		{name: "random high off", th: func(th *alert.Thresholds) { th.GlucoseRandomHigh = 0 }, reading: glucose("n", "2026-05-01 21:00", 25, observation.GlucoseRandom), want: ""},
		{name: "a lower re-measure the same morning means the day does not count",
			history: []observation.Reading{high("a", "2026-04-29 07:00"), high("b", "2026-04-30 07:00"), glucose("b2", "2026-04-30 07:20", 11.0, observation.GlucoseFasting)},
			reading: high("n", "2026-05-01 07:00"), want: ""},
		{name: "days are Shanghai days: 07:00 on May 1 and 10:00 on May 2 and 3 (UTC Apr 30, May 2, May 3)",
			history: []observation.Reading{high("a", "2026-05-01 07:00"), high("b", "2026-05-02 10:00")},
			reading: high("n", "2026-05-03 10:00"), want: "glucose_fasting_high/high"},
		{name: "consecutive UTC days that are not consecutive Shanghai days (23:00 May 1, 07:00 and 08:00 May 3)",
			history: []observation.Reading{high("a", "2026-05-01 23:00"), high("b", "2026-05-03 07:00")},
			reading: high("n", "2026-05-03 08:00"), want: ""},
		{name: "a late reading for the middle day completes the run",
			history: []observation.Reading{high("a", "2026-04-29 07:00"), high("c", "2026-05-01 07:00")},
			reading: high("n", "2026-04-30 07:00"), want: "glucose_fasting_high/high", wantIDs: []string{"a", "n", "c"}},
	})
}

func TestPainRules(t *testing.T) {
	rest, move := observation.PainAtRest, observation.PainOnMovement
	runRuleCases(t, []ruleCase{
		{name: "7 is severe", reading: pain("n", "2026-05-01 09:00", 7, rest), want: "pain_high/high", wantText: "重度疼痛"},
		{name: "6 alone is not", reading: pain("n", "2026-05-01 09:00", 6, rest), want: ""},
		{name: "a rise of 3 from yesterday",
			history: []observation.Reading{pain("y", "2026-04-30 20:00", 3, rest)},
			reading: pain("n", "2026-05-01 09:00", 6, rest), want: "pain_rise/medium", wantIDs: []string{"y", "n"}, wantText: "上升 3 分"},
		{name: "a rise of 2 is not enough",
			history: []observation.Reading{pain("y", "2026-04-30 20:00", 3, rest)},
			reading: pain("n", "2026-05-01 09:00", 5, rest), want: ""},
		{name: "movement is not compared with rest",
			history: []observation.Reading{pain("y", "2026-04-30 20:00", 2, rest)},
			reading: pain("n", "2026-05-01 09:00", 6, move), want: ""},
		{name: "yesterday's last score is the reference",
			history: []observation.Reading{pain("y1", "2026-04-30 08:00", 5, rest), pain("y2", "2026-04-30 20:00", 2, rest)},
			reading: pain("n", "2026-05-01 09:00", 5, rest), want: "pain_rise/medium", wantIDs: []string{"y2", "n"}},
		{name: "severe wins over a rise",
			history: []observation.Reading{pain("y", "2026-04-30 20:00", 2, rest)},
			reading: pain("n", "2026-05-01 09:00", 8, rest), want: "pain_high/high"},
		{name: "23:59 and 00:01 in Shanghai are different days (same UTC day)",
			history: []observation.Reading{pain("y", "2026-04-30 23:59", 2, rest)},
			reading: pain("n", "2026-05-01 00:01", 5, rest), want: "pain_rise/medium"},
		{name: "00:01 and 23:59 of one Shanghai day are the same day (different UTC days)",
			history: []observation.Reading{pain("y", "2026-05-01 00:01", 2, rest)},
			reading: pain("n", "2026-05-01 23:59", 5, rest), want: ""},
		{name: "two days ago does not count as the previous day",
			history: []observation.Reading{pain("y", "2026-04-29 20:00", 2, rest)},
			reading: pain("n", "2026-05-01 09:00", 6, rest), want: ""},
		{name: "yesterday's score sent late is compared with today's",
			history: []observation.Reading{pain("t", "2026-05-01 09:00", 6, rest)},
			reading: pain("n", "2026-04-30 21:00", 2, rest), want: "pain_rise/medium", wantIDs: []string{"n", "t"}},
	})
}

func TestWeightGainRule(t *testing.T) {
	hf := func(th *alert.Thresholds) { th.WeightGainKg3d = alert.HeartFailureWeightGainKg }
	runRuleCases(t, []ruleCase{
		{name: "off unless a heart-failure pathway or the CM turns it on",
			history: []observation.Reading{weight("a", "2026-04-28 07:00", 70)},
			reading: weight("n", "2026-05-01 07:00", 75), want: ""},
		{name: "2 kg between the mornings of day 1 and day 4 (more than 72 hours)", th: hf,
			history: []observation.Reading{weight("a", "2026-04-28 07:00", 70), weight("b", "2026-04-29 07:10", 70.8)},
			reading: weight("n", "2026-05-01 07:30", 72), want: "weight_gain/high", wantIDs: []string{"a", "n"}, wantText: "增加 2 kg"},
		{name: "1.9 kg is not enough", th: hf,
			history: []observation.Reading{weight("a", "2026-04-28 07:00", 70)},
			reading: weight("n", "2026-05-01 07:00", 71.9), want: ""},
		{name: "the lowest weight of the window is the reference", th: hf,
			history: []observation.Reading{weight("a", "2026-04-28 07:00", 71), weight("b", "2026-04-29 07:00", 69.5), weight("c", "2026-04-30 07:00", 70.5)},
			reading: weight("n", "2026-05-01 07:00", 71.6), want: "weight_gain/high", wantIDs: []string{"b", "n"}},
		{name: "00:01 on day 1 to 23:59 on day 4 in Shanghai is within 3 days", th: hf,
			history: []observation.Reading{weight("a", "2026-04-28 00:01", 70)},
			reading: weight("n", "2026-05-01 23:59", 72), want: "weight_gain/high"},
		{name: "23:59 on day 0 to 00:01 on day 4 in Shanghai is not (4 local days, 72h02m)", th: hf,
			history: []observation.Reading{weight("a", "2026-04-27 23:59", 70)},
			reading: weight("n", "2026-05-01 00:01", 72.5), want: ""},
		{name: "a loss is not a gain", th: hf,
			history: []observation.Reading{weight("a", "2026-04-29 07:00", 72)},
			reading: weight("n", "2026-05-01 07:00", 70), want: ""},
		{name: "an earlier weight sent late is compared with later ones", th: hf,
			history: []observation.Reading{weight("c", "2026-05-01 07:00", 72.1)},
			reading: weight("n", "2026-04-29 07:00", 70), want: "weight_gain/high", wantIDs: []string{"n", "c"}},
		{name: "a CM override of 1.5 kg", th: func(th *alert.Thresholds) { th.WeightGainKg3d = 1.5 },
			history: []observation.Reading{weight("a", "2026-04-30 07:00", 70)},
			reading: weight("n", "2026-05-01 07:00", 71.5), want: "weight_gain/high"},
	})
}

func single(id, typ, when string, v float64) observation.Reading {
	return observation.Reading{ID: id, Type: typ, MeasuredAt: at(when), Value: num(v)}
}

func TestSingleReadingRules(t *testing.T) {
	withPulse := bp("n", "2026-05-01 08:00", 125, 80)
	withPulse.Value3 = num(132)
	slowPulse := bp("n", "2026-05-01 08:00", 125, 80)
	slowPulse.Value3 = num(46)
	hf := func(th *alert.Thresholds) { th.HeartRateLow = 50 } // heart-failure pathway
	runRuleCases(t, []ruleCase{
		{name: "systolic below 90 is low", reading: bp("n", "2026-05-01 08:00", 86, 60), want: "bp_low/high", wantText: "低血压"},
		{name: "systolic 90 is not", reading: bp("n", "2026-05-01 08:00", 90, 60), want: ""},
		{name: "a hypertension pathway's 100", th: func(th *alert.Thresholds) { th.BPSystolicLow = 100 }, reading: bp("n", "2026-05-01 08:00", 96, 62), want: "bp_low/high"},
		{name: "fever at 38.5", reading: single("n", observation.TypeTemperature, "2026-05-01 20:00", 38.5), want: "fever/high", wantText: "38.5"},
		{name: "38.2 is not a fever by default", reading: single("n", observation.TypeTemperature, "2026-05-01 20:00", 38.2), want: ""},
		{name: "38.2 is a fever after chemotherapy (38.0)", th: func(th *alert.Thresholds) { th.TemperatureHigh = 38 }, reading: single("n", observation.TypeTemperature, "2026-05-01 20:00", 38.2), want: "fever/high"},
		{name: "SpO2 below 90 is critical", reading: single("n", observation.TypeSpO2, "2026-05-01 20:00", 88), want: "spo2_low/critical", wantText: "88%"},
		{name: "SpO2 90 is not", reading: single("n", observation.TypeSpO2, "2026-05-01 20:00", 90), want: ""},
		{name: "heart rate above 120", reading: single("n", observation.TypeHeartRate, "2026-05-01 20:00", 125), want: "heart_rate_high/high"},
		{name: "heart rate 45 is fine by default", reading: single("n", observation.TypeHeartRate, "2026-05-01 20:00", 45), want: ""},
		{name: "heart rate 45 is slow on beta-blocker titration", th: hf, reading: single("n", observation.TypeHeartRate, "2026-05-01 20:00", 45), want: "heart_rate_low/high"},
		{name: "the pulse of a blood-pressure reading counts", reading: withPulse, want: "heart_rate_high/high"},
		{name: "a slow pulse with the heart-failure threshold", th: hf, reading: slowPulse, want: "heart_rate_low/high"},
	})
}

func TestNoReportRule(t *testing.T) {
	daily := alert.Expectation{Type: observation.TypeBloodPressure, EveryDays: 1, Since: at("2026-04-01 10:00")}
	weekly := alert.Expectation{Type: observation.TypeWeight, EveryDays: 7, Since: at("2026-04-01 10:00")}
	last := func(s string) *time.Time { t := at(s); return &t }
	cases := []struct {
		name string
		th   func(*alert.Thresholds)
		exp  alert.Expectation
		last *time.Time
		now  string
		want bool
		text string
	}{
		{name: "daily: three whole days missed, at 00:00 of the fourth", exp: daily, last: last("2026-05-01 20:00"), now: "2026-05-05 00:00", want: true, text: "已 3 天未上报"},
		{name: "daily: not yet at 23:59 of the third", exp: daily, last: last("2026-05-01 20:00"), now: "2026-05-04 23:59", want: false},
		{name: "days are Shanghai days: 07:00 May 1 to 09:00 May 4 is three local days (four UTC days)", exp: daily, last: last("2026-05-01 07:00"), now: "2026-05-04 09:00", want: false},
		{name: "weekly: due on day 7, three days past due on day 10", exp: weekly, last: last("2026-05-01 08:00"), now: "2026-05-11 08:00", want: true},
		{name: "weekly: not on day 9", exp: weekly, last: last("2026-05-01 08:00"), now: "2026-05-10 23:00", want: false},
		{name: "never reported counts from the start of the plan", exp: daily, now: "2026-04-05 00:30", want: true, text: "自计划开始以来未上报"},
		{name: "never reported, plan started yesterday", exp: daily, now: "2026-04-02 12:00", want: false},
		{name: "no_report_days 0 turns it off", th: func(th *alert.Thresholds) { th.NoReportDays = 0 }, exp: daily, last: last("2026-04-01 08:00"), now: "2026-05-01 08:00", want: false},
		{name: "a CM override of 7 days", th: func(th *alert.Thresholds) { th.NoReportDays = 7 }, exp: daily, last: last("2026-05-01 08:00"), now: "2026-05-06 08:00", want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := alert.Defaults()
			if tc.th != nil {
				tc.th(&th)
			}
			f := alert.EvaluateNoReport(th, tc.exp, tc.last, at(tc.now), shanghai)
			if (f != nil) != tc.want {
				t.Fatalf("got %+v, want finding=%v", f, tc.want)
			}
			if f != nil && (f.Rule != alert.RuleNoReport || f.Severity != alert.SeverityMedium || f.Kind != "no_report:"+tc.exp.Type || !strings.Contains(f.Summary, tc.text)) {
				t.Fatalf("finding %+v, want no_report/medium mentioning %q", f, tc.text)
			}
		})
	}
}

func TestOverridesValidate(t *testing.T) {
	cases := []struct {
		o         alert.Overrides
		wantField string
	}{
		{alert.Overrides{"bp_systolic_high": 150, "weight_gain_kg_3d": 2}, ""},
		{alert.Overrides{"weight_gain_kg_3d": 0, "no_report_days": 0}, ""},
		{alert.Overrides{"bp_systolic_high": 0}, "overrides.bp_systolic_high"},
		{alert.Overrides{"glucose_low_critical": 1}, "overrides.glucose_low_critical"},
		{alert.Overrides{"cholesterol": 5}, "overrides.cholesterol"},
	}
	for _, tc := range cases {
		err := tc.o.Validate()
		field := ""
		if err != nil {
			if e, ok := errAs(err); ok {
				field, _ = e["field"].(string)
			}
		}
		if field != tc.wantField {
			t.Errorf("%v: error %v on %q, want %q", tc.o, err, field, tc.wantField)
		}
	}
	th := alert.Defaults().With(alert.Overrides{"pain_high": 6})
	if th.PainHigh != 6 || th.BPSystolicCritical != 180 || th.WeightGainKg3d != 0 || th.NoReportDays != 3 {
		t.Fatalf("defaults with override: %+v", th)
	}
}
