package server_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
)

// TestLogsCarryNoPersonalData runs a whole day of the service through the
// API — logins, phone binding, readings, messages, a questionnaire with
// free text, a family invitation accepted, staff reading it all, pushes
// handed to the worker, a refresh and a deactivation — with every log line
// (debug included) captured, then looks for what must never be logged:
// phone numbers, names, reading values, message and free text, tokens,
// invitation codes, cookies, session keys.
func TestLogsCarryNoPersonalData(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	base := "/api/v1/patients/" + p1
	must := func(r apitest.Response, want int, what string) apitest.Response {
		t.Helper()
		if r.Status != want {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		return r
	}
	patient := e.LoginWeChat("patient1")
	tok := patient.AccessToken
	secrets := []string{"张建国", "孙伟", "13800000001", "13800000007", "ZY2026001", patient.AccessToken, patient.RefreshToken}

	// A CM-registered patient binds their phone.
	newcomer := e.LoginWeChat("logscan-newcomer")
	secrets = append(secrets, newcomer.AccessToken, newcomer.RefreshToken)
	must(e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/phone", Token: newcomer.AccessToken, Body: obj{"code": "phone-13800000007"}}), http.StatusOK, "bind phone")

	measured := e.Clock.Now().Add(-30 * time.Minute).Format(time.RFC3339)
	for _, body := range []obj{
		{"type": "weight", "value": 73.45, "measured_at": measured},
		{"type": "glucose", "value": 12.34, "unit": "mmol/L", "context": "random", "measured_at": measured},
		{"type": "temperature", "value": 37.65, "measured_at": measured},
		{"type": "blood_pressure", "systolic": 186.5, "diastolic": 117.5, "measured_at": measured},
		{"type": "note", "note": "昨晚睡不好QXZ", "measured_at": measured},
	} {
		must(e.Do(apitest.Request{Method: http.MethodPost, Path: base + "/observations", Token: tok, Body: body}), http.StatusCreated, "report")
	}
	secrets = append(secrets, "73.45", "12.34", "37.65", "186.5", "117.5", "昨晚睡不好QXZ")

	must(e.Do(apitest.Request{Method: http.MethodPost, Path: base + "/thread/messages", Token: tok,
		Body: obj{"client_msg_id": "logscan-1", "text": "我今天头晕得厉害ZQX"}}), http.StatusCreated, "message")
	secrets = append(secrets, "我今天头晕得厉害ZQX")

	cm := e.LoginStaff("cm1")
	secrets = append(secrets, cm.Cookie, cm.CSRF)
	must(e.Do(apitest.Request{Method: http.MethodPost, Path: base + "/thread/messages", Cookie: cm.Cookie, CSRF: cm.CSRF,
		Body: obj{"client_msg_id": "logscan-2", "text": "请多喝水并复测血压QZX"}}), http.StatusCreated, "reply")
	secrets = append(secrets, "请多喝水并复测血压QZX")
	r := must(e.Do(apitest.Request{Method: http.MethodPost, Path: base + "/questionnaires", Cookie: cm.Cookie, CSRF: cm.CSRF,
		Body: obj{"questionnaire": "nps"}}), http.StatusCreated, "assign")
	var assigned struct{ ID string }
	r.JSON(t, &assigned)
	must(e.Do(apitest.Request{Method: http.MethodPost, Path: base + "/questionnaires/" + assigned.ID + "/answers", Token: tok,
		Body: obj{"answers": obj{"recommend": 9, "reason": "护士很耐心XQZ"}}}), http.StatusOK, "answer")
	secrets = append(secrets, "护士很耐心XQZ")

	// Family: invite, preview, accept.
	r = must(e.Do(apitest.Request{Method: http.MethodPost, Path: base + "/family/invitations", Token: tok,
		Body: obj{"relationship": "外甥", "scopes": []string{"view_vitals", "message"}}}), http.StatusCreated, "invite")
	var inv struct{ Code string }
	r.JSON(t, &inv)
	rel := e.LoginWeChat("logscan-relative")
	secrets = append(secrets, inv.Code, rel.AccessToken, rel.RefreshToken)
	must(e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/consents", Token: rel.AccessToken, Body: obj{"kind": "privacy_policy", "version": "2026-01"}}), http.StatusCreated, "consent")
	must(e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/family/invitations/" + inv.Code, Token: rel.AccessToken}), http.StatusOK, "preview")
	must(e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/family/invitations/" + inv.Code + "/accept", Token: rel.AccessToken}), http.StatusOK, "accept")
	must(e.Do(apitest.Request{Method: http.MethodGet, Path: base + "/observations", Token: rel.AccessToken}), http.StatusOK, "relative reads")
	// A wrong code is rejected and must not be logged either.
	e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/family/invitations/WRONGCODEWRONGCODEWRONGCO", Token: rel.AccessToken})
	secrets = append(secrets, "WRONGCODEWRONGCODEWRONGCO")

	// Staff read everything; the pushes and events run through the worker.
	for _, p := range []string{"", "/observations", "/thread/messages", "/questionnaires", "/alerts", "/plan"} {
		must(e.Do(apitest.Request{Method: http.MethodGet, Path: base + p, Cookie: cm.Cookie}), http.StatusOK, "staff reads "+p)
	}
	page := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/patients/" + p1, Cookie: cm.Cookie})
	must(page, http.StatusOK, "desk page")
	e.DeliverEvents()

	// Refresh, a reused refresh token, export, and deactivation.
	r = must(e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Body: obj{"refresh_token": patient.RefreshToken}}), http.StatusOK, "refresh")
	var fresh apitest.Tokens
	r.JSON(t, &fresh)
	secrets = append(secrets, fresh.AccessToken, fresh.RefreshToken)
	must(e.Do(apitest.Request{Method: http.MethodGet, Path: base + "/export", Token: fresh.AccessToken}), http.StatusOK, "export")
	// A reused refresh token ends the session (and is logged as such, without the token).
	e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Body: obj{"refresh_token": patient.RefreshToken}})
	must(e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/deactivate", Token: rel.AccessToken, Body: obj{"confirm": "注销", "reason": "不想用了XZQ"}}), http.StatusOK, "deactivate")
	secrets = append(secrets, "不想用了XZQ")

	logs := e.Logs()
	if strings.Count(logs, "\n") < 20 {
		t.Fatalf("only %d log lines captured: the scan would prove nothing", strings.Count(logs, "\n"))
	}
	// Request durations are numbers that may look like a reading by chance.
	scan := regexp.MustCompile(`"duration_ms":[0-9.e+-]+`).ReplaceAllString(logs, "")
	for _, s := range secrets {
		if s != "" && strings.Contains(scan, s) {
			t.Errorf("the logs contain %q:\n%s", s, lineWith(scan, s))
		}
	}
	// \b: a phone stands alone, not inside a request id's hex.
	for _, pattern := range []string{`\b1[3-9]\d{9}\b`, `(?i)session_?key`, `(?i)bearer\s+\S`, `eyJ[A-Za-z0-9_-]{10,}`} {
		if m := regexp.MustCompile(pattern).FindString(scan); m != "" {
			t.Errorf("the logs match %s (%q):\n%s", pattern, m, lineWith(scan, m))
		}
	}
}

func lineWith(logs, s string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

type obj = map[string]any
