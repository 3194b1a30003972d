package auth_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

const (
	loginPath   = "/api/v1/auth/wechat/login"
	refreshPath = "/api/v1/auth/refresh"
	logoutPath  = "/api/v1/auth/logout"
	staffPath   = "/api/v1/auth/staff/login"
)

func me(e *apitest.Env, token string) apitest.Response {
	return e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Token: token})
}

func TestWeChatLoginCreatesTheUserOnceAndKeepsUnionID(t *testing.T) {
	e := apitest.New(t)
	first := e.LoginWeChat("newcomer")
	if !first.NewUser || first.UserID == "" {
		t.Fatalf("first login: new_user=%v user_id=%q, want a new user", first.NewUser, first.UserID)
	}
	second := e.LoginWeChat("newcomer")
	if second.NewUser || second.UserID != first.UserID {
		t.Fatalf("second login: new_user=%v user_id=%q, want the same user %q", second.NewUser, second.UserID, first.UserID)
	}
	var union string
	if err := e.App.DB.Table("users").Select("union_id").Where("id = ?", first.UserID).Scan(&union).Error; err != nil {
		t.Fatal(err)
	}
	if union != "fake-unionid-newcomer" {
		t.Fatalf("union_id = %q, want fake-unionid-newcomer", union)
	}
	resp := me(e, second.AccessToken)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /me: %d %s", resp.Status, resp.Body)
	}
	var body struct {
		Kind    string `json:"kind"`
		Patient any    `json:"patient"`
	}
	resp.JSON(t, &body)
	if body.Kind != "user" || body.Patient != nil {
		t.Fatalf("a newcomer is a user with no patient record, got %s", resp.Body)
	}
}

func TestLoginNeverRevealsTheSessionKey(t *testing.T) {
	e := apitest.New(t)
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: loginPath, Body: map[string]string{"code": "test-patient1"}})
	if resp.Status != http.StatusOK {
		t.Fatalf("login: %d %s", resp.Status, resp.Body)
	}
	if strings.Contains(strings.ToLower(string(resp.Body)), "session_key") {
		t.Fatalf("login response mentions the session key: %s", resp.Body)
	}
	var cols []string
	rows, err := e.App.DB.Raw("SELECT * FROM users LIMIT 1").Rows()
	if err != nil {
		t.Fatal(err)
	}
	cols, _ = rows.Columns()
	rows.Close()
	for _, c := range cols {
		if strings.Contains(c, "session") {
			t.Fatalf("users table keeps %s; the session key must not be stored", c)
		}
	}
}

func TestWeChatLoginBadInput(t *testing.T) {
	e := apitest.New(t)
	e.Do(apitest.Request{Method: http.MethodPost, Path: loginPath, Body: map[string]string{"code": "test-once"}})
	cases := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"reused code", map[string]string{"code": "test-once"}, http.StatusUnauthorized, "wechat_code_used"},
		{"unknown code", map[string]string{"code": "not-a-code"}, http.StatusUnauthorized, "wechat_code_invalid"},
		{"rate limited", map[string]string{"code": "ratelimit-x"}, http.StatusTooManyRequests, "wechat_rate_limited"},
		{"risky user", map[string]string{"code": "blocked-x"}, http.StatusForbidden, "wechat_user_blocked"},
		{"wechat busy", map[string]string{"code": "busy-x"}, http.StatusServiceUnavailable, "dependency_unavailable"},
		{"malformed json", `{"code":`, http.StatusBadRequest, "malformed_json"},
		{"missing code", map[string]string{}, http.StatusBadRequest, "invalid_field"},
		{"code of wrong type", `{"code": 42}`, http.StatusBadRequest, "invalid_field_type"},
		{"empty body", "", http.StatusBadRequest, "empty_body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.Do(apitest.Request{Method: http.MethodPost, Path: loginPath, Body: tc.body})
			if resp.Status != tc.wantStatus || resp.ErrorCode() != tc.wantCode {
				t.Fatalf("got %d %s, want %d %s", resp.Status, resp.Body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	t.Run("field named", func(t *testing.T) {
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: loginPath, Body: `{"code": 42}`})
		if !strings.Contains(string(resp.Body), `"field":"code"`) {
			t.Fatalf("error does not name the field: %s", resp.Body)
		}
	})
}

func TestWeChatUnreachableIs503(t *testing.T) {
	e := apitest.New(t)
	e.Fake.SetDown(true)
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: loginPath, Body: map[string]string{"code": "test-patient1"}})
	if resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "dependency_unavailable" {
		t.Fatalf("got %d %s, want 503 dependency_unavailable", resp.Status, resp.Body)
	}
	e.Fake.Close()
	resp = e.Do(apitest.Request{Method: http.MethodPost, Path: loginPath, Body: map[string]string{"code": "test-patient1"}})
	if resp.Status != http.StatusServiceUnavailable {
		t.Fatalf("with WeChat closed got %d %s, want 503", resp.Status, resp.Body)
	}
}

func refresh(e *apitest.Env, token string) apitest.Response {
	return e.Do(apitest.Request{Method: http.MethodPost, Path: refreshPath, Body: map[string]string{"refresh_token": token}})
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	e := apitest.New(t)
	login := e.LoginWeChat("patient1")

	resp := refresh(e, login.RefreshToken)
	if resp.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", resp.Status, resp.Body)
	}
	var rotated apitest.Tokens
	resp.JSON(t, &rotated)
	if rotated.RefreshToken == login.RefreshToken || rotated.AccessToken == "" {
		t.Fatal("refresh must return a new refresh token and an access token")
	}
	if got := me(e, rotated.AccessToken).Status; got != http.StatusOK {
		t.Fatalf("new access token: GET /me = %d", got)
	}

	// The first refresh token is replayed: the session is presumed stolen.
	resp = refresh(e, login.RefreshToken)
	if resp.Status != http.StatusUnauthorized || resp.ErrorCode() != "refresh_token_reused" {
		t.Fatalf("replayed refresh token: got %d %s, want 401 refresh_token_reused", resp.Status, resp.Body)
	}
	if resp := refresh(e, rotated.RefreshToken); resp.Status != http.StatusUnauthorized {
		t.Fatalf("after a reuse the newest refresh token must be dead too, got %d", resp.Status)
	}
	for name, tok := range map[string]string{"first": login.AccessToken, "rotated": rotated.AccessToken} {
		if resp := me(e, tok); resp.Status != http.StatusUnauthorized {
			t.Fatalf("%s access token after reuse: GET /me = %d, want 401", name, resp.Status)
		}
	}
	// Another login of the same person is a separate family and unaffected.
	other := e.LoginWeChat("patient1")
	if resp := me(e, other.AccessToken); resp.Status != http.StatusOK {
		t.Fatalf("a fresh login after the revocation: %d", resp.Status)
	}
	if resp := refresh(e, "no-such-token"); resp.Status != http.StatusUnauthorized || resp.ErrorCode() != "refresh_token_invalid" {
		t.Fatalf("unknown refresh token: %d %s", resp.Status, resp.Body)
	}
}

func TestTokensExpire(t *testing.T) {
	e := apitest.New(t)
	login := e.LoginWeChat("patient2")
	e.Clock.Advance(16 * time.Minute)
	resp := me(e, login.AccessToken)
	if resp.Status != http.StatusUnauthorized || resp.ErrorCode() != "token_expired" {
		t.Fatalf("access token after 16 minutes: %d %s, want 401 token_expired", resp.Status, resp.Body)
	}
	resp = refresh(e, login.RefreshToken)
	if resp.Status != http.StatusOK {
		t.Fatalf("refresh within 30 days: %d %s", resp.Status, resp.Body)
	}
	var next apitest.Tokens
	resp.JSON(t, &next)
	e.Clock.Advance(31 * 24 * time.Hour)
	if resp := refresh(e, next.RefreshToken); resp.Status != http.StatusUnauthorized {
		t.Fatalf("refresh token past the session's 30 days: %d, want 401", resp.Status)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	e := apitest.New(t)
	login := e.LoginWeChat("patient1")
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: logoutPath}); resp.Status != http.StatusUnauthorized {
		t.Fatalf("logout without a token: %d, want 401", resp.Status)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: logoutPath, Token: login.AccessToken}); resp.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.Status, resp.Body)
	}
	if resp := me(e, login.AccessToken); resp.Status != http.StatusUnauthorized {
		t.Fatalf("access token after logout: %d, want 401", resp.Status)
	}
	if resp := refresh(e, login.RefreshToken); resp.Status != http.StatusUnauthorized {
		t.Fatalf("refresh token after logout: %d, want 401", resp.Status)
	}
}

func TestDeletedOrDeactivatedUserIsUnauthorized(t *testing.T) {
	e := apitest.New(t)
	a := e.LoginWeChat("leaving")
	if err := e.App.DB.Exec("DELETE FROM users WHERE id = ?", a.UserID).Error; err != nil {
		t.Fatal(err)
	}
	if resp := me(e, a.AccessToken); resp.Status != http.StatusUnauthorized {
		t.Fatalf("token of a deleted user: %d, want 401", resp.Status)
	}
	b := e.LoginWeChat("patient2")
	e.App.DB.Exec("UPDATE users SET status = 'deactivated' WHERE id = ?", b.UserID)
	if resp := me(e, b.AccessToken); resp.Status != http.StatusUnauthorized {
		t.Fatalf("token of a deactivated user: %d, want 401", resp.Status)
	}
	if resp := refresh(e, b.RefreshToken); resp.Status != http.StatusUnauthorized {
		t.Fatalf("refresh of a deactivated user: %d, want 401", resp.Status)
	}
}

func TestForgedOrMalformedTokens(t *testing.T) {
	e := apitest.New(t)
	login := e.LoginWeChat("patient1")
	parts := strings.Split(login.AccessToken, ".")
	forged := parts[0] + "." + parts[1] + ".c2lnbmF0dXJl"
	for name, header := range map[string]string{
		"forged signature": "Bearer " + forged,
		"not a jwt":        "Bearer abc",
		"wrong scheme":     "Basic " + login.AccessToken,
		"alg none":         "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".",
	} {
		resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Headers: map[string]string{"Authorization": header}})
		if resp.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, resp.Status)
		}
	}
}

func staffLogin(e *apitest.Env, username, password string) apitest.Response {
	return e.Do(apitest.Request{Method: http.MethodPost, Path: staffPath, Body: map[string]string{"username": username, "password": password}})
}

func TestStaffLoginGivesACookieSessionWithCSRF(t *testing.T) {
	e := apitest.New(t)
	resp := staffLogin(e, "cm1", apitest.Password)
	if resp.Status != http.StatusOK {
		t.Fatalf("staff login: %d %s", resp.Status, resp.Body)
	}
	setCookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"carepath_session=", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(setCookie, want) {
			t.Fatalf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	s := e.LoginStaff("cm1")
	resp = e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Cookie: s.Cookie})
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"role":"cm"`) {
		t.Fatalf("GET /me with the cookie: %d %s", resp.Status, resp.Body)
	}
	// Unsafe requests need the CSRF token, so another site cannot act with the cookie.
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: logoutPath, Cookie: s.Cookie}); resp.Status != http.StatusForbidden || resp.ErrorCode() != "csrf_token_invalid" {
		t.Fatalf("logout without CSRF: %d %s, want 403", resp.Status, resp.Body)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: logoutPath, Cookie: s.Cookie, CSRF: "wrong"}); resp.Status != http.StatusForbidden {
		t.Fatalf("logout with a wrong CSRF token: %d, want 403", resp.Status)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: logoutPath, Cookie: s.Cookie, CSRF: s.CSRF}); resp.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.Status, resp.Body)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Cookie: s.Cookie}); resp.Status != http.StatusUnauthorized {
		t.Fatalf("cookie after logout: %d, want 401", resp.Status)
	}
}

func TestStaffSessionsExpireWhenIdle(t *testing.T) {
	e := apitest.New(t)
	s := e.LoginStaff("cm2")
	e.Clock.Advance(20 * time.Minute)
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Cookie: s.Cookie}); resp.Status != http.StatusOK {
		t.Fatalf("after 20 idle minutes: %d, want 200", resp.Status)
	}
	e.Clock.Advance(31 * time.Minute)
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Cookie: s.Cookie}); resp.Status != http.StatusUnauthorized {
		t.Fatalf("after 31 idle minutes: %d, want 401", resp.Status)
	}
}

func TestStaffLockoutAfterRepeatedFailures(t *testing.T) {
	e := apitest.New(t)
	for i := 1; i <= 4; i++ {
		resp := staffLogin(e, "cm1", "wrong-password")
		if resp.Status != http.StatusUnauthorized || resp.ErrorCode() != "invalid_credentials" {
			t.Fatalf("failure %d: %d %s, want 401", i, resp.Status, resp.Body)
		}
	}
	resp := staffLogin(e, "cm1", "wrong-password")
	if resp.Status != http.StatusTooManyRequests || resp.ErrorCode() != "account_locked" {
		t.Fatalf("fifth failure: %d %s, want 429 account_locked", resp.Status, resp.Body)
	}
	// Locked means locked: even the right password is refused.
	if resp := staffLogin(e, "cm1", apitest.Password); resp.Status != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: %d, want 429", resp.Status)
	}
	// Other accounts are unaffected.
	if resp := staffLogin(e, "cm2", apitest.Password); resp.Status != http.StatusOK {
		t.Fatalf("cm2 while cm1 is locked: %d", resp.Status)
	}
	e.Clock.Advance(16 * time.Minute)
	if resp := staffLogin(e, "cm1", apitest.Password); resp.Status != http.StatusOK {
		t.Fatalf("after the lock expired: %d %s, want 200", resp.Status, resp.Body)
	}
	// A success resets the count.
	for i := 0; i < 4; i++ {
		staffLogin(e, "cm1", "wrong-password")
	}
	if resp := staffLogin(e, "cm1", apitest.Password); resp.Status != http.StatusOK {
		t.Fatalf("four failures after a success must not lock: %d", resp.Status)
	}
}

func TestStaffLoginUnknownUserLooksLikeAWrongPassword(t *testing.T) {
	e := apitest.New(t)
	a := staffLogin(e, "nobody", "whatever-password")
	b := staffLogin(e, "cm1", "whatever-password")
	if a.Status != b.Status || a.ErrorCode() != b.ErrorCode() {
		t.Fatalf("unknown user %d %s vs wrong password %d %s: must look the same", a.Status, a.ErrorCode(), b.Status, b.ErrorCode())
	}
}

func TestAdminPageLogin(t *testing.T) {
	e := apitest.New(t)
	page := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/login"})
	if page.Status != http.StatusOK {
		t.Fatalf("login page: %d", page.Status)
	}
	csrf := page.Cookie("carepath_login_csrf")
	if csrf == "" || !strings.Contains(string(page.Body), csrf) {
		t.Fatal("login page must carry its CSRF token in a cookie and the form")
	}
	form := url.Values{"username": {"cm1"}, "password": {apitest.Password}, "csrf_token": {csrf}}
	noCookie := e.Do(apitest.Request{Method: http.MethodPost, Path: "/admin/login", Body: form})
	if noCookie.Status != http.StatusForbidden {
		t.Fatalf("form login without the CSRF cookie: %d, want 403", noCookie.Status)
	}
	ok := e.Do(apitest.Request{Method: http.MethodPost, Path: "/admin/login", Body: form,
		Headers: map[string]string{"Cookie": "carepath_login_csrf=" + csrf}})
	if ok.Status != http.StatusSeeOther || ok.Header.Get("Location") != "/admin" {
		t.Fatalf("form login: %d %s", ok.Status, ok.Header.Get("Location"))
	}
	dash := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin", Cookie: ok.Cookie("carepath_session")})
	if dash.Status != http.StatusOK || !strings.Contains(string(dash.Body), "张建国") {
		t.Fatalf("dashboard: %d, want cm1's patient 张建国 listed", dash.Status)
	}
	if strings.Contains(string(dash.Body), "王志强") {
		t.Fatal("cm1's dashboard lists cm2's patient")
	}
	anon := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin"})
	if anon.Status != http.StatusSeeOther || anon.Header.Get("Location") != "/admin/login" {
		t.Fatalf("dashboard without a session: %d, want a redirect to the login page", anon.Status)
	}
}
