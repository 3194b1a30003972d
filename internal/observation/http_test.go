package observation_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type obj = map[string]any

type reportBody struct {
	Reading struct {
		ID         string                `json:"id"`
		ClientID   string                `json:"client_id"`
		Type       string                `json:"type"`
		LocalDay   string                `json:"local_day"`
		Code       struct{ Code string } `json:"code"`
		Components []struct {
			Name  string  `json:"name"`
			Code  string  `json:"code"`
			Value float64 `json:"value"`
			Unit  string  `json:"unit"`
		} `json:"components"`
		Original *struct {
			Value float64 `json:"value"`
			Unit  string  `json:"unit"`
		} `json:"original"`
		Source struct {
			Kind       string `json:"kind"`
			OnBehalfOf string `json:"on_behalf_of"`
		} `json:"source"`
	} `json:"reading"`
	Alerts []struct {
		ID       string `json:"id"`
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Folded   bool   `json:"folded"`
	} `json:"alerts"`
	Guidance []struct {
		Severity string   `json:"severity"`
		Title    string   `json:"title"`
		Actions  []string `json:"actions"`
		Contacts []struct {
			Role, Name, Phone string
		} `json:"contacts"`
	} `json:"guidance"`
}

func obsPath(patientID string) string { return "/api/v1/patients/" + patientID + "/observations" }

// ago is a measured_at the given time before the env's clock.
func ago(e *apitest.Env, d time.Duration) string { return e.Clock.Now().Add(-d).Format(time.RFC3339) }

func report(e *apitest.Env, tok, patientID string, body obj, key string) apitest.Response {
	req := apitest.Request{Method: http.MethodPost, Path: obsPath(patientID), Token: tok, Body: body}
	if key != "" {
		req.Headers = map[string]string{"Idempotency-Key": key}
	}
	return e.Do(req)
}

func mustReport(t *testing.T, e *apitest.Env, tok, patientID string, body obj) reportBody {
	t.Helper()
	resp := report(e, tok, patientID, body, "")
	if resp.Status != http.StatusCreated {
		t.Fatalf("report %v: %d %s", body, resp.Status, resp.Body)
	}
	var b reportBody
	resp.JSON(t, &b)
	return b
}

func countReadings(t *testing.T, e *apitest.Env, patientID string) int64 {
	t.Helper()
	var n int64
	if err := e.App.DB.Model(&observation.Reading{}).Where("patient_id = ?", patientID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReportEveryTypeWithCodesAndUnits(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	tok := e.LoginWeChat("patient2").AccessToken
	cases := []struct {
		body      obj
		wantLOINC string
		wantComp  string // name=value unit, ...
	}{
		{obj{"type": "blood_pressure", "systolic": 128, "diastolic": 82, "pulse": 70}, "85354-9", "systolic=128 mm[Hg],diastolic=82 mm[Hg],pulse=70 /min"},
		{obj{"type": "glucose", "value": 108, "unit": "mg/dL", "context": "fasting"}, "14743-9", "glucose=6 mmol/L"},
		{obj{"type": "pain", "score": 3, "context": "movement", "location": "右膝"}, "72514-3", "score=3 {score}"},
		{obj{"type": "weight", "value": 61.4}, "29463-7", "weight=61.4 kg"},
		{obj{"type": "temperature", "value": 36.8}, "8310-5", "temperature=36.8 Cel"},
		{obj{"type": "spo2", "value": 97, "source": "device", "device": "指夹式血氧仪"}, "59408-5", "spo2=97 %"},
		{obj{"type": "heart_rate", "value": 76}, "8867-4", "heart_rate=76 /min"},
		{obj{"type": "symptoms", "symptoms": []string{"fatigue", "insomnia"}}, "75325-1", ""},
		{obj{"type": "note", "note": "今天散步 30 分钟，无不适"}, "34109-9", ""},
	}
	for _, tc := range cases {
		t.Run(tc.body["type"].(string), func(t *testing.T) {
			tc.body["measured_at"] = ago(e, time.Hour)
			b := mustReport(t, e, tok, p2, tc.body)
			var comps []string
			for _, c := range b.Reading.Components {
				comps = append(comps, fmt.Sprintf("%s=%g %s", c.Name, c.Value, c.Unit))
			}
			if b.Reading.Code.Code != tc.wantLOINC || strings.Join(comps, ",") != tc.wantComp {
				t.Fatalf("got %s %v, want %s %s", b.Reading.Code.Code, comps, tc.wantLOINC, tc.wantComp)
			}
			if len(b.Alerts) != 0 || len(b.Guidance) != 0 {
				t.Fatalf("a normal value raised %+v", b.Alerts)
			}
		})
	}
	// The original value and unit are kept beside the converted one.
	b := mustReport(t, e, tok, p2, obj{"type": "glucose", "value": 130, "unit": "mg/dL", "context": "after_meal", "measured_at": ago(e, time.Minute)})
	if b.Reading.Original == nil || b.Reading.Original.Value != 130 || b.Reading.Original.Unit != "mg/dL" || b.Reading.Components[0].Value != 7.22 {
		t.Fatalf("converted glucose: %+v / %+v", b.Reading.Components, b.Reading.Original)
	}
}

func TestBadReadingsAre400NamingTheFieldAndWriteNothing(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	tok := e.LoginWeChat("patient2").AccessToken
	now := e.Clock.Now()
	cases := []struct {
		name             string
		body             any
		wantCode, wantAt string
	}{
		{"out of range", obj{"type": "blood_pressure", "systolic": 400, "diastolic": 80, "measured_at": ago(e, 0)}, "out_of_range", "systolic"},
		{"systolic below diastolic", obj{"type": "blood_pressure", "systolic": 70, "diastolic": 90, "measured_at": ago(e, 0)}, "systolic_not_above_diastolic", "systolic"},
		{"wrong unit", obj{"type": "glucose", "value": 7, "unit": "mmol", "context": "fasting", "measured_at": ago(e, 0)}, "invalid_unit", "unit"},
		{"future time", obj{"type": "weight", "value": 70, "measured_at": now.Add(time.Hour).Format(time.RFC3339)}, "measured_at_in_future", "measured_at"},
		{"older than 30 days", obj{"type": "weight", "value": 70, "measured_at": now.Add(-31 * 24 * time.Hour).Format(time.RFC3339)}, "measured_at_too_old", "measured_at"},
		{"unknown type", obj{"type": "cholesterol", "value": 5, "measured_at": ago(e, 0)}, "unknown_type", "type"},
		{"value of the wrong JSON type", `{"type":"weight","value":"seventy","measured_at":"` + ago(e, 0) + `"}`, "invalid_field_type", "value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.Do(apitest.Request{Method: http.MethodPost, Path: obsPath(p2), Token: tok, Body: tc.body})
			if resp.Status != http.StatusBadRequest || resp.ErrorCode() != tc.wantCode || !strings.Contains(string(resp.Body), `"field":"`+tc.wantAt+`"`) {
				t.Fatalf("got %d %s, want 400 %s on %s", resp.Status, resp.Body, tc.wantCode, tc.wantAt)
			}
		})
	}
	if n := countReadings(t, e, p2); n != 0 {
		t.Fatalf("rejected readings left %d rows", n)
	}
}

func TestRetryWithTheSameKeyReturnsTheFirstResult(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	tok := e.LoginWeChat("patient2").AccessToken
	body := obj{"type": "blood_pressure", "systolic": 132, "diastolic": 84, "measured_at": ago(e, 10*time.Minute)}

	first := report(e, tok, p2, body, "0193f3a2-key-1")
	if first.Status != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", first.Status, first.Header, first.Body)
	}
	e.Clock.Advance(time.Minute) // a retry later: the stored response, not a new one
	again := report(e, tok, p2, body, "0193f3a2-key-1")
	if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("retry: %d %v\n%s\nwant the first body\n%s", again.Status, again.Header, again.Body, first.Body)
	}
	if n := countReadings(t, e, p2); n != 1 {
		t.Fatalf("%d readings after a retry, want 1", n)
	}

	t.Run("same key, different body", func(t *testing.T) {
		changed := obj{"type": "blood_pressure", "systolic": 150, "diastolic": 84, "measured_at": body["measured_at"]}
		resp := report(e, tok, p2, changed, "0193f3a2-key-1")
		if resp.Status != http.StatusConflict || resp.ErrorCode() != "idempotency_key_reused" {
			t.Fatalf("got %d %s, want 409 idempotency_key_reused", resp.Status, resp.Body)
		}
	})
	t.Run("the body's id is the key when there is no header", func(t *testing.T) {
		withID := obj{"id": "client-reading-7", "type": "weight", "value": 60, "measured_at": ago(e, time.Hour)}
		a, b := report(e, tok, p2, withID, ""), report(e, tok, p2, withID, "")
		if a.Status != http.StatusCreated || b.Header.Get("Idempotent-Replayed") != "true" || string(a.Body) != string(b.Body) {
			t.Fatalf("%d / %d %s", a.Status, b.Status, b.Body)
		}
	})
	t.Run("header and id disagree", func(t *testing.T) {
		resp := report(e, tok, p2, obj{"id": "a", "type": "weight", "value": 60, "measured_at": ago(e, time.Hour)}, "b")
		if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "idempotency_key_mismatch" {
			t.Fatalf("got %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("malformed key", func(t *testing.T) {
		resp := report(e, tok, p2, obj{"type": "weight", "value": 60, "measured_at": ago(e, time.Hour)}, "has spaces")
		if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "invalid_idempotency_key" {
			t.Fatalf("got %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("a rejected request does not use up its key", func(t *testing.T) {
		bad := obj{"type": "weight", "value": 600, "measured_at": ago(e, time.Hour)}
		if resp := report(e, tok, p2, bad, "fix-me"); resp.Status != http.StatusBadRequest {
			t.Fatalf("bad: %d", resp.Status)
		}
		bad["value"] = 60
		if resp := report(e, tok, p2, bad, "fix-me"); resp.Status != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("corrected: %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("keys are per sender", func(t *testing.T) {
		// The same key from the daughter is her own request, for her father.
		p1 := e.Demo.Patients["patient1"]
		fam := e.LoginWeChat("family1").AccessToken
		me := e.LoginWeChat("patient1").AccessToken
		b := obj{"type": "spo2", "value": 98, "measured_at": ago(e, time.Hour)}
		if r1, r2 := report(e, me, p1, b, "shared-key"), report(e, fam, p1, b, "shared-key"); r1.Status != 201 || r2.Status != 201 || r2.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("%d / %d %v", r1.Status, r2.Status, r2.Header)
		}
	})
}

type batchBody struct {
	Results []struct {
		Index    int         `json:"index"`
		ID       string      `json:"id"`
		Status   int         `json:"status"`
		Replayed bool        `json:"replayed"`
		Result   *reportBody `json:"result"`
		Error    *struct {
			Code    string         `json:"code"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	} `json:"results"`
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
}

func batch(t *testing.T, e *apitest.Env, tok, patientID string, items []any) batchBody {
	t.Helper()
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: obsPath(patientID) + "/batch", Token: tok, Body: obj{"items": items}})
	if resp.Status != http.StatusOK {
		t.Fatalf("batch: %d %s", resp.Status, resp.Body)
	}
	var b batchBody
	resp.JSON(t, &b)
	return b
}

func TestBatchAnswersPerItemAndRetriesReplay(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	tok := e.LoginWeChat("patient2").AccessToken
	items := []any{
		obj{"id": "q-1", "type": "weight", "value": 60.2, "measured_at": ago(e, 72*time.Hour)},
		obj{"id": "q-2", "type": "blood_pressure", "systolic": 90, "diastolic": 120, "measured_at": ago(e, 48*time.Hour)}, // systolic < diastolic
		obj{"id": "q-3", "type": "pain", "score": 2, "context": "rest", "measured_at": ago(e, 24*time.Hour)},
		obj{"type": "weight", "value": 60.1, "measured_at": ago(e, 2*time.Hour)},             // no id
		obj{"id": "q-5", "type": "weight", "value": "60", "measured_at": ago(e, time.Hour)},  // wrong JSON type
		obj{"id": "q-1", "type": "weight", "value": 99, "measured_at": ago(e, 72*time.Hour)}, // q-1 again, other body
	}
	b := batch(t, e, tok, p2, items)
	var got []string
	for _, r := range b.Results {
		s := fmt.Sprintf("%d:%s:%d", r.Index, r.ID, r.Status)
		if r.Error != nil {
			s += ":" + r.Error.Code + "@" + fmt.Sprint(r.Error.Details["field"])
		}
		got = append(got, s)
	}
	want := []string{
		"0:q-1:201", "1:q-2:400:systolic_not_above_diastolic@systolic", "2:q-3:201",
		"3::400:missing_field@id", "4:q-5:400:invalid_field_type@value", "5:q-1:409:idempotency_key_reused@<nil>",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || b.Accepted != 2 || b.Rejected != 4 {
		t.Fatalf("results:\n%s\nwant:\n%s\n(accepted %d rejected %d)", strings.Join(got, "\n"), strings.Join(want, "\n"), b.Accepted, b.Rejected)
	}
	if n := countReadings(t, e, p2); n != 2 {
		t.Fatalf("%d readings stored, want the 2 good ones", n)
	}

	// The queue is resent after a lost response, with q-2 corrected.
	items[1] = obj{"id": "q-2", "type": "blood_pressure", "systolic": 120, "diastolic": 90, "measured_at": ago(e, 48*time.Hour)}
	again := batch(t, e, tok, p2, items[:3])
	if again.Accepted != 3 || !again.Results[0].Replayed || again.Results[1].Replayed || !again.Results[2].Replayed {
		t.Fatalf("resent batch: %+v", again)
	}
	if again.Results[0].Result.Reading.ID != b.Results[0].Result.Reading.ID {
		t.Fatal("a replayed item must carry the first reading's id")
	}
	if n := countReadings(t, e, p2); n != 3 {
		t.Fatalf("%d readings after the resend, want 3", n)
	}

	// A reading sent alone first (key = its id) and then in a batch is one reading.
	single := obj{"id": "q-9", "type": "spo2", "value": 96, "measured_at": ago(e, 30*time.Minute)}
	if resp := report(e, tok, p2, single, ""); resp.Status != http.StatusCreated {
		t.Fatalf("single: %d", resp.Status)
	}
	if b := batch(t, e, tok, p2, []any{single}); !b.Results[0].Replayed {
		t.Fatalf("batch after single: %+v", b.Results[0])
	}

	t.Run("size limits", func(t *testing.T) {
		many := make([]any, observation.MaxBatch+1)
		for i := range many {
			many[i] = obj{"id": fmt.Sprintf("m-%d", i), "type": "spo2", "value": 97, "measured_at": ago(e, time.Hour)}
		}
		for _, items := range [][]any{many, {}} {
			resp := e.Do(apitest.Request{Method: http.MethodPost, Path: obsPath(p2) + "/batch", Token: tok, Body: obj{"items": items}})
			if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "invalid_batch_size" {
				t.Fatalf("%d items: %d %s", len(items), resp.Status, resp.Body)
			}
		}
		b := batch(t, e, tok, p2, many[:observation.MaxBatch])
		if b.Accepted != observation.MaxBatch {
			t.Fatalf("a full batch of %d: accepted %d", observation.MaxBatch, b.Accepted)
		}
	})
}

func TestWhoMayReportAndRead(t *testing.T) {
	e := apitest.New(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	reading := func() obj { return obj{"type": "spo2", "value": 97, "measured_at": ago(e, time.Minute)} }
	type actor struct{ token, cookie, csrf string }
	cm1, cm2 := e.LoginStaff("cm1"), e.LoginStaff("cm2")
	actors := map[string]actor{
		"anonymous": {},
		"patient1":  {token: e.LoginWeChat("patient1").AccessToken},
		"patient2":  {token: e.LoginWeChat("patient2").AccessToken},
		"family1":   {token: e.LoginWeChat("family1").AccessToken}, // patient1's daughter: report + view_vitals
		"family2":   {token: e.LoginWeChat("family2").AccessToken}, // patient3's son: appointments only
		"cm1":       {cookie: cm1.Cookie, csrf: cm1.CSRF},
		"cm2":       {cookie: cm2.Cookie, csrf: cm2.CSRF},
	}
	cases := []struct {
		actor, patient string
		wantPost       int
		wantGet        int
	}{
		{"anonymous", p1, 401, 401},
		{"patient1", p1, 201, 200},
		{"patient2", p1, 404, 404},
		{"family1", p1, 201, 200},
		{"family2", p3, 404, 404},
		{"cm1", p1, 404, 200}, // staff read vitals; they do not report for the patient
		{"cm2", p1, 404, 404},
	}
	for _, tc := range cases {
		t.Run(tc.actor, func(t *testing.T) {
			a := actors[tc.actor]
			post := e.Do(apitest.Request{Method: http.MethodPost, Path: obsPath(tc.patient), Token: a.token, Cookie: a.cookie, CSRF: a.csrf, Body: reading()})
			if post.Status != tc.wantPost {
				t.Fatalf("POST: %d %s, want %d", post.Status, post.Body, tc.wantPost)
			}
			for _, path := range []string{obsPath(tc.patient), "/api/v1/patients/" + tc.patient + "/trends/spo2", "/api/v1/patients/" + tc.patient + "/alerts"} {
				get := e.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: a.token, Cookie: a.cookie})
				if get.Status != tc.wantGet {
					t.Fatalf("GET %s: %d %s, want %d", path, get.Status, get.Body, tc.wantGet)
				}
			}
		})
	}
	t.Run("a relative's report records who reported it", func(t *testing.T) {
		b := mustReport(t, e, actors["family1"].token, p1, reading())
		if b.Reading.Source.OnBehalfOf != e.Demo.Users["fake-openid-family1"] || b.Reading.Source.Kind != "manual" {
			t.Fatalf("source %+v, want on_behalf_of = family1's user id", b.Reading.Source)
		}
		own := mustReport(t, e, actors["patient1"].token, p1, reading())
		if own.Reading.Source.OnBehalfOf != "" {
			t.Fatalf("the patient's own report: %+v", own.Reading.Source)
		}
	})
	t.Run("a revoked relative can no longer report", func(t *testing.T) {
		e.App.DB.Exec("UPDATE family_links SET status = 'revoked' WHERE patient_id = ?", p1)
		if resp := report(e, actors["family1"].token, p1, reading(), ""); resp.Status != http.StatusNotFound {
			t.Fatalf("got %d, want 404", resp.Status)
		}
	})
}

func TestListPagesNewestMeasuredFirst(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	tok := e.LoginWeChat("patient2").AccessToken
	for i := 1; i <= 5; i++ { // sent out of order: measured 5, 4, … hours ago, shuffled
		h := []int{3, 1, 5, 2, 4}[i-1]
		mustReport(t, e, tok, p2, obj{"id": fmt.Sprintf("r%d", h), "type": "weight", "value": 60 + float64(h)/10, "measured_at": ago(e, time.Duration(h)*time.Hour)})
	}
	mustReport(t, e, tok, p2, obj{"type": "spo2", "value": 97, "measured_at": ago(e, 0)})
	var ids []string
	cursor := ""
	for page := 0; page < 5; page++ {
		resp := e.Do(apitest.Request{Method: http.MethodGet, Path: obsPath(p2) + "?type=weight&limit=2&cursor=" + cursor, Token: tok})
		var body struct {
			Items []struct {
				ClientID string `json:"client_id"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		resp.JSON(t, &body)
		for _, it := range body.Items {
			ids = append(ids, it.ClientID)
		}
		if cursor = body.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(ids, ",") != "r1,r2,r3,r4,r5" {
		t.Fatalf("pages: %v", ids)
	}
	for _, q := range []string{"?type=cholesterol", "?cursor=garbage", "?limit=500"} {
		if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: obsPath(p2) + q, Token: tok}); resp.Status != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400", q, resp.Status)
		}
	}
}

func TestSymptomChecklist(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p2 + "/symptom-checklist", Token: e.LoginWeChat("patient2").AccessToken})
	var body struct {
		Items []observation.Symptom `json:"items"`
	}
	resp.JSON(t, &body)
	if resp.Status != http.StatusOK || len(body.Items) != len(observation.DefaultSymptoms) || body.Items[0].Code != "dyspnea" {
		t.Fatalf("checklist: %d %s", resp.Status, resp.Body)
	}
}
