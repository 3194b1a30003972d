package questionnaire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/questionnaire"
)

// TestScheduledQuestionnairesSentOnTheDueDay: the knee pathway's day-7 call
// names the medication-adherence questionnaire and the 1-month visit the
// knee-function one. Demo patient 1 was discharged 10 days ago: the job
// sends the first (3 days late, within the catch-up), not the second until
// its day, each once, with one questionnaire_due push request.
func TestScheduledQuestionnairesSentOnTheDueDay(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	sent := func() map[string]int {
		var list []questionnaire.Assignment
		e.App.DB.Where("patient_id = ? AND schedule_key IS NOT NULL", p1).Find(&list)
		out := map[string]int{}
		for _, a := range list {
			out[a.Questionnaire]++
		}
		return out
	}
	pushes := func() int {
		var events []outbox.Event
		e.App.DB.Where("topic = ?", questionnaire.TopicNotify).Find(&events)
		n := 0
		for _, ev := range events {
			var r struct {
				Kind      string `json:"kind"`
				PatientID string `json:"patient_id"`
				DedupeKey string `json:"dedupe_key"`
			}
			if err := json.Unmarshal(ev.Payload, &r); err == nil && r.Kind == "questionnaire_due" && r.PatientID == p1 {
				n++
			}
		}
		return n
	}
	if _, err := e.App.Questionnaires.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := sent(); got["medication_adherence"] != 1 || got["knee_function"] != 0 {
		t.Fatalf("after the first run patient1 has %v", got)
	}
	if n := pushes(); n != 1 {
		t.Fatalf("%d questionnaire_due requests, want 1", n)
	}
	// Again, the same day: nothing new.
	if n, err := e.App.Questionnaires.SendDue(t.Context()); err != nil || n != 0 {
		t.Fatalf("second run sent %d (%v)", n, err)
	}
	// Day 30 after discharge: the knee-function questionnaire, once.
	e.Clock.Advance(20 * 24 * time.Hour)
	if _, err := e.App.Questionnaires.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Questionnaires.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := sent(); got["medication_adherence"] != 1 || got["knee_function"] != 1 {
		t.Fatalf("on day 30 patient1 has %v", got)
	}
	if n := pushes(); n != 2 {
		t.Fatalf("%d questionnaire_due requests, want 2", n)
	}
}
