package auth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/config"
)

// Two instances behind a proxy, each caching checked sessions for an hour
// (far longer than the test): a logout or a deactivation through one must
// stop the token on the other, which only the revocation hint can explain.
func TestSessionCacheIsInvalidatedOnEveryInstance(t *testing.T) {
	longCache := func(c *config.Config) { c.Auth.SessionCacheTTL = 5 * time.Minute }
	a := apitest.New(t, longCache)
	b := a.SecondInstance()
	for _, e := range []*apitest.Env{a, b} {
		apitest.WaitFor(t, "session cache subscribed", e.App.Auth.SessionCacheLive)
	}

	// The cache is really used: a revocation written behind the service's
	// back (no hint) is not seen by b until its entry expires.
	quiet := a.LoginWeChat("quiet")
	if got := me(b, quiet.AccessToken).Status; got != http.StatusOK {
		t.Fatalf("GET /me on b: %d", got)
	}
	if err := a.App.DB.Exec("UPDATE auth_sessions SET revoked_at = ? WHERE subject_id = ?", time.Now().UTC(), quiet.UserID).Error; err != nil {
		t.Fatal(err)
	}
	if got := me(b, quiet.AccessToken).Status; got != http.StatusOK {
		t.Fatalf("b answered %d for a cached session revoked without a hint; the cache is not in use", got)
	}
	if got := me(a.SecondInstance(), quiet.AccessToken).Status; got != http.StatusUnauthorized {
		t.Fatalf("a new instance (empty cache) answered %d for a revoked session, want 401", got)
	}

	// Logout through a: b refuses the token.
	out := a.LoginWeChat("patient1")
	if got := me(b, out.AccessToken).Status; got != http.StatusOK {
		t.Fatalf("GET /me on b: %d", got)
	}
	if resp := a.Do(apitest.Request{Method: http.MethodPost, Path: logoutPath, Token: out.AccessToken}); resp.Status != http.StatusNoContent && resp.Status != http.StatusOK {
		t.Fatalf("logout: %d %s", resp.Status, resp.Body)
	}
	if got := me(a, out.AccessToken).Status; got != http.StatusUnauthorized {
		t.Fatalf("a answered %d after its own logout, want 401 at once", got)
	}
	apitest.WaitFor(t, "b refuses the logged-out token", func() bool { return me(b, out.AccessToken).Status == http.StatusUnauthorized })

	// Deactivation through a ends every session of the account on b.
	bystander := a.LoginWeChat("bystander")
	if got := me(b, bystander.AccessToken).Status; got != http.StatusOK {
		t.Fatalf("GET /me on b: %d", got)
	}
	first, second := a.LoginWeChat("leaver"), a.LoginWeChat("leaver")
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		if got := me(b, tok).Status; got != http.StatusOK {
			t.Fatalf("GET /me on b: %d", got)
		}
	}
	resp := a.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/deactivate", Token: first.AccessToken,
		Body: map[string]string{"confirm": "注销"}})
	if resp.Status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", resp.Status, resp.Body)
	}
	apitest.WaitFor(t, "b refuses both sessions of the deactivated account", func() bool {
		return me(b, first.AccessToken).Status == http.StatusUnauthorized && me(b, second.AccessToken).Status == http.StatusUnauthorized
	})
	// Another account's cached session is untouched.
	if got := me(b, bystander.AccessToken).Status; got != http.StatusOK {
		t.Fatalf("an unrelated cached session answered %d after another account's deactivation, want 200", got)
	}

	// The desk's cookie sessions: a logout through a ends the cookie on b,
	// and an administrator disabling an account ends all its sessions.
	desk := a.LoginStaff("cm1")
	cookieMe := func(e *apitest.Env, s apitest.StaffSession) int {
		return e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Cookie: s.Cookie}).Status
	}
	if got := cookieMe(b, desk); got != http.StatusOK {
		t.Fatalf("cookie GET /me on b: %d", got)
	}
	if resp := a.Do(apitest.Request{Method: http.MethodPost, Path: logoutPath, Cookie: desk.Cookie, CSRF: desk.CSRF}); resp.Status >= 300 {
		t.Fatalf("staff logout: %d %s", resp.Status, resp.Body)
	}
	apitest.WaitFor(t, "b refuses the logged-out cookie", func() bool { return cookieMe(b, desk) == http.StatusUnauthorized })

	disabled := a.LoginStaff("cm2")
	if got := cookieMe(b, disabled); got != http.StatusOK {
		t.Fatalf("cookie GET /me on b: %d", got)
	}
	admin := a.LoginStaff("admin")
	if resp := a.Do(apitest.Request{Method: http.MethodPost, Path: "/admin/staff/" + a.Demo.Staff["cm2"] + "/disable", Cookie: admin.Cookie, CSRF: admin.CSRF}); resp.Status >= 400 {
		t.Fatalf("disable cm2: %d %s", resp.Status, resp.Body)
	}
	apitest.WaitFor(t, "b refuses the disabled account's cookie", func() bool { return cookieMe(b, disabled) == http.StatusUnauthorized })
}

// A verified token is remembered, but never past its expiry: a token a
// minute from expiry, checked (and remembered) now, is refused two minutes
// later although the cache would keep the entry for five.
func TestARememberedTokenStillExpires(t *testing.T) {
	e := apitest.New(t, func(c *config.Config) {
		c.Auth.SessionCacheTTL = 5 * time.Minute
		c.Auth.AccessTTL = 15 * time.Minute
	})
	apitest.WaitFor(t, "session cache subscribed", e.App.Auth.SessionCacheLive)
	out := e.LoginWeChat("patient1")
	e.Clock.Advance(14 * time.Minute)
	if got := me(e, out.AccessToken).Status; got != http.StatusOK {
		t.Fatalf("GET /me a minute before expiry: %d", got)
	}
	e.Clock.Advance(2 * time.Minute)
	resp := me(e, out.AccessToken)
	if resp.Status != http.StatusUnauthorized || resp.ErrorCode() != "token_expired" {
		t.Fatalf("GET /me after expiry: %d %s, want 401 token_expired", resp.Status, resp.Body)
	}
}
