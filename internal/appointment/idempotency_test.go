package appointment_test

import (
	"net/http"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
)

// TestResponsesHonourIdempotencyKey: a retried confirm, cancel or
// reschedule request with the same key replays the first answer (even after
// the state moved on), a reused key with another body is 409, a bad key 400.
func TestResponsesHonourIdempotencyKey(t *testing.T) {
	e := apitest.New(t)
	p1 := "/api/v1/patients/" + e.Demo.Patients["patient1"]
	cm := caller{t: t, e: e, staff: e.LoginStaff("cm1")}
	token := e.LoginWeChat("patient1").AccessToken
	send := func(path, key string, body any) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: p1 + path, Token: token, Body: body, Headers: map[string]string{"Idempotency-Key": key}})
	}
	var a, b saved
	cm.do(http.MethodPost, "/patients/"+e.Demo.Patients["patient1"]+"/appointments", booking("revisit", at(e, 5, 9, 0), 30), 201, "", &a)
	cm.do(http.MethodPost, "/patients/"+e.Demo.Patients["patient1"]+"/appointments", booking("examination", at(e, 6, 9, 0), 30), 201, "", &b)
	confirm := "/appointments/" + a.Appointment.ID + "/confirm"

	if r := send(confirm, "bad key!", nil); r.Status != 400 || r.ErrorCode() != "invalid_idempotency_key" {
		t.Fatalf("bad key: %d %s", r.Status, r.Body)
	}
	first := send(confirm, "k-confirm-1", nil)
	if first.Status != 200 || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("confirm: %d %s", first.Status, first.Body)
	}
	// The patient then asks to move it; a late retry of the confirm replays the confirm, it does not confirm again.
	move := map[string]any{"preferred_times": []any{at(e, 8, 9, 0)}, "note": "那天要上班"}
	if r := send("/appointments/"+a.Appointment.ID+"/reschedule-request", "k-move-1", move); r.Status != 200 {
		t.Fatalf("reschedule request: %d %s", r.Status, r.Body)
	}
	again := send(confirm, "k-confirm-1", nil)
	if again.Status != 200 || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("retried confirm: %d %q %s", again.Status, again.Header.Get("Idempotent-Replayed"), again.Body)
	}
	var v view
	cm.do(http.MethodGet, "/patients/"+e.Demo.Patients["patient1"]+"/appointments/"+a.Appointment.ID, nil, 200, "", &v)
	if v.Status != "reschedule_requested" {
		t.Fatalf("after the replay the appointment is %s", v.Status)
	}
	if r := send("/appointments/"+a.Appointment.ID+"/reschedule-request", "k-move-1", move); r.Status != 200 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retried reschedule request: %d %s", r.Status, r.Body)
	}

	cancel := "/appointments/" + b.Appointment.ID + "/cancel"
	if r := send(cancel, "k-cancel-1", map[string]any{"reason": "出差"}); r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if r := send(cancel, "k-cancel-1", map[string]any{"reason": "出差"}); r.Status != 200 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retried cancel: %d %s", r.Status, r.Body)
	}
	if r := send(cancel, "k-cancel-1", map[string]any{"reason": "另有安排"}); r.Status != 409 || r.ErrorCode() != "idempotency_key_reused" {
		t.Fatalf("reused key, other reason: %d %s", r.Status, r.Body)
	}
	// Without a key a second cancel is the state conflict it always was.
	if r := send(cancel, "", map[string]any{"reason": "出差"}); r.Status != 409 || r.ErrorCode() != "appointment_status_conflict" {
		t.Fatalf("second cancel without a key: %d %s", r.Status, r.Body)
	}
	// A refused request stores no key: the same key may carry the corrected request.
	if r := send("/appointments/"+a.Appointment.ID+"/cancel", "k-cancel-2", map[string]any{"reason": " "}); r.Status != 400 {
		t.Fatalf("cancel without reason: %d %s", r.Status, r.Body)
	}
	if r := send("/appointments/"+a.Appointment.ID+"/cancel", "k-cancel-2", map[string]any{"reason": "改天再约"}); r.Status != 200 {
		t.Fatalf("corrected cancel with the same key: %d %s", r.Status, r.Body)
	}
}
