package alert

import (
	"fmt"
	"sort"
	"time"

	"github.com/carepath/carepath/internal/observation"
)

// Severities, most urgent first.
const (
	SeverityCritical = "critical" // act now: the patient is told to call 120 if it persists
	SeverityHigh     = "high"     // the CM calls the patient today
	SeverityMedium   = "medium"   // the CM follows up
)

func severityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 3
	case SeverityHigh:
		return 2
	case SeverityMedium:
		return 1
	}
	return 0
}

// Rules.
const (
	RuleBPCritical         = "bp_critical"
	RuleBPHigh             = "bp_high"
	RuleGlucoseLow         = "glucose_low"
	RuleGlucoseFastingHigh = "glucose_fasting_high"
	RulePainHigh           = "pain_high"
	RulePainRise           = "pain_rise"
	RuleWeightGain         = "weight_gain"
	RuleNoReport           = "no_report"
	RuleBPLow              = "bp_low"
	RuleGlucoseRandomHigh  = "glucose_random_high"
	RuleFever              = "fever"
	RuleSpO2Low            = "spo2_low"
	RuleHeartRateHigh      = "heart_rate_high"
	RuleHeartRateLow       = "heart_rate_low"
)

// Rule windows.
const (
	// bpHighReadings elevated readings in a row, within bpHighWindow, raise bp_high.
	bpHighReadings = 3
	bpHighWindow   = 7 * 24 * time.Hour
	// glucoseHighDays consecutive local days of fasting glucose above the threshold.
	glucoseHighDays = 3
	// weightWindowDays: "≥2 kg in 3 days" compares with the lowest weight of
	// the three local days before (and earlier the same day). Whole days, not
	// 72 hours: a patient weighing at 07:40 on Monday and 07:50 on Thursday
	// has gained it "in 3 days".
	weightWindowDays = 3
	// HistoryWindow is how far around a new reading the rules look.
	HistoryWindow = 8 * 24 * time.Hour
)

// Finding is what a rule concluded about a patient.
type Finding struct {
	Rule       string
	Kind       string // the fold group: one open alert per patient and kind
	Severity   string
	VitalType  string
	ReadingIDs []string
	Summary    string // zh-CN, for the CM: values and thresholds, never names
}

// kindOf groups rules whose alerts fold into one: a critical blood pressure
// escalates an open "high" blood-pressure alert instead of opening another.
func kindOf(rule, vitalType string) string {
	switch rule {
	case RuleBPCritical, RuleBPHigh:
		return "blood_pressure"
	case RuleGlucoseLow:
		return "glucose_low"
	case RuleGlucoseFastingHigh, RuleGlucoseRandomHigh:
		return "glucose_high"
	case RulePainHigh, RulePainRise:
		return "pain"
	case RuleWeightGain:
		return "weight_gain"
	case RuleNoReport:
		return "no_report:" + vitalType
	}
	return rule
}

func finding(rule, severity, vitalType, summary string, readings ...observation.Reading) Finding {
	ids := make([]string, 0, len(readings))
	for _, r := range readings {
		ids = append(ids, r.ID)
	}
	return Finding{Rule: rule, Kind: kindOf(rule, vitalType), Severity: severity, VitalType: vitalType, ReadingIDs: ids, Summary: summary}
}

// day is a local calendar day in the hospital's zone, as a day number
// (days since 1970-01-01): subtraction gives whole days whatever the zone.
func day(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// EvaluateReading applies every reading rule to r, given the patient's other
// readings of the same type around it (see HistoryWindow; r itself may be
// among them). It returns at most one finding per kind, the most severe. It
// considers readings after r too, so a reading sent late from an offline
// queue completes a run it belongs to.
func EvaluateReading(th Thresholds, r observation.Reading, history []observation.Reading, loc *time.Location) []Finding {
	all := make([]observation.Reading, 0, len(history)+1)
	all = append(all, r)
	for _, h := range history {
		if h.ID != r.ID && h.Type == r.Type {
			all = append(all, h)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].MeasuredAt.Equal(all[j].MeasuredAt) {
			return all[i].MeasuredAt.Before(all[j].MeasuredAt)
		}
		return all[i].ID < all[j].ID
	})
	var found []*Finding
	switch r.Type {
	case observation.TypeBloodPressure:
		found = append(found, bloodPressure(th, r, all), bpLow(th, r))
		found = append(found, heartRate(th, r, r.Value3)...) // the monitor's pulse
	case observation.TypeGlucose:
		found = append(found, glucoseLow(th, r), glucoseFastingHigh(th, r, all, loc), glucoseRandomHigh(th, r))
	case observation.TypePain:
		found = append(found, painHigh(th, r), painRise(th, r, all, loc))
	case observation.TypeWeight:
		found = append(found, weightGain(th, r, all, loc))
	case observation.TypeTemperature:
		found = append(found, fever(th, r))
	case observation.TypeSpO2:
		found = append(found, spo2Low(th, r))
	case observation.TypeHeartRate:
		found = append(found, heartRate(th, r, r.Value)...)
	}
	return mostSevere(found)
}

func mostSevere(found []*Finding) []Finding {
	byKind := map[string]Finding{}
	var order []string
	for _, f := range found {
		if f == nil {
			continue
		}
		cur, ok := byKind[f.Kind]
		if !ok {
			order = append(order, f.Kind)
		}
		if !ok || severityRank(f.Severity) > severityRank(cur.Severity) {
			byKind[f.Kind] = *f
		}
	}
	out := make([]Finding, 0, len(order))
	for _, k := range order {
		out = append(out, byKind[k])
	}
	return out
}

func bloodPressure(th Thresholds, r observation.Reading, all []observation.Reading) *Finding {
	sys, dia := val(r.Value), val(r.Value2)
	if sys >= th.BPSystolicCritical || dia >= th.BPDiastolicCritical {
		f := finding(RuleBPCritical, SeverityCritical, r.Type,
			fmt.Sprintf("血压 %g/%g mmHg，达到危急值（≥%g/%g mmHg）", sys, dia, th.BPSystolicCritical, th.BPDiastolicCritical), r)
		return &f
	}
	elevated := func(x observation.Reading) bool {
		return val(x.Value) >= th.BPSystolicHigh || val(x.Value2) >= th.BPDiastolicHigh
	}
	if !elevated(r) {
		return nil
	}
	i := indexOf(all, r.ID)
	// Every run of bpHighReadings consecutive readings that contains r.
	for start := i - bpHighReadings + 1; start <= i; start++ {
		end := start + bpHighReadings - 1
		if start < 0 || end >= len(all) {
			continue
		}
		run := all[start : end+1]
		if run[len(run)-1].MeasuredAt.Sub(run[0].MeasuredAt) > bpHighWindow {
			continue
		}
		ok := true
		for _, x := range run {
			ok = ok && elevated(x)
		}
		if ok {
			f := finding(RuleBPHigh, SeverityHigh, r.Type,
				fmt.Sprintf("连续 %d 次血压偏高（≥%g/%g mmHg），最近一次 %g/%g mmHg", bpHighReadings, th.BPSystolicHigh, th.BPDiastolicHigh, sys, dia), run...)
			return &f
		}
	}
	return nil
}

func indexOf(all []observation.Reading, id string) int {
	for i, x := range all {
		if x.ID == id {
			return i
		}
	}
	return -1
}

func glucoseLow(th Thresholds, r observation.Reading) *Finding {
	if v := val(r.Value); v < th.GlucoseLowCritical {
		f := finding(RuleGlucoseLow, SeverityCritical, r.Type, fmt.Sprintf("血糖 %g mmol/L，低于 %g mmol/L（低血糖）", v, th.GlucoseLowCritical), r)
		return &f
	}
	return nil
}

// glucoseFastingHigh: fasting glucose above the threshold on glucoseHighDays
// consecutive local days. A day counts when every fasting reading of it is
// above (a lower re-measure the same morning suggests the first was wrong).
func glucoseFastingHigh(th Thresholds, r observation.Reading, all []observation.Reading, loc *time.Location) *Finding {
	if r.Context != observation.GlucoseFasting || val(r.Value) <= th.GlucoseFastingHigh {
		return nil
	}
	days := map[int][]observation.Reading{}
	for _, x := range all {
		if x.Context == observation.GlucoseFasting {
			d := day(x.MeasuredAt, loc)
			days[d] = append(days[d], x)
		}
	}
	high := func(d int) bool {
		rs := days[d]
		for _, x := range rs {
			if val(x.Value) <= th.GlucoseFastingHigh {
				return false
			}
		}
		return len(rs) > 0
	}
	d := day(r.MeasuredAt, loc)
	for first := d - glucoseHighDays + 1; first <= d; first++ {
		ok := true
		var run []observation.Reading
		for k := first; k < first+glucoseHighDays; k++ {
			ok = ok && high(k)
			run = append(run, days[k]...)
		}
		if ok {
			f := finding(RuleGlucoseFastingHigh, SeverityHigh, r.Type,
				fmt.Sprintf("连续 %d 天空腹血糖 >%g mmol/L，最近一次 %g mmol/L", glucoseHighDays, th.GlucoseFastingHigh, val(r.Value)), run...)
			return &f
		}
	}
	return nil
}

func painHigh(th Thresholds, r observation.Reading) *Finding {
	if v := val(r.Value); v >= th.PainHigh {
		f := finding(RulePainHigh, SeverityHigh, r.Type, fmt.Sprintf("疼痛评分 %g 分（≥%g 分，重度疼痛）%s", v, th.PainHigh, painWhere(r)), r)
		return &f
	}
	return nil
}

func painWhere(r observation.Reading) string {
	s := ""
	switch r.Context {
	case observation.PainAtRest:
		s = "，静息时"
	case observation.PainOnMovement:
		s = "，活动时"
	}
	if r.Location != "" {
		s += "，部位：" + r.Location
	}
	return s
}

// painRise compares a score with the last score of the previous local day in
// the same context (pain on movement is not compared with pain at rest).
// When r arrives late it may also be the "previous day" of a later score.
func painRise(th Thresholds, r observation.Reading, all []observation.Reading, loc *time.Location) *Finding {
	lastOfDay := func(d int) *observation.Reading {
		var last *observation.Reading
		for i := range all {
			x := &all[i]
			if x.Context == r.Context && day(x.MeasuredAt, loc) == d {
				last = x // all is sorted by time
			}
		}
		return last
	}
	d := day(r.MeasuredAt, loc)
	rise := func(prev, cur observation.Reading) *Finding {
		if val(cur.Value)-val(prev.Value) < th.PainRise {
			return nil
		}
		f := finding(RulePainRise, SeverityMedium, r.Type,
			fmt.Sprintf("疼痛评分较前一日上升 %g 分（%g → %g 分）%s", val(cur.Value)-val(prev.Value), val(prev.Value), val(cur.Value), painWhere(cur)), prev, cur)
		return &f
	}
	if prev := lastOfDay(d - 1); prev != nil {
		if f := rise(*prev, r); f != nil {
			return f
		}
	}
	if last := lastOfDay(d); last != nil && last.ID == r.ID {
		for _, next := range all {
			if next.Context == r.Context && day(next.MeasuredAt, loc) == d+1 {
				if f := rise(r, next); f != nil {
					return f
				}
			}
		}
	}
	return nil
}

// weightGain: a weight at least WeightGainKg3d above the lowest weight
// measured earlier within weightWindowDays local days (heart failure).
func weightGain(th Thresholds, r observation.Reading, all []observation.Reading, loc *time.Location) *Finding {
	if th.WeightGainKg3d <= 0 {
		return nil
	}
	const eps = 1e-9
	d := day(r.MeasuredAt, loc)
	var low, high *observation.Reading
	for i := range all {
		x := &all[i]
		xd := day(x.MeasuredAt, loc)
		if x.MeasuredAt.Before(r.MeasuredAt) && xd >= d-weightWindowDays && (low == nil || val(x.Value) < val(low.Value)) {
			low = x
		}
		if x.MeasuredAt.After(r.MeasuredAt) && xd <= d+weightWindowDays && (high == nil || val(x.Value) > val(high.Value)) {
			high = x
		}
	}
	gain := func(from, to observation.Reading) *Finding {
		g := round2(val(to.Value) - val(from.Value))
		if g+eps < th.WeightGainKg3d {
			return nil
		}
		f := finding(RuleWeightGain, SeverityHigh, r.Type,
			fmt.Sprintf("%d 天内体重增加 %g kg（%g → %g kg，阈值 %g kg），警惕心衰加重", weightWindowDays, g, val(from.Value), val(to.Value), th.WeightGainKg3d), from, to)
		return &f
	}
	if low != nil {
		if f := gain(*low, r); f != nil {
			return f
		}
	}
	if high != nil {
		return gain(r, *high)
	}
	return nil
}

func round2(v float64) float64 {
	if v < 0 {
		return -round2(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}

// Single-reading rules; a zero threshold turns each off.

func bpLow(th Thresholds, r observation.Reading) *Finding {
	if sys := val(r.Value); th.BPSystolicLow > 0 && sys < th.BPSystolicLow {
		f := finding(RuleBPLow, SeverityHigh, r.Type, fmt.Sprintf("收缩压 %g mmHg，低于 %g mmHg（低血压）", sys, th.BPSystolicLow), r)
		return &f
	}
	return nil
}

func glucoseRandomHigh(th Thresholds, r observation.Reading) *Finding {
	if v := val(r.Value); r.Context != observation.GlucoseFasting && th.GlucoseRandomHigh > 0 && v > th.GlucoseRandomHigh {
		f := finding(RuleGlucoseRandomHigh, SeverityHigh, r.Type, fmt.Sprintf("非空腹血糖 %g mmol/L，高于 %g mmol/L", v, th.GlucoseRandomHigh), r)
		return &f
	}
	return nil
}

func fever(th Thresholds, r observation.Reading) *Finding {
	if v := val(r.Value); th.TemperatureHigh > 0 && v >= th.TemperatureHigh {
		f := finding(RuleFever, SeverityHigh, r.Type, fmt.Sprintf("体温 %g °C（≥%g °C，发热）", v, th.TemperatureHigh), r)
		return &f
	}
	return nil
}

func spo2Low(th Thresholds, r observation.Reading) *Finding {
	if v := val(r.Value); th.SpO2Low > 0 && v < th.SpO2Low {
		f := finding(RuleSpO2Low, SeverityCritical, r.Type, fmt.Sprintf("血氧饱和度 %g%%，低于 %g%%（低氧）", v, th.SpO2Low), r)
		return &f
	}
	return nil
}

// heartRate checks a heart rate (a heart-rate reading, or the pulse a
// blood-pressure monitor measured).
func heartRate(th Thresholds, r observation.Reading, rate *float64) []*Finding {
	if rate == nil {
		return nil
	}
	v := *rate
	switch {
	case th.HeartRateHigh > 0 && v > th.HeartRateHigh:
		f := finding(RuleHeartRateHigh, SeverityHigh, observation.TypeHeartRate, fmt.Sprintf("心率 %g 次/分，高于 %g 次/分", v, th.HeartRateHigh), r)
		return []*Finding{&f}
	case th.HeartRateLow > 0 && v < th.HeartRateLow:
		f := finding(RuleHeartRateLow, SeverityHigh, observation.TypeHeartRate, fmt.Sprintf("心率 %g 次/分，低于 %g 次/分", v, th.HeartRateLow), r)
		return []*Finding{&f}
	}
	return nil
}

// Expectation is a plan's "report this type every N days", from Since on.
type Expectation struct {
	Type      string
	EveryDays int
	Since     time.Time // when the expectation began (enrolment, discharge)
}

// EvaluateNoReport says whether a report the plan expects is overdue: the
// alert fires once the patient has gone NoReportDays whole local days past
// the day the next report was due. last is the latest reading of the type
// (nil when there is none; Since then counts as the last report).
func EvaluateNoReport(th Thresholds, exp Expectation, last *time.Time, now time.Time, loc *time.Location) *Finding {
	if th.NoReportDays <= 0 || exp.EveryDays <= 0 {
		return nil
	}
	ref := exp.Since
	if last != nil && last.After(ref) {
		ref = *last
	}
	if ref.IsZero() {
		return nil
	}
	gap := day(now, loc) - day(ref, loc)
	if gap < exp.EveryDays+int(th.NoReportDays) {
		return nil
	}
	label := exp.Type
	if s, ok := observation.SpecOf(exp.Type); ok {
		label = s.Label
	}
	every := "每天"
	if exp.EveryDays > 1 {
		every = fmt.Sprintf("每 %d 天", exp.EveryDays)
	}
	what := "自计划开始以来未上报"
	if last != nil {
		what = fmt.Sprintf("已 %d 天未上报", gap-1)
	}
	f := finding(RuleNoReport, SeverityMedium, exp.Type, fmt.Sprintf("%s%s（计划%s上报一次）", label, what, every))
	return &f
}
