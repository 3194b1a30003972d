package questionnaire_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/questionnaire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type assignment struct {
	ID     string         `json:"id"`
	Status string         `json:"status"`
	Score  *float64       `json:"score"`
	Band   string         `json:"band"`
	Alert  bool           `json:"alert"`
	By     string         `json:"answered_by_kind"`
	Answer map[string]any `json:"answers"`
}

func call(t *testing.T, e *apitest.Env, r apitest.Request, want int, code string, v any) {
	t.Helper()
	r.Path = "/api/v1" + r.Path
	resp := e.Do(r)
	if resp.Status != want || code != "" && resp.ErrorCode() != code {
		t.Fatalf("%s %s: %d %s, want %d %s", r.Method, r.Path, resp.Status, resp.Body, want, code)
	}
	if v != nil {
		resp.JSON(t, v)
	}
}

func TestAssignAnswerScoreAndFlag(t *testing.T) {
	e := apitest.New(t)
	p1 := "/patients/" + e.Demo.Patients["patient1"] + "/questionnaires"
	cm := e.LoginStaff("cm1")
	staff := func(method, path string, body any) apitest.Request {
		return apitest.Request{Method: method, Path: path, Body: body, Cookie: cm.Cookie, CSRF: cm.CSRF}
	}
	patient := e.LoginWeChat("patient1").AccessToken
	daughter := e.LoginWeChat("family1").AccessToken

	call(t, e, staff(http.MethodPost, p1, map[string]any{"questionnaire": "sf36"}), 400, "unknown_questionnaire", nil)
	var pain, phq assignment
	call(t, e, staff(http.MethodPost, p1, map[string]any{"questionnaire": "pain_nrs"}), 201, "", &pain)
	call(t, e, staff(http.MethodPost, p1, map[string]any{"questionnaire": "phq2"}), 201, "", &phq)
	if pain.Status != "pending" || pain.Score != nil {
		t.Fatalf("assigned %+v", pain)
	}
	answers := pain.ID + "/answers"
	// Refused answers write nothing.
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + answers, Token: patient,
		Body: map[string]any{"answers": map[string]any{"pain_now": 12, "pain_worst_24h": 8, "pain_sleep": "often"}}}, 400, "answer_out_of_range", nil)
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + answers, Token: patient,
		Body: map[string]any{"answers": map[string]any{"pain_now": "很痛", "pain_worst_24h": 8, "pain_sleep": "often"}}}, 400, "answer_wrong_type", nil)
	// Staff never answer for the patient; a relative without report neither.
	call(t, e, staff(http.MethodPost, p1+"/"+answers, map[string]any{"answers": map[string]any{"pain_now": 1}}), 404, "not_found", nil)
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + answers, Token: e.LoginWeChat("family2").AccessToken,
		Body: map[string]any{"answers": map[string]any{"pain_now": 1}}}, 404, "not_found", nil)
	var got assignment
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1 + "/" + pain.ID, Token: patient}, 200, "", &got)
	if got.Status != "pending" {
		t.Fatalf("a refused answer changed the assignment: %+v", got)
	}

	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + answers, Token: patient,
		Body: map[string]any{"answers": map[string]any{"pain_now": 5, "pain_worst_24h": 8, "pain_sleep": "often"}}}, 200, "", &got)
	if got.Status != "answered" || got.Score == nil || *got.Score != 8 || got.Band != "severe" || !got.Alert || got.By != "user" {
		t.Fatalf("answered %+v", got)
	}
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + answers, Token: patient,
		Body: map[string]any{"answers": map[string]any{"pain_now": 1, "pain_worst_24h": 1, "pain_sleep": "no"}}}, 409, "questionnaire_already_answered", nil)
	// The daughter (report scope) answers PHQ-2 on her father's behalf: negative, no alert.
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + phq.ID + "/answers", Token: daughter,
		Body: map[string]any{"answers": map[string]any{"interest": "1", "mood": "0"}}}, 200, "", &got)
	if *got.Score != 1 || got.Alert {
		t.Fatalf("phq2 %+v", got)
	}

	var events []outbox.Event
	e.App.DB.Where("topic = ?", questionnaire.TopicAlert).Find(&events)
	if len(events) != 1 {
		t.Fatalf("%d alert events, want 1", len(events))
	}
	var flagged struct{ Items []assignment }
	call(t, e, staff(http.MethodGet, "/questionnaires/flagged", nil), 200, "", &flagged)
	if len(flagged.Items) != 1 || flagged.Items[0].ID != pain.ID {
		t.Fatalf("cm1's flagged %+v", flagged.Items)
	}
	cm2 := e.LoginStaff("cm2")
	call(t, e, apitest.Request{Method: http.MethodGet, Path: "/questionnaires/flagged", Cookie: cm2.Cookie}, 200, "", &flagged)
	for _, it := range flagged.Items {
		if it.ID == pain.ID {
			t.Fatal("cm2 sees cm1's patient's response")
		}
	}
	var list struct{ Items []assignment }
	call(t, e, staff(http.MethodGet, p1, nil), 200, "", &list)
	if len(list.Items) < 2 {
		t.Fatalf("CM sees %d responses", len(list.Items))
	}
	var defs struct{ Items []struct{ Key string } }
	call(t, e, staff(http.MethodGet, "/questionnaires", nil), 200, "", &defs)
	if len(defs.Items) != 5 {
		t.Fatalf("library %+v", defs.Items)
	}
}
