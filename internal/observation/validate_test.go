package observation_test

import (
	"testing"
	"time"

	"github.com/carepath/carepath/internal/observation"
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

func f(v float64) *float64 { return &v }

func TestNormalizeAcceptsEveryTypeInCanonicalUnits(t *testing.T) {
	now := time.Date(2026, 5, 10, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	at := "2026-05-09T23:30:00+08:00"
	cases := []struct {
		name                string
		in                  observation.Input
		wantCode, wantUnit  string
		want                []float64 // value, value2, value3 (absent = nil)
		wantOrig            *float64
		wantOrigUnit        string
		wantContext, wantSy string
	}{
		{"bp with pulse", observation.Input{Type: "blood_pressure", Systolic: f(150), Diastolic: f(95), Pulse: f(72)}, "85354-9", "mm[Hg]", []float64{150, 95, 72}, nil, "", "", ""},
		{"bp in mmHg alias, no pulse", observation.Input{Type: "blood_pressure", Systolic: f(120), Diastolic: f(80), Unit: "mmHg"}, "85354-9", "mm[Hg]", []float64{120, 80}, nil, "", "", ""},
		{"glucose mmol/L", observation.Input{Type: "glucose", Value: f(7.2), Context: "fasting"}, "14743-9", "mmol/L", []float64{7.2}, nil, "", "fasting", ""},
		{"glucose mg/dL divided by 18", observation.Input{Type: "glucose", Value: f(130), Unit: "mg/dL", Context: "after_meal"}, "14743-9", "mmol/L", []float64{7.22}, f(130), "mg/dL", "after_meal", ""},
		{"pain", observation.Input{Type: "pain", Score: f(6), Context: "movement", Location: "左膝"}, "72514-3", "{score}", []float64{6}, nil, "", "movement", ""},
		{"weight in pounds", observation.Input{Type: "weight", Value: f(154), Unit: "[lb_av]"}, "29463-7", "kg", []float64{69.85}, f(154), "[lb_av]", "", ""},
		{"temperature in Fahrenheit", observation.Input{Type: "temperature", Value: f(100.4), Unit: "[degF]"}, "8310-5", "Cel", []float64{38}, f(100.4), "[degF]", "", ""},
		{"spo2", observation.Input{Type: "spo2", Value: f(96)}, "59408-5", "%", []float64{96}, nil, "", "", ""},
		{"heart rate", observation.Input{Type: "heart_rate", Value: f(88)}, "8867-4", "/min", []float64{88}, nil, "", "", ""},
		{"symptoms deduplicated", observation.Input{Type: "symptoms", Symptoms: []string{"edema", "dyspnea", "edema"}}, "75325-1", "", nil, nil, "", "", "edema,dyspnea"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.MeasuredAt = at
			r, err := observation.Normalize(tc.in, observation.DefaultSymptoms, now, shanghai)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if r.Code != tc.wantCode || r.Unit != tc.wantUnit || r.Context != tc.wantContext || r.Symptoms != tc.wantSy {
				t.Fatalf("got code %s unit %s context %q symptoms %q, want %s %s %q %q", r.Code, r.Unit, r.Context, r.Symptoms, tc.wantCode, tc.wantUnit, tc.wantContext, tc.wantSy)
			}
			for i := 0; i < 3; i++ {
				got := r.Component(i)
				switch {
				case i >= len(tc.want) && got != nil:
					t.Fatalf("component %d = %v, want none", i, *got)
				case i < len(tc.want) && (got == nil || *got != tc.want[i]):
					t.Fatalf("component %d = %v, want %v", i, got, tc.want[i])
				}
			}
			if (r.OrigValue == nil) != (tc.wantOrig == nil) || r.OrigValue != nil && (*r.OrigValue != *tc.wantOrig || r.OrigUnit != tc.wantOrigUnit) {
				t.Fatalf("original %v %q, want %v %q", r.OrigValue, r.OrigUnit, tc.wantOrig, tc.wantOrigUnit)
			}
			// 23:30 in Shanghai on the 9th is 15:30 UTC on the 9th; the local day is the 9th.
			if !r.MeasuredAt.Equal(time.Date(2026, 5, 9, 15, 30, 0, 0, time.UTC)) || r.LocalDay != "2026-05-09" {
				t.Fatalf("measured %v local day %s", r.MeasuredAt, r.LocalDay)
			}
		})
	}
}

func TestNormalizeLocalDayFollowsTheHospitalZoneAcrossMidnight(t *testing.T) {
	now := time.Date(2026, 5, 10, 2, 0, 0, 0, time.UTC)
	cases := []struct{ at, want string }{
		{"2026-05-09T15:59:59Z", "2026-05-09"}, // 23:59:59 in Shanghai
		{"2026-05-09T16:00:00Z", "2026-05-10"}, // 00:00:00 in Shanghai, still the 9th in UTC
		{"2026-05-10T00:30:00+08:00", "2026-05-10"},
		{"2026-05-09T11:00:00-05:00", "2026-05-10"}, // sent from a phone set to New York time
	}
	for _, tc := range cases {
		r, err := observation.Normalize(observation.Input{Type: "weight", Value: f(70), MeasuredAt: tc.at}, nil, now, shanghai)
		if err != nil {
			t.Fatalf("%s: %v", tc.at, err)
		}
		if r.LocalDay != tc.want {
			t.Errorf("%s: local day %s, want %s", tc.at, r.LocalDay, tc.want)
		}
	}
}

func TestNormalizeRejectsBadInputNamingTheField(t *testing.T) {
	now := time.Date(2026, 5, 10, 2, 0, 0, 0, time.UTC)
	ok := "2026-05-10T08:00:00+08:00"
	cases := []struct {
		name      string
		in        observation.Input
		wantField string
		wantCode  string
	}{
		{"unknown type", observation.Input{Type: "cholesterol", Value: f(5)}, "type", "unknown_type"},
		{"missing type", observation.Input{Value: f(5)}, "type", "missing_field"},
		{"missing time", observation.Input{Type: "weight", Value: f(70), MeasuredAt: "-"}, "measured_at", "missing_field"},
		{"time without zone", observation.Input{Type: "weight", Value: f(70), MeasuredAt: "2026-05-10 08:00:00"}, "measured_at", "invalid_measured_at"},
		{"future time", observation.Input{Type: "weight", Value: f(70), MeasuredAt: "2026-05-10T10:06:00+08:00"}, "measured_at", "measured_at_in_future"},
		{"31 days old", observation.Input{Type: "weight", Value: f(70), MeasuredAt: "2026-04-09T09:59:00+08:00"}, "measured_at", "measured_at_too_old"},
		{"systolic not above diastolic", observation.Input{Type: "blood_pressure", Systolic: f(80), Diastolic: f(80)}, "systolic", "systolic_not_above_diastolic"},
		{"systolic out of range", observation.Input{Type: "blood_pressure", Systolic: f(320), Diastolic: f(80)}, "systolic", "out_of_range"},
		{"diastolic missing", observation.Input{Type: "blood_pressure", Systolic: f(120)}, "diastolic", "missing_field"},
		{"pulse not an integer", observation.Input{Type: "blood_pressure", Systolic: f(120), Diastolic: f(80), Pulse: f(72.5)}, "pulse", "not_an_integer"},
		{"glucose wrong unit", observation.Input{Type: "glucose", Value: f(7), Unit: "g/L", Context: "fasting"}, "unit", "invalid_unit"},
		{"glucose mg/dL out of range", observation.Input{Type: "glucose", Value: f(700), Unit: "mg/dL", Context: "fasting"}, "value", "out_of_range"},
		{"glucose mmol/L sent as mg/dL value", observation.Input{Type: "glucose", Value: f(126), Context: "fasting"}, "value", "out_of_range"},
		{"glucose without context", observation.Input{Type: "glucose", Value: f(7)}, "context", "missing_field"},
		{"glucose with bad context", observation.Input{Type: "glucose", Value: f(7), Context: "lunch"}, "context", "invalid_context"},
		{"pain 11", observation.Input{Type: "pain", Score: f(11), Context: "rest"}, "score", "out_of_range"},
		{"pain 6.5", observation.Input{Type: "pain", Score: f(6.5), Context: "rest"}, "score", "not_an_integer"},
		{"pain sent as value", observation.Input{Type: "pain", Value: f(6), Context: "rest"}, "value", "field_not_applicable"},
		{"bp field on glucose", observation.Input{Type: "glucose", Value: f(7), Systolic: f(120), Context: "fasting"}, "systolic", "field_not_applicable"},
		{"unit on symptoms", observation.Input{Type: "symptoms", Symptoms: []string{"edema"}, Unit: "kg"}, "unit", "field_not_applicable"},
		{"weight in stone", observation.Input{Type: "weight", Value: f(11), Unit: "[stone_av]"}, "unit", "invalid_unit"},
		{"weight 5 kg", observation.Input{Type: "weight", Value: f(5)}, "value", "out_of_range"},
		{"temperature 45", observation.Input{Type: "temperature", Value: f(45)}, "value", "out_of_range"},
		{"spo2 101", observation.Input{Type: "spo2", Value: f(101)}, "value", "out_of_range"},
		{"heart rate 0", observation.Input{Type: "heart_rate", Value: f(0)}, "value", "out_of_range"},
		{"no symptoms", observation.Input{Type: "symptoms"}, "symptoms", "missing_field"},
		{"symptom not on the checklist", observation.Input{Type: "symptoms", Symptoms: []string{"hiccups"}}, "symptoms", "unknown_symptom"},
		{"empty note", observation.Input{Type: "note", Note: "  "}, "note", "missing_field"},
		{"bad source", observation.Input{Type: "spo2", Value: f(97), Source: "guess"}, "source", "invalid_source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.in.MeasuredAt {
			case "":
				tc.in.MeasuredAt = ok
			case "-":
				tc.in.MeasuredAt = ""
			}
			_, err := observation.Normalize(tc.in, observation.DefaultSymptoms, now, shanghai)
			e, isApp := apperr.As(err)
			if !isApp || e.Kind != apperr.KindInvalid {
				t.Fatalf("err = %v, want a 400 error", err)
			}
			if e.Code != tc.wantCode || e.Details["field"] != tc.wantField {
				t.Fatalf("got %s on %v (%s), want %s on %s", e.Code, e.Details["field"], e.Message, tc.wantCode, tc.wantField)
			}
			if e.Message == "" {
				t.Fatal("no message")
			}
		})
	}
}
