package observation_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/observation"
)

// FuzzNormalize feeds arbitrary report bodies to the validation of a
// reading: it must never panic, and what it accepts keeps the reported type
// and a measurement time no later than now.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		`{"type":"blood_pressure","measured_at":"2026-03-01T08:00:00+08:00","systolic":128,"diastolic":82,"pulse":70}`,
		`{"type":"glucose","value":7.8,"unit":"mmol/L","context":"fasting"}`,
		`{"type":"pain","score":6,"location":"knee"}`,
		`{"type":"weight","value":70.5,"unit":"kg"}`,
		`{"type":"body_temperature","value":38.5}`,
		`{"type":"spo2","value":93}`,
		`{"type":"heart_rate","value":130}`,
		`{"type":"symptoms","symptoms":["fever","bleeding"]}`,
		`{"type":"note","note":"今天感觉不错"}`,
		`{"type":"blood_pressure","systolic":1e308,"diastolic":-1}`,
		`{"type":"glucose","value":5,"unit":"mg/dL","measured_at":"9999-12-31T23:59:59Z"}`,
	} {
		f.Add([]byte(s))
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var in observation.Input
		if json.Unmarshal(body, &in) != nil {
			return
		}
		r, err := observation.Normalize(in, observation.DefaultSymptoms, now, loc)
		if err != nil {
			return
		}
		if r.Type != in.Type {
			t.Fatalf("type %q became %q", in.Type, r.Type)
		}
		if r.MeasuredAt.After(now.Add(10 * time.Minute)) {
			t.Fatalf("accepted a reading from the future: %v", r.MeasuredAt)
		}
	})
}
