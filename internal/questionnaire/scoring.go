package questionnaire

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Result is a scored response.
type Result struct {
	Score    *float64 // nil when the questionnaire has no scoring items
	Band     string
	BandName string
	Alert    bool
}

// CheckAnswers validates raw answers (item key → JSON value) against the
// definition and returns them decoded: string for single and text,
// []string for multiple, float64 for scale and number. Errors name the
// field as answers.<key>.
func CheckAnswers(d *Definition, raw map[string]json.RawMessage) (map[string]any, error) {
	items := map[string]*Item{}
	for i := range d.Items {
		items[d.Items[i].Key] = &d.Items[i]
	}
	out := map[string]any{}
	for key, v := range raw {
		it := items[key]
		field := "answers." + key
		if it == nil {
			return nil, apperr.Invalid(field, "unknown_item", "问卷中没有该题目")
		}
		if string(v) == "null" {
			continue
		}
		val, err := decodeAnswer(it, v)
		if err != nil {
			if e, ok := apperr.As(err); ok {
				return nil, e.WithDetail("field", field)
			}
			return nil, err
		}
		out[key] = val
	}
	for _, it := range d.Items {
		if _, ok := out[it.Key]; it.Required && !ok {
			return nil, apperr.Invalid("answers."+it.Key, "answer_required", "该题为必答题")
		}
	}
	return out, nil
}

var (
	errWrongType  = apperr.New(apperr.KindInvalid, "answer_wrong_type", "答案类型与题目不符")
	errOutOfRange = apperr.New(apperr.KindInvalid, "answer_out_of_range", "答案超出允许范围")
)

func decodeAnswer(it *Item, v json.RawMessage) (any, error) {
	switch it.Type {
	case TypeSingle:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, errWrongType
		}
		if _, ok := it.option(s); !ok {
			return nil, errOutOfRange
		}
		return s, nil
	case TypeMultiple:
		var list []string
		if json.Unmarshal(v, &list) != nil {
			return nil, errWrongType
		}
		seen := map[string]bool{}
		for _, s := range list {
			if _, ok := it.option(s); !ok || seen[s] {
				return nil, errOutOfRange
			}
			seen[s] = true
		}
		if it.Required && len(list) == 0 {
			return nil, apperr.New(apperr.KindInvalid, "answer_required", "该题为必答题")
		}
		return list, nil
	case TypeScale, TypeNumber:
		var f float64
		if json.Unmarshal(v, &f) != nil || math.IsNaN(f) {
			return nil, errWrongType
		}
		if it.Type == TypeScale && f != math.Trunc(f) {
			return nil, errWrongType
		}
		if f < *it.Min || f > *it.Max {
			return nil, errOutOfRange
		}
		return f, nil
	case TypeText:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, errWrongType
		}
		s = strings.TrimSpace(s)
		if utf8.RuneCountInString(s) > it.MaxLength {
			return nil, errOutOfRange
		}
		return s, nil
	}
	return nil, fmt.Errorf("questionnaire: unknown item type %q", it.Type)
}

func (it *Item) option(value string) (Option, bool) {
	for _, o := range it.Options {
		if o.Value == value {
			return o, true
		}
	}
	return Option{}, false
}

// itemScore is the score of one checked answer.
func itemScore(it *Item, v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		o, _ := it.option(x)
		return o.Score
	case []string:
		total := 0.0
		for _, s := range x {
			o, _ := it.option(s)
			total += o.Score
		}
		return total
	}
	return 0
}

// maxItemScore is the highest score an item can give.
func maxItemScore(it *Item) float64 {
	switch it.Type {
	case TypeScale, TypeNumber:
		return *it.Max
	case TypeSingle:
		m := 0.0
		for _, o := range it.Options {
			m = math.Max(m, o.Score)
		}
		return m
	case TypeMultiple:
		total := 0.0
		for _, o := range it.Options {
			total += math.Max(o.Score, 0)
		}
		return total
	}
	return 0
}

// Score computes the result of checked answers (from CheckAnswers): the sum
// or maximum of the scoring items, rescaled (and inverted) when asked,
// rounded to one decimal, with its band and whether it alerts.
func Score(d *Definition, answers map[string]any) Result {
	s := d.Scoring
	if len(s.Items) == 0 {
		return Result{}
	}
	items := map[string]*Item{}
	for i := range d.Items {
		items[d.Items[i].Key] = &d.Items[i]
	}
	total, most, possible := 0.0, math.Inf(-1), 0.0
	for _, k := range s.Items {
		v := itemScore(items[k], answers[k])
		total += v
		most = math.Max(most, v)
		possible += maxItemScore(items[k])
	}
	score := total
	if s.Method == "max" {
		score = most
	}
	if s.ScaleTo > 0 && possible > 0 {
		score = score / possible * s.ScaleTo
		if s.Invert {
			score = s.ScaleTo - score
		}
	}
	score = math.Round(score*10) / 10
	r := Result{Score: &score}
	for _, b := range s.Bands {
		if score >= b.Min && score <= b.Max {
			r.Band, r.BandName = b.Label, b.Name
		}
	}
	a := s.Alert
	r.Alert = a.AtLeast != nil && score >= *a.AtLeast || a.Above != nil && score > *a.Above ||
		a.AtMost != nil && score <= *a.AtMost || a.Below != nil && score < *a.Below
	return r
}
