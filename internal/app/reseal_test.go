package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
)

// sealedScenario writes every kind of free text sealed at rest, each marked
// SEALTEST (a follow-up outcome, questionnaire answers, reading and alert
// notes, a reschedule note and a cancel reason, a risk override reason, a
// plan's closing note, a relative's deactivation reason), and returns the patient's API paths.
func sealedScenario(t *testing.T, e *apitest.Env) (followups, questionnaires string) {
	t.Helper()
	p1 := "/api/v1/patients/" + e.Demo.Patients["patient1"]
	cm := e.LoginStaff("cm1")
	staff := func(method, path string, body any) apitest.Response {
		return e.Do(apitest.Request{Method: method, Path: path, Body: body, Cookie: cm.Cookie, CSRF: cm.CSRF})
	}
	var list struct {
		Items []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	staff(http.MethodGet, p1+"/followups", nil).JSON(t, &list)
	id := ""
	for _, f := range list.Items {
		if f.Status == "pending" {
			id = f.ID
			break
		}
	}
	if id == "" {
		t.Fatalf("patient1 has no pending follow-up: %+v", list.Items)
	}
	if r := staff(http.MethodPost, p1+"/followups/"+id+"/outcome", map[string]any{"reached": true,
		"symptoms": "SEALTEST膝关节肿胀", "problems": "SEALTEST漏服药", "next_action": "SEALTEST三天后复诊"}); r.Status != http.StatusOK {
		t.Fatalf("outcome: %d %s", r.Status, r.Body)
	}
	var a struct {
		ID string `json:"id"`
	}
	if r := staff(http.MethodPost, p1+"/questionnaires", map[string]any{"questionnaire": "pain_nrs"}); r.Status != http.StatusCreated {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &a)
	}
	tok := e.LoginWeChat("patient1").AccessToken
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: p1 + "/questionnaires/" + a.ID + "/answers", Token: tok,
		Headers: map[string]string{"Idempotency-Key": "seal-answer-1"},
		Body:    map[string]any{"answers": map[string]any{"pain_now": 8, "pain_worst_24h": 9, "pain_sleep": "often", "note": "SEALTEST夜里痛醒"}}}); r.Status != http.StatusOK {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: p1 + "/observations", Token: tok,
		// The longest note allowed (500 characters): sealed, it must still fit its column.
		Body: map[string]any{"type": "note", "note": "SEALTEST今天头晕" + strings.Repeat("晕", 488), "measured_at": e.Clock.Now().Format(time.RFC3339)}}); r.Status != http.StatusCreated {
		t.Fatalf("reading note: %d %s", r.Status, r.Body)
	}
	// A critical reading raises an alert; the CM resolves it with the longest note allowed.
	var reported struct {
		Alerts []struct {
			ID string `json:"id"`
		} `json:"alerts"`
	}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: p1 + "/observations", Token: tok,
		Body: map[string]any{"type": "blood_pressure", "systolic": 186, "diastolic": 112, "measured_at": e.Clock.Now().Format(time.RFC3339)}}); r.Status != http.StatusCreated {
		t.Fatalf("critical reading: %d %s", r.Status, r.Body)
	} else if r.JSON(t, &reported); len(reported.Alerts) == 0 {
		t.Fatalf("a critical reading raised no alert: %s", r.Body)
	}
	if r := staff(http.MethodPost, "/api/v1/alerts/"+reported.Alerts[0].ID+"/resolve", map[string]any{"action_taken": "phone_follow_up",
		"note": "SEALTEST已电话随访" + strings.Repeat("压", 987)}); r.Status != http.StatusOK {
		t.Fatalf("resolve alert: %d %.300s", r.Status, r.Body)
	}
	// The patient asks to move the confirmed revisit and cancels a new
	// appointment, each with the longest text allowed (255 characters).
	var booked struct {
		Items []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	e.Do(apitest.Request{Method: http.MethodGet, Path: p1 + "/appointments", Token: tok}).JSON(t, &booked)
	if len(booked.Items) == 0 || booked.Items[0].Status != "confirmed" {
		t.Fatalf("patient1's demo appointments: %+v", booked.Items)
	}
	later := e.Clock.Now().Add(72 * time.Hour)
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: p1 + "/appointments/" + booked.Items[0].ID + "/reschedule-request", Token: tok,
		Body: map[string]any{"preferred_times": []string{later.Format(time.RFC3339)}, "note": "SEALTEST想改到下午" + strings.Repeat("改", 242)}}); r.Status != http.StatusOK {
		t.Fatalf("reschedule request: %d %.300s", r.Status, r.Body)
	}
	var saved struct {
		Appointment struct {
			ID string `json:"id"`
		} `json:"appointment"`
	}
	if r := staff(http.MethodPost, p1+"/appointments", map[string]any{"kind": "examination", "title": "膝关节复查",
		"starts_at": later.Format(time.RFC3339), "ends_at": later.Add(30 * time.Minute).Format(time.RFC3339)}); r.Status != http.StatusCreated {
		t.Fatalf("book: %d %.300s", r.Status, r.Body)
	} else {
		r.JSON(t, &saved)
	}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: p1 + "/appointments/" + saved.Appointment.ID + "/cancel", Token: tok,
		Body: map[string]any{"reason": "SEALTEST那天要透析" + strings.Repeat("析", 242)}}); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %.300s", r.Status, r.Body)
	}
	// The CM raises the plan's risk, saying why (the longest reason allowed, 200 characters).
	var plans struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	staff(http.MethodGet, p1+"/plans", nil).JSON(t, &plans)
	if len(plans.Items) == 0 {
		t.Fatal("patient1 has no plan")
	}
	if r := staff(http.MethodPut, p1+"/plans/"+plans.Items[0].ID+"/risk", map[string]any{"level": "high",
		"reason": "SEALTEST独居且漏服药" + strings.Repeat("险", 186)}); r.Status != http.StatusOK {
		t.Fatalf("set risk: %d %.300s", r.Status, r.Body)
	}
	// The CM closes patient2's plan (结案), with the longest note allowed.
	p2 := "/api/v1/patients/" + e.Demo.Patients["patient2"]
	staff(http.MethodGet, p2+"/plans", nil).JSON(t, &plans)
	if len(plans.Items) == 0 {
		t.Fatal("patient2 has no plan")
	}
	if r := staff(http.MethodPost, p2+"/plans/"+plans.Items[0].ID+"/close", map[string]any{"reason": "transferred",
		"note": "SEALTEST转回当地县医院" + strings.Repeat("院", 185)}); r.Status != http.StatusOK {
		t.Fatalf("close plan: %d %.300s", r.Status, r.Body)
	}
	// The daughter leaves, saying why (the longest reason allowed).
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/deactivate", Token: e.LoginWeChat("family1").AccessToken,
		Body: map[string]any{"confirm": "注销", "reason": "SEALTEST不想再用了" + strings.Repeat("用", 186)}}); r.Status != http.StatusOK {
		t.Fatalf("deactivate: %d %.300s", r.Status, r.Body)
	}
	return p1 + "/followups", p1 + "/questionnaires"
}

// rawText is every stored free-text value of the sealed kinds.
func rawText(t *testing.T, e *apitest.Env) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		"SELECT body FROM thread_messages",
		"SELECT symptoms FROM followups", "SELECT problems FROM followups", "SELECT next_action FROM followups",
		"SELECT answers FROM questionnaire_assignments",
		"SELECT response FROM idempotency_keys",
		"SELECT note FROM observations",
		"SELECT resolution_note FROM alerts",
		"SELECT cancel_reason FROM appointments", "SELECT reschedule_note FROM appointments",
		"SELECT risk_reason FROM care_plans", "SELECT close_note FROM care_plans", "SELECT reason FROM care_plan_history",
		"SELECT reason FROM account_deactivations",
	} {
		var vs []string
		if err := e.App.DB.Raw(q).Scan(&vs).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, vs...)
	}
	return out
}

// readsBack checks every reader of the sealed text (the care team's API and
// desk, the patient's, the FHIR export) still shows the plaintext.
func readsBack(t *testing.T, e *apitest.Env, followups, questionnaires string) {
	t.Helper()
	cm := e.LoginStaff("cm1")
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: followups, Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST三天后复诊") {
		t.Errorf("the CM's follow-ups lack the outcome text: %d %s", r.Status, r.Body)
	}
	tok := e.LoginWeChat("patient1").AccessToken
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: questionnaires, Token: tok}); !strings.Contains(string(r.Body), "SEALTEST夜里痛醒") {
		t.Errorf("the patient's questionnaires lack the answer text: %d %s", r.Status, r.Body)
	}
	patientPath := strings.TrimSuffix(questionnaires, "/questionnaires")
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: patientPath + "/observations?type=note", Token: tok}); !strings.Contains(string(r.Body), "SEALTEST今天头晕") {
		t.Errorf("the patient's readings lack the note: %d %s", r.Status, r.Body)
	}
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: patientPath + "/alerts?status=resolved", Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST已电话随访") {
		t.Errorf("the CM's alerts lack the resolution note: %d %.300s", r.Status, r.Body)
	}
	r := e.Do(apitest.Request{Method: http.MethodGet, Path: patientPath + "/export", Token: tok})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "SEALTEST夜里痛醒") || !strings.Contains(string(r.Body), "SEALTEST今天头晕") {
		t.Errorf("the FHIR export lacks the answer text or the reading note: %d %.300s", r.Status, r.Body)
	}
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: patientPath + "/appointments", Token: tok}); !strings.Contains(string(r.Body), "SEALTEST那天要透析") ||
		!strings.Contains(string(r.Body), "SEALTEST想改到下午") {
		t.Errorf("the patient's appointments lack the cancel reason or the reschedule note: %d %.300s", r.Status, r.Body)
	}
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/appointments/requests", Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST想改到下午") {
		t.Errorf("the CM's reschedule requests lack the note: %d %.300s", r.Status, r.Body)
	}
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/appointments/requests", Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST想改到下午") {
		t.Errorf("the desk's reschedule requests lack the note: %d %.300s", r.Status, r.Body)
	}
	var plans struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if e.Do(apitest.Request{Method: http.MethodGet, Path: patientPath + "/plans", Cookie: cm.Cookie}).JSON(t, &plans); len(plans.Items) == 0 {
		t.Fatal("patient1 has no plan")
	}
	planPath := patientPath + "/plans/" + plans.Items[0].ID
	for _, path := range []string{planPath, planPath + "/history"} {
		if r := e.Do(apitest.Request{Method: http.MethodGet, Path: path, Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST独居且漏服药") {
			t.Errorf("GET %s lacks the risk reason: %d %.300s", path, r.Status, r.Body)
		}
	}
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/patients/" + strings.TrimPrefix(patientPath, "/api/v1/patients/"), Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST独居且漏服药") {
		t.Errorf("the desk's patient page lacks the risk reason: %d %.300s", r.Status, r.Body)
	}
	var p2Plans struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	p2 := "/api/v1/patients/" + e.Demo.Patients["patient2"]
	if e.Do(apitest.Request{Method: http.MethodGet, Path: p2 + "/plans", Cookie: cm.Cookie}).JSON(t, &p2Plans); len(p2Plans.Items) == 0 {
		t.Fatal("patient2 has no plan")
	}
	// (The history's copy is checked with the other history reasons: the rewind below rewrites them all.)
	for _, path := range []string{p2 + "/plans", p2 + "/plans/" + p2Plans.Items[0].ID} {
		if r := e.Do(apitest.Request{Method: http.MethodGet, Path: path, Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST转回当地县医院") {
			t.Errorf("GET %s lacks the closing note: %d %.300s", path, r.Status, r.Body)
		}
	}
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/patients/" + e.Demo.Patients["patient2"], Cookie: cm.Cookie}); !strings.Contains(string(r.Body), "SEALTEST转回当地县医院") {
		t.Errorf("the desk's patient page lacks the closing note: %d %.300s", r.Status, r.Body)
	}
	// No route shows a deactivation reason: it must open with the key.
	var rows []struct {
		Reason       string
		ReasonSealed bool
	}
	e.App.DB.Raw("SELECT reason, reason_sealed FROM account_deactivations").Scan(&rows)
	if len(rows) != 1 {
		t.Fatalf("%d deactivation records, want family1's", len(rows))
	}
	if err := fieldcrypt.OpenFields(e.App.Opener(), &rows[0].ReasonSealed, &rows[0].Reason); err != nil || !strings.HasPrefix(rows[0].Reason, "SEALTEST不想再用了") {
		t.Errorf("the deactivation reason reads %.40q, %v", rows[0].Reason, err)
	}
}

// TestFollowupNotesAndAnswersSealedAtRest reads the raw rows after a CM's
// follow-up outcome and a patient's questionnaire with free text: no text is
// in the database in the clear (nor in the stored idempotent response),
// scores are, and every reader still sees the text.
func TestFollowupNotesAndAnswersSealedAtRest(t *testing.T) {
	e := apitest.New(t)
	followups, questionnaires := sealedScenario(t, e)
	for _, v := range rawText(t, e) {
		if strings.Contains(v, "SEALTEST") || strings.Contains(v, "痛醒") || strings.Contains(v, "pain_sleep") {
			t.Errorf("plaintext in the database: %.120q", v)
		}
	}
	var scored int64
	e.App.DB.Raw("SELECT COUNT(*) FROM questionnaire_assignments WHERE score = 9 AND answers_sealed = ?", true).Scan(&scored)
	if scored == 0 {
		t.Error("the answered pain questionnaire has no score of 9 in the clear")
	}
	readsBack(t, e, followups, questionnaires)

	// An idempotent vitals report: the stored first response (the reading) is
	// sealed, and a retry replays it in the clear.
	tok := e.LoginWeChat("patient1").AccessToken
	report := func() apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: strings.TrimSuffix(followups, "/followups") + "/observations", Token: tok,
			Headers: map[string]string{"Idempotency-Key": "seal-bp-1"},
			Body:    map[string]any{"type": "blood_pressure", "systolic": 151, "diastolic": 97, "measured_at": e.Clock.Now().Format(time.RFC3339)}})
	}
	first, retry := report(), report()
	if first.Status != http.StatusCreated || retry.Status != first.Status || !bytes.Equal(first.Body, retry.Body) || !strings.Contains(string(retry.Body), "151") {
		t.Errorf("idempotent report: %d %s, retry %d %s", first.Status, first.Body, retry.Status, retry.Body)
	}
	var responses [][]byte
	e.App.DB.Raw("SELECT response FROM idempotency_keys").Scan(&responses)
	if len(responses) < 2 {
		t.Fatalf("%d stored idempotent responses, want the answer's and the report's", len(responses))
	}
	for _, r := range responses {
		if json.Valid(r) {
			t.Errorf("an idempotent response stored in the clear: %.80s", r)
		}
	}
}

// TestResealOldRows: rows written in the clear by an older version read as
// they are, `carepath reseal` seals them in batches, everything still reads,
// and a second run seals nothing.
func TestResealOldRows(t *testing.T) {
	e := apitest.New(t)
	followups, questionnaires := sealedScenario(t, e)
	// Rewind the rows to how an older version stored them.
	kinds := []string{"followups", "questionnaire_answers", "messages", "observation_notes", "alert_notes",
		"appointment_reasons", "appointment_reasons", "plan_reasons", "plan_reasons", "plan_reasons", "deactivation_reasons"}
	rewound := map[string]int{}
	for i, q := range []string{
		"UPDATE followups SET symptoms = 'SEALTEST膝关节肿胀', problems = '', next_action = 'SEALTEST三天后复诊', notes_sealed = ? WHERE notes_sealed = ?",
		`UPDATE questionnaire_assignments SET answers = '{"note":"SEALTEST夜里痛醒","pain_now":8}', answers_sealed = ? WHERE answers_sealed = ?`,
		"UPDATE thread_messages SET body = 'SEALTEST旧消息', body_sealed = ? WHERE body_sealed = ?",
		"UPDATE observations SET note = 'SEALTEST今天头晕', note_sealed = ? WHERE note_sealed = ?",
		"UPDATE alerts SET resolution_note = 'SEALTEST已电话随访', resolution_note_sealed = ? WHERE resolution_note_sealed = ?",
		"UPDATE appointments SET cancel_reason = 'SEALTEST那天要透析', cancel_reason_sealed = ? WHERE cancel_reason_sealed = ?",
		"UPDATE appointments SET reschedule_note = 'SEALTEST想改到下午', reschedule_note_sealed = ? WHERE reschedule_note_sealed = ?",
		"UPDATE care_plans SET risk_reason = 'SEALTEST独居且漏服药', risk_reason_sealed = ? WHERE risk_reason_sealed = ?",
		"UPDATE care_plans SET close_note = 'SEALTEST转回当地县医院', close_note_sealed = ? WHERE close_note_sealed = ?",
		"UPDATE care_plan_history SET reason = 'SEALTEST独居且漏服药', reason_sealed = ? WHERE reason_sealed = ?",
		"UPDATE account_deactivations SET reason = 'SEALTEST不想再用了', reason_sealed = ? WHERE reason_sealed = ?",
	} {
		res := e.App.DB.Exec(q, false, true)
		if res.Error != nil || res.RowsAffected == 0 {
			t.Fatalf("rewind %s: %d rows, %v", kinds[i], res.RowsAffected, res.Error)
		}
		rewound[kinds[i]] += int(res.RowsAffected)
	}
	readsBack(t, e, followups, questionnaires)

	n, err := e.App.Reseal(t.Context(), 2) // small batches: several rounds
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if n[k] != rewound[k] {
			t.Errorf("resealed %d %s, want the %d written in the clear", n[k], k, rewound[k])
		}
	}
	for _, v := range rawText(t, e) {
		if strings.Contains(v, "SEALTEST") {
			t.Errorf("plaintext left after reseal: %.120q", v)
		}
	}
	readsBack(t, e, followups, questionnaires)
	again, err := e.App.Reseal(t.Context(), 2)
	if total := sum(again); err != nil || total != 0 {
		t.Errorf("second reseal = %v, %v; want nothing to do", again, err)
	}
}

func sum(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
