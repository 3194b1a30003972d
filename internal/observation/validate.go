package observation

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// inputFields returns the input's measured fields, in component order for t.
func (in Input) componentFields(t string) []namedValue {
	switch t {
	case TypeBloodPressure:
		return []namedValue{{"systolic", in.Systolic}, {"diastolic", in.Diastolic}, {"pulse", in.Pulse}}
	case TypePain:
		return []namedValue{{"score", in.Score}}
	case TypeSymptoms, TypeNote:
		return nil
	default:
		return []namedValue{{"value", in.Value}}
	}
}

type namedValue struct {
	field string
	v     *float64
}

// allNumeric lists every numeric input field, to reject those a type does not use.
func (in Input) allNumeric() []namedValue {
	return []namedValue{{"systolic", in.Systolic}, {"diastolic", in.Diastolic}, {"pulse", in.Pulse}, {"score", in.Score}, {"value", in.Value}}
}

func invalid(field, code, format string, args ...any) *apperr.Error {
	return apperr.Invalid(field, code, fmt.Sprintf(format, args...))
}

// Normalize validates in and turns it into a reading in canonical units. It
// is a pure function of its inputs: checklist is the patient's symptom
// checklist, now the clock, loc the hospital's zone (for LocalDay).
func Normalize(in Input, checklist []Symptom, now time.Time, loc *time.Location) (Reading, error) {
	spec, ok := SpecOf(in.Type)
	if !ok {
		if in.Type == "" {
			return Reading{}, invalid("type", "missing_field", "缺少必填字段 type（数据类型）")
		}
		return Reading{}, invalid("type", "unknown_type", "未知的数据类型 %q，可选：%s", in.Type, strings.Join(Types, "、"))
	}
	measured, err := parseMeasuredAt(in.MeasuredAt, now)
	if err != nil {
		return Reading{}, err
	}
	r := Reading{
		Type: spec.Type, Code: spec.LOINC, MeasuredAt: measured, LocalDay: measured.In(loc).Format(time.DateOnly),
		Source: SourceManual, ClientID: in.ID,
	}
	if err := checkApplicable(in, spec); err != nil {
		return Reading{}, err
	}
	if spec.Numeric() {
		if err := measure(in, spec, &r); err != nil {
			return Reading{}, err
		}
	}
	if len(spec.Contexts) > 0 {
		if in.Context == "" {
			return Reading{}, invalid("context", "missing_field", "缺少必填字段 context（%s的测量情境），可选：%s", spec.Label, strings.Join(spec.Contexts, "、"))
		}
		if !slices.Contains(spec.Contexts, in.Context) {
			return Reading{}, invalid("context", "invalid_context", "%s的测量情境必须是以下之一：%s", spec.Label, strings.Join(spec.Contexts, "、"))
		}
		r.Context = in.Context
	}
	if in.Location != "" {
		if utf8.RuneCountInString(in.Location) > maxLocation {
			return Reading{}, invalid("location", "too_long", "疼痛部位不能超过 %d 个字", maxLocation)
		}
		r.Location = strings.TrimSpace(in.Location)
	}
	if spec.Type == TypeSymptoms {
		codes, err := checkSymptoms(in.Symptoms, checklist)
		if err != nil {
			return Reading{}, err
		}
		r.Symptoms = strings.Join(codes, ",")
	}
	r.Note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(r.Note) > maxNoteRunes {
		return Reading{}, invalid("note", "too_long", "备注不能超过 %d 个字", maxNoteRunes)
	}
	if spec.Type == TypeNote && r.Note == "" {
		return Reading{}, invalid("note", "missing_field", "缺少必填字段 note（备注内容）")
	}
	switch in.Source {
	case "", SourceManual:
	case SourceDevice:
		r.Source = SourceDevice
	default:
		return Reading{}, invalid("source", "invalid_source", "source 必须是 manual（手动录入）或 device（设备上传）")
	}
	if utf8.RuneCountInString(in.Device) > maxDeviceRunes {
		return Reading{}, invalid("device", "too_long", "设备名称不能超过 %d 个字", maxDeviceRunes)
	}
	r.Device = in.Device
	return r, nil
}

func parseMeasuredAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, invalid("measured_at", "missing_field", "缺少必填字段 measured_at（测量时间）")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid("measured_at", "invalid_measured_at", "measured_at 必须是带时区的 RFC 3339 时间，例如 2026-05-01T08:30:00+08:00")
	}
	// Second precision: enough for a home reading, and identical on every database.
	t = t.UTC().Truncate(time.Second)
	if t.After(now.Add(FutureSkew)) {
		return time.Time{}, invalid("measured_at", "measured_at_in_future", "测量时间不能晚于当前时间")
	}
	if t.Before(now.Add(-MaxAge)) {
		return time.Time{}, invalid("measured_at", "measured_at_too_old", "测量时间不能早于 30 天前")
	}
	return t, nil
}

// checkApplicable rejects fields the type does not use, so that a client bug
// (a glucose value sent as blood pressure) is caught instead of half-stored.
func checkApplicable(in Input, spec Spec) error {
	uses := map[string]bool{}
	for _, f := range in.componentFields(spec.Type) {
		uses[f.field] = true
	}
	for _, f := range in.allNumeric() {
		if f.v != nil && !uses[f.field] {
			return invalid(f.field, "field_not_applicable", "字段 %s 不适用于%s（%s）", f.field, spec.Label, spec.Type)
		}
	}
	other := []struct {
		field string
		set   bool
		ok    bool
	}{
		{"unit", in.Unit != "", spec.Numeric()},
		{"context", in.Context != "", len(spec.Contexts) > 0},
		{"location", in.Location != "", spec.Type == TypePain},
		{"symptoms", len(in.Symptoms) > 0, spec.Type == TypeSymptoms},
	}
	for _, o := range other {
		if o.set && !o.ok {
			return invalid(o.field, "field_not_applicable", "字段 %s 不适用于%s（%s）", o.field, spec.Label, spec.Type)
		}
	}
	return nil
}

// measure converts and bounds-checks the components into r.
func measure(in Input, spec Spec, r *Reading) error {
	convert := spec.Units[spec.Components[0].Unit]
	if in.Unit != "" {
		c, ok := spec.Units[in.Unit]
		if !ok {
			return invalid("unit", "invalid_unit", "单位 %q 不适用于%s，可选：%s", in.Unit, spec.Label, strings.Join(spec.UnitLabels, "、"))
		}
		convert = c
	}
	fields := in.componentFields(spec.Type)
	values := make([]*float64, len(spec.Components))
	for i, comp := range spec.Components {
		f := fields[i]
		if f.v == nil {
			if comp.Optional {
				continue
			}
			return invalid(f.field, "missing_field", "缺少必填字段 %s（%s）", f.field, comp.Label)
		}
		raw := *f.v
		if math.IsNaN(raw) || math.IsInf(raw, 0) {
			return invalid(f.field, "out_of_range", "%s的数值无效", comp.Label)
		}
		if comp.Integer && raw != math.Trunc(raw) {
			return invalid(f.field, "not_an_integer", "%s必须是整数", comp.Label)
		}
		v := round2(convert(raw))
		if v < comp.Min || v > comp.Max {
			return apperr.Invalid(f.field, "out_of_range", fmt.Sprintf("%s必须在 %g 到 %g %s 之间", comp.Label, comp.Min, comp.Max, unitLabel(comp.Unit))).
				WithDetail("min", comp.Min).WithDetail("max", comp.Max).WithDetail("unit", comp.Unit)
		}
		values[i] = &v
		if i == 0 && in.Unit != "" && in.Unit != comp.Unit && v != raw { // a conversion, not an alias (mmHg)
			orig := raw
			r.OrigValue, r.OrigUnit = &orig, in.Unit
		}
	}
	if spec.Type == TypeBloodPressure && *values[0] <= *values[1] {
		return invalid("systolic", "systolic_not_above_diastolic", "收缩压（高压）必须大于舒张压（低压）")
	}
	r.Unit = spec.Components[0].Unit
	r.Value = values[0]
	if len(values) > 1 {
		r.Value2 = values[1]
	}
	if len(values) > 2 {
		r.Value3 = values[2]
	}
	return nil
}

func unitLabel(ucum string) string {
	switch ucum {
	case "mm[Hg]":
		return "mmHg"
	case "Cel":
		return "°C"
	case "/min":
		return "次/分"
	case "{score}":
		return "分"
	}
	return ucum
}

func checkSymptoms(codes []string, checklist []Symptom) ([]string, error) {
	if len(codes) == 0 {
		return nil, invalid("symptoms", "missing_field", "缺少必填字段 symptoms（至少选择一项症状）")
	}
	if len(codes) > maxSymptoms {
		return nil, invalid("symptoms", "too_many", "一次最多上报 %d 项症状", maxSymptoms)
	}
	var out []string
	for _, c := range codes {
		if !slices.ContainsFunc(checklist, func(s Symptom) bool { return s.Code == c }) {
			return nil, invalid("symptoms", "unknown_symptom", "症状 %q 不在该患者的症状清单中", c)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
