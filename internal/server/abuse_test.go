package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/carepath/carepath/api"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/config"
)

func TestBodiesOverOneMebibyteAreRefusedWith413(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	patient := e.LoginWeChat("patient1").AccessToken
	cm := e.LoginStaff("cm1")
	big := `{"type":"body_temperature","note":"` + strings.Repeat("x", 1<<20) + `"}`

	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: patient, Body: big})
	if resp.Status != http.StatusRequestEntityTooLarge || resp.ErrorCode() != "body_too_large" || !strings.Contains(string(resp.Body), "请求体过大") {
		t.Fatalf("2 MiB observation: %d %.200s, want 413 body_too_large", resp.Status, resp.Body)
	}
	resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients", Cookie: cm.Cookie, CSRF: cm.CSRF, Body: big})
	if resp.Status != http.StatusRequestEntityTooLarge || resp.ErrorCode() != "body_too_large" {
		t.Fatalf("2 MiB staff body: %d %.200s, want 413", resp.Status, resp.Body)
	}
	// Nothing was stored, and a body under the limit still reaches the handler.
	var n int64
	e.App.DB.Table("observations").Where("patient_id = ? AND type = ?", p1, "body_temperature").Count(&n)
	resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/observations", Token: patient,
		Body: `{"type":"body_temperature","note":"` + strings.Repeat("x", 500<<10) + `"}`})
	if resp.Status == http.StatusRequestEntityTooLarge || resp.Status >= 500 {
		t.Fatalf("500 KiB body: %d, want the handler's answer", resp.Status)
	}
	var after int64
	e.App.DB.Table("observations").Where("patient_id = ? AND type = ?", p1, "body_temperature").Count(&after)
	if resp.Status >= 400 && after != n {
		t.Fatalf("a refused body left %d observations", after-n)
	}
}

func TestAbuseLimitsAnswer429WithRetryAfter(t *testing.T) {
	e := apitest.New(t, func(c *config.Config) {
		c.Limits.StaffLoginPerIP, c.Limits.WeChatLoginPerIP = 3, 4
		c.Limits.MessagesPerUser, c.Limits.InvitationsPerUser = 2, 1
	})
	p1 := e.Demo.Patients["patient1"]
	want429 := func(what string, resp apitest.Response) {
		t.Helper()
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.Status != http.StatusTooManyRequests || resp.ErrorCode() != "too_many_requests" || err != nil || secs < 1 || secs > 60 {
			t.Fatalf("%s: %d Retry-After %q %s, want 429 too_many_requests with a wait within the minute", what, resp.Status, resp.Header.Get("Retry-After"), resp.Body)
		}
	}
	// Staff login: 3 per minute per IP, whatever the account or password.
	for i, u := range []string{"cm1", "cm2", "nobody"} {
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/staff/login", Body: map[string]string{"username": u, "password": "wrong"}})
		if resp.Status == http.StatusTooManyRequests {
			t.Fatalf("attempt %d refused early", i+1)
		}
	}
	want429("4th staff login", e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/staff/login", Body: map[string]string{"username": "cm1", "password": apitest.Password}}))
	// WeChat login (code2session): 4 per minute per IP.
	patient := e.LoginWeChat("patient1").AccessToken
	e.LoginWeChat("patient2")
	family := e.LoginWeChat("family1").AccessToken
	e.LoginWeChat("stranger")
	want429("5th WeChat login", e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/wechat/login", Body: map[string]string{"code": "test-patient3~99"}}))

	// Messages: 2 per minute per user; the family member has a count of their own.
	send := func(tok, id string) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/thread/messages", Token: tok,
			Body: map[string]string{"kind": "text", "text": "您好", "client_msg_id": id}})
	}
	for _, id := range []string{"m1", "m2"} {
		if resp := send(patient, id); resp.Status >= 300 {
			t.Fatalf("message %s: %d %s", id, resp.Status, resp.Body)
		}
	}
	want429("3rd message", send(patient, "m3"))
	var stored int64
	e.App.DB.Table("messages").Where("client_msg_id = ?", "m3").Count(&stored)
	if stored != 0 {
		t.Fatal("a refused message was stored")
	}
	if resp := send(family, "f1"); resp.Status >= 300 {
		t.Fatalf("another user's message: %d %s", resp.Status, resp.Body)
	}

	// Invitations: 1 per minute per user.
	invite := func() apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/family/invitations", Token: patient,
			Body: map[string]any{"relationship": "亲属", "scopes": []string{"view_plan"}}})
	}
	if resp := invite(); resp.Status >= 300 {
		t.Fatalf("first invitation: %d %s", resp.Status, resp.Body)
	}
	want429("2nd invitation", invite())
}

func TestSecurityHeaders(t *testing.T) {
	e := apitest.New(t)
	page := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/login"})
	csp := page.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("admin CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("admin CSP allows inline code: %q", csp)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
		if got := page.Header.Get(h); got != want {
			t.Errorf("admin page %s = %q, want %q", h, got, want)
		}
	}
	if page.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}
	p1 := e.Demo.Patients["patient1"]
	api := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1, Token: e.LoginWeChat("patient1").AccessToken})
	if api.Status != http.StatusOK || api.Header.Get("X-Content-Type-Options") != "nosniff" || api.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("patient data: %d nosniff=%q cache=%q, want nosniff and no-store", api.Status, api.Header.Get("X-Content-Type-Options"), api.Header.Get("Cache-Control"))
	}

	secure := apitest.New(t, func(c *config.Config) { c.HTTP.PublicURL = "https://carepath.example.cn" })
	if got := secure.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/login"}).Header.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=") {
		t.Errorf("HSTS over HTTPS = %q", got)
	}
}

// TestEveryListIsBounded: every answer with a list of items takes a limit
// with a maximum in the contract, and a limit above it is refused.
func TestEveryListIsBounded(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	if err != nil {
		t.Fatal(err)
	}
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	patient := e.LoginWeChat("patient1").AccessToken
	cm := e.LoginStaff("cm1")
	checked := 0
	for path, item := range doc.Paths.Map() {
		op := item.Get
		if op == nil || op.Responses.Status(200) == nil || op.Responses.Status(200).Value == nil {
			continue
		}
		mt := op.Responses.Status(200).Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			continue
		}
		items := mt.Schema.Value.Properties["items"]
		if items == nil || items.Value == nil || !items.Value.Type.Is("array") {
			continue
		}
		var limit *openapi3.Parameter
		for _, p := range op.Parameters {
			if p.Value != nil && p.Value.In == "query" && p.Value.Name == "limit" {
				limit = p.Value
			}
		}
		if limit == nil || limit.Schema == nil || limit.Schema.Value.Max == nil {
			// Fixed, small lists (a pathway's stages, the quick replies) say so with x-bounded.
			if _, ok := op.Extensions["x-bounded"]; !ok {
				t.Errorf("GET %s returns a list without a bounded limit (or x-bounded saying why it is small)", path)
			}
			continue
		}
		checked++
		max := int(*limit.Schema.Value.Max)
		url := strings.ReplaceAll(path, "{patientID}", p1) + "?limit=" + strconv.Itoa(max+1)
		req := apitest.Request{Method: http.MethodGet, Path: url, Token: patient}
		if !strings.Contains(path, "{patientID}") {
			req.Token, req.Cookie = "", cm.Cookie
		}
		if strings.Contains(strings.ReplaceAll(path, "{patientID}", ""), "{") {
			continue // lists under another object: limit checked by the contract only
		}
		resp := e.Do(req)
		if policyDenial(resp) { // the patient may not: ask as the CM
			req.Token, req.Cookie = "", cm.Cookie
			resp = e.Do(req)
		}
		if resp.Status != http.StatusBadRequest {
			t.Errorf("GET %s?limit=%d: %d, want 400 (the limit is capped at %d)", path, max+1, resp.Status, max)
		}
	}
	if checked < 5 {
		t.Fatalf("only %d bounded lists found", checked)
	}
}
