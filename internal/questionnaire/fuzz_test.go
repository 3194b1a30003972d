package questionnaire_test

import (
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/questionnaire"
)

// FuzzParse: any questionnaire YAML (an admin may load one) is either
// refused with an error or yields a definition with a key; never a panic.
func FuzzParse(f *testing.F) {
	files, _ := fs.Glob(configs.Files, "questionnaires/*.yaml")
	for _, name := range files {
		b, _ := fs.ReadFile(configs.Files, name)
		f.Add(b)
	}
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
