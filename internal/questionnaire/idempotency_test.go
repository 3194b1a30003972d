package questionnaire_test

import (
	"net/http"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/questionnaire"
)

// TestAnswerHonoursIdempotencyKey: a retried answer with the same key gets
// the first result (not "already answered") and raises no second alert;
// another key is the usual 409; the same key with other answers is 409.
func TestAnswerHonoursIdempotencyKey(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"] + "/questionnaires"
	cm := e.LoginStaff("cm1")
	patient := e.LoginWeChat("patient1").AccessToken
	var pain assignment
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1, Body: map[string]any{"questionnaire": "pain_nrs"}, Cookie: cm.Cookie, CSRF: cm.CSRF}, 201, "", &pain)
	answers := map[string]any{"answers": map[string]any{"pain_now": 5, "pain_worst_24h": 8, "pain_sleep": "often"}}
	send := func(key string, body any) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1" + p1 + "/" + pain.ID + "/answers", Token: patient, Body: body,
			Headers: map[string]string{"Idempotency-Key": key}})
	}
	var alertsBefore int64
	e.App.DB.Model(&outbox.Event{}).Where("topic = ?", questionnaire.TopicAlert).Count(&alertsBefore)
	first := send("answer-1", answers)
	if first.Status != 200 {
		t.Fatalf("answer: %d %s", first.Status, first.Body)
	}
	again := send("answer-1", answers)
	if again.Status != 200 || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("retry: %d %s", again.Status, again.Body)
	}
	var alertsAfter int64
	e.App.DB.Model(&outbox.Event{}).Where("topic = ?", questionnaire.TopicAlert).Count(&alertsAfter)
	if alertsAfter != alertsBefore+1 {
		t.Fatalf("%d alert events for one answer", alertsAfter-alertsBefore)
	}
	if r := send("answer-2", answers); r.Status != 409 || r.ErrorCode() != "questionnaire_already_answered" {
		t.Fatalf("answering twice: %d %s", r.Status, r.Body)
	}
	other := map[string]any{"answers": map[string]any{"pain_now": 1, "pain_worst_24h": 1, "pain_sleep": "no"}}
	if r := send("answer-1", other); r.Status != 409 || r.ErrorCode() != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", r.Status, r.Body)
	}
	if r := send("x y", answers); r.Status != 400 || r.ErrorCode() != "invalid_idempotency_key" {
		t.Fatalf("bad key: %d %s", r.Status, r.Body)
	}
}
