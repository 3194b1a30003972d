package questionnaire_test

import (
	"encoding/json"
	"testing"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/questionnaire"
)

func library(t *testing.T) *questionnaire.Library {
	t.Helper()
	lib, err := questionnaire.Load(configs.Files, "questionnaires")
	if err != nil {
		t.Fatalf("load shipped questionnaires: %v", err)
	}
	return lib
}

func raw(t *testing.T, answers string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(answers), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestScoringOfEveryShippedQuestionnaire checks each instrument against
// hand-computed scores at and around its band edges and alert threshold.
func TestScoringOfEveryShippedQuestionnaire(t *testing.T) {
	lib := library(t)
	cases := []struct {
		questionnaire, answers string
		score                  float64
		band                   string
		alert                  bool
	}{
		// NRS: the worse of now and worst-in-24h.
		{"pain_nrs", `{"pain_now":0,"pain_worst_24h":0,"pain_sleep":"no"}`, 0, "none", false},
		{"pain_nrs", `{"pain_now":2,"pain_worst_24h":3,"pain_sleep":"no","analgesic_doses":1}`, 3, "mild", false},
		{"pain_nrs", `{"pain_now":4,"pain_worst_24h":6,"pain_sleep":"sometimes"}`, 6, "moderate", false},
		{"pain_nrs", `{"pain_now":7,"pain_worst_24h":5,"pain_sleep":"often","note":"夜里痛醒"}`, 7, "severe", true},
		{"pain_nrs", `{"pain_now":3,"pain_worst_24h":10,"pain_sleep":"often"}`, 10, "severe", true},
		// Knee: 100 × (1 − sum/32).
		{"knee_function", `{"walk_flat":"0","stairs_up":"0","stairs_down":"0","sit_stand":"0","squat":"0","bend_knee":"0","night_stiff":"0","daily_tasks":"0"}`, 100, "excellent", false},
		{"knee_function", `{"walk_flat":"1","stairs_up":"2","stairs_down":"2","sit_stand":"1","squat":"3","bend_knee":"1","night_stiff":"1","daily_tasks":"1","aids":["cane"]}`, 62.5, "fair", false},
		{"knee_function", `{"walk_flat":"2","stairs_up":"3","stairs_down":"3","sit_stand":"2","squat":"4","bend_knee":"2","night_stiff":"2","daily_tasks":"2","aids":["walker"]}`, 37.5, "poor", true},
		{"knee_function", `{"walk_flat":"4","stairs_up":"4","stairs_down":"4","sit_stand":"4","squat":"4","bend_knee":"4","night_stiff":"4","daily_tasks":"4"}`, 0, "poor", true},
		{"knee_function", `{"walk_flat":"1","stairs_up":"1","stairs_down":"1","sit_stand":"0","squat":"2","bend_knee":"1","night_stiff":"1","daily_tasks":"1"}`, 75, "good", false},
		// Adherence: one point per non-adherent answer.
		{"medication_adherence", `{"missed_7d":"no","stopped_feeling_better":"no","stopped_feeling_worse":"no","changed_dose":"no"}`, 0, "good", false},
		{"medication_adherence", `{"missed_7d":"yes","stopped_feeling_better":"no","stopped_feeling_worse":"no","changed_dose":"no","reasons":["forgot"]}`, 1, "moderate", false},
		{"medication_adherence", `{"missed_7d":"yes","stopped_feeling_better":"yes","stopped_feeling_worse":"no","changed_dose":"no","reasons":["forgot","cost"]}`, 2, "poor", true},
		{"medication_adherence", `{"missed_7d":"yes","stopped_feeling_better":"yes","stopped_feeling_worse":"yes","changed_dose":"yes"}`, 4, "poor", true},
		// PHQ-2: 0–6, positive at 3.
		{"phq2", `{"interest":"0","mood":"0"}`, 0, "negative", false},
		{"phq2", `{"interest":"1","mood":"1"}`, 2, "negative", false},
		{"phq2", `{"interest":"2","mood":"1"}`, 3, "positive", true},
		{"phq2", `{"interest":"3","mood":"3"}`, 6, "positive", true},
		// NPS question: detractors alert.
		{"nps", `{"recommend":10,"reason":"个案管理师很负责"}`, 10, "promoter", false},
		{"nps", `{"recommend":9}`, 9, "promoter", false},
		{"nps", `{"recommend":8}`, 8, "passive", false},
		{"nps", `{"recommend":7}`, 7, "passive", false},
		{"nps", `{"recommend":6}`, 6, "detractor", true},
		{"nps", `{"recommend":0}`, 0, "detractor", true},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.questionnaire] = true
		t.Run(tc.questionnaire+" "+tc.answers, func(t *testing.T) {
			d, ok := lib.Get(tc.questionnaire)
			if !ok {
				t.Fatalf("no questionnaire %s", tc.questionnaire)
			}
			answers, err := questionnaire.CheckAnswers(d, raw(t, tc.answers))
			if err != nil {
				t.Fatalf("CheckAnswers: %v", err)
			}
			got := questionnaire.Score(d, answers)
			if got.Score == nil || *got.Score != tc.score || got.Band != tc.band || got.Alert != tc.alert {
				t.Errorf("got score %v band %q alert %v, want %v %q %v", deref(got.Score), got.Band, got.Alert, tc.score, tc.band, tc.alert)
			}
		})
	}
	for _, d := range lib.All() {
		if !covered[d.Key] {
			t.Errorf("shipped questionnaire %s has no scoring cases", d.Key)
		}
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func TestBadAnswers(t *testing.T) {
	lib := library(t)
	pain, _ := lib.Get("pain_nrs")
	knee, _ := lib.Get("knee_function")
	cases := []struct {
		name    string
		d       *questionnaire.Definition
		answers string
		code    string
		field   string
	}{
		{"scale given as text", pain, `{"pain_now":"7","pain_worst_24h":7,"pain_sleep":"no"}`, "answer_wrong_type", "answers.pain_now"},
		{"scale not an integer", pain, `{"pain_now":6.5,"pain_worst_24h":7,"pain_sleep":"no"}`, "answer_wrong_type", "answers.pain_now"},
		{"scale above its max", pain, `{"pain_now":11,"pain_worst_24h":7,"pain_sleep":"no"}`, "answer_out_of_range", "answers.pain_now"},
		{"scale below its min", pain, `{"pain_now":-1,"pain_worst_24h":7,"pain_sleep":"no"}`, "answer_out_of_range", "answers.pain_now"},
		{"number out of range", pain, `{"pain_now":1,"pain_worst_24h":1,"pain_sleep":"no","analgesic_doses":50}`, "answer_out_of_range", "answers.analgesic_doses"},
		{"unknown option", pain, `{"pain_now":1,"pain_worst_24h":1,"pain_sleep":"maybe"}`, "answer_out_of_range", "answers.pain_sleep"},
		{"single given a list", pain, `{"pain_now":1,"pain_worst_24h":1,"pain_sleep":["no"]}`, "answer_wrong_type", "answers.pain_sleep"},
		{"required missing", pain, `{"pain_now":1,"pain_sleep":"no"}`, "answer_required", "answers.pain_worst_24h"},
		{"unknown item", pain, `{"pain_now":1,"pain_worst_24h":1,"pain_sleep":"no","mood":3}`, "unknown_item", "answers.mood"},
		{"text too long", pain, `{"pain_now":1,"pain_worst_24h":1,"pain_sleep":"no","note":"` + long(501) + `"}`, "answer_out_of_range", "answers.note"},
		{"multiple with a repeat", knee, `{"walk_flat":"0","stairs_up":"0","stairs_down":"0","sit_stand":"0","squat":"0","bend_knee":"0","night_stiff":"0","daily_tasks":"0","aids":["cane","cane"]}`, "answer_out_of_range", "answers.aids"},
		{"multiple given a string", knee, `{"walk_flat":"0","stairs_up":"0","stairs_down":"0","sit_stand":"0","squat":"0","bend_knee":"0","night_stiff":"0","daily_tasks":"0","aids":"cane"}`, "answer_wrong_type", "answers.aids"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := questionnaire.CheckAnswers(tc.d, raw(t, tc.answers))
			e, ok := apperr.As(err)
			if !ok || e.Code != tc.code || e.Details["field"] != tc.field || e.Kind != apperr.KindInvalid {
				t.Fatalf("got %v, want %s on %s", err, tc.code, tc.field)
			}
		})
	}
}

func long(n int) string {
	b := make([]rune, n)
	for i := range b {
		b[i] = '痛'
	}
	return string(b)
}
