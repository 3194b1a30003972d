package questionnaire_test

import (
	"encoding/json"
	"testing"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/questionnaire"
)

// fuzzQuestionnaire is a small valid questionnaire with every item type and
// scoring rule. The shipped files are not seeds: every input the fuzzer finds
// interesting is minimised first, and minimising kilobyte documents took most
// of a run (execs stalled at 0/sec). The library tests parse the shipped files.
const fuzzQuestionnaire = `key: q
name: 问卷
version: 1
source: s
items:
  - {key: a, type: single, text: 单选, required: true, options: &o [{value: "0", label: 否, score: 0}, {value: "1", label: 是, score: 1}]}
  - {key: b, type: multiple, text: 多选, options: *o}
  - {key: c, type: scale, text: 评分, min: 0, max: 10, required: true}
  - {key: d, type: number, text: 次数, min: 0, max: 20, unit: 次}
  - {key: e, type: text, text: 其他, max_length: 50}
scoring:
  method: sum
  items: [a, c]
  bands: [{min: 0, max: 5, label: low, name: 低}, {min: 6, max: 11, label: high, name: 高}]
  alert: {at_least: 6}
`

// FuzzParse: any questionnaire YAML (an admin may load one) is either
// refused with an error or yields a definition with a key; never a panic.
func FuzzParse(f *testing.F) {
	if _, err := questionnaire.Parse("seed.yaml", []byte(fuzzQuestionnaire)); err != nil {
		f.Fatalf("the seed questionnaire must be valid: %v", err)
	}
	f.Add([]byte(fuzzQuestionnaire))
	f.Add([]byte("key: x\nitems: [{key: a, type: single, options: []}]\n"))
	f.Add([]byte("key: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := questionnaire.Parse("fuzz.yaml", b)
		if err == nil && (d == nil || d.Key == "") {
			t.Fatalf("accepted a definition without a key: %+v", d)
		}
	})
}

// FuzzCheckAnswers: any answers body to any shipped questionnaire is either
// refused or scored; never a panic.
func FuzzCheckAnswers(f *testing.F) {
	lib, err := questionnaire.Load(configs.Files, "questionnaires")
	if err != nil {
		f.Fatal(err)
	}
	defs := lib.All()
	f.Add(uint8(0), []byte(`{"q1":3}`))
	f.Add(uint8(1), []byte(`{"q1":"a","q2":["x","y"],"q3":null}`))
	f.Add(uint8(2), []byte(`{"q1":1e999}`))
	f.Add(uint8(3), []byte(`{"":{}}`))
	f.Add(uint8(4), []byte(`{"q1":-1,"q2":"很好"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		d := defs[int(which)%len(defs)]
		var raw map[string]json.RawMessage
		if json.Unmarshal(body, &raw) != nil {
			return
		}
		answers, err := questionnaire.CheckAnswers(d, raw)
		if err != nil {
			return
		}
		questionnaire.Score(d, answers)
	})
}
