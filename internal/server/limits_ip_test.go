package server_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/config"
)

// staffLoginFrom tries an unknown staff account from peer, with extra
// headers (an unknown account, so no account lockout gets in the way).
func staffLoginFrom(e *apitest.Env, peer string, headers map[string]string) apitest.Response {
	return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/staff/login", RemoteAddr: peer, Headers: headers,
		Body: map[string]string{"username": "nobody", "password": "wrong"}})
}

func is429(t *testing.T, what string, r apitest.Response, want bool) {
	t.Helper()
	got := r.Status == http.StatusTooManyRequests && r.ErrorCode() == "too_many_requests"
	if got != want {
		t.Errorf("%s: %d %s, want 429 = %v", what, r.Status, r.Body, want)
	}
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); got && (err != nil || secs < 1) {
		t.Errorf("%s: 429 without a usable Retry-After (%q)", what, r.Header.Get("Retry-After"))
	}
}

// TestLimitsArePerClientIP: one client exhausting a per-IP limit does not
// lock out another, and with no trusted proxy (the default) a client cannot
// escape its count by claiming another address in X-Forwarded-For or X-Real-IP.
func TestLimitsArePerClientIP(t *testing.T) {
	e := apitest.New(t, func(c *config.Config) { c.Limits.StaffLoginPerIP = 2 })
	const a, b = "203.0.113.1:40000", "203.0.113.2:40000"
	for i := 0; i < 2; i++ {
		is429(t, "A within the limit", staffLoginFrom(e, a, nil), false)
	}
	is429(t, "A over the limit", staffLoginFrom(e, a, nil), true)
	is429(t, "B, another client", staffLoginFrom(e, b, nil), false)
	for _, h := range []map[string]string{
		{"X-Forwarded-For": "198.51.100.7"},
		{"X-Real-IP": "198.51.100.8"},
		{"X-Forwarded-For": "198.51.100.9, 203.0.113.2"},
	} {
		is429(t, "A spoofing "+strconv.Quote(h["X-Forwarded-For"]+h["X-Real-IP"]), staffLoginFrom(e, a, h), true)
	}
}

// TestLimitsBehindATrustedProxy: behind a configured proxy each client is
// counted by the address the proxy reports, and a peer that is not the
// proxy is still counted by its own address whatever it claims.
func TestLimitsBehindATrustedProxy(t *testing.T) {
	e := apitest.New(t, func(c *config.Config) {
		c.Limits.StaffLoginPerIP = 2
		c.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	})
	const proxy, direct = "10.1.2.3:50000", "203.0.113.50:40000"
	viaProxy := func(client string) map[string]string { return map[string]string{"X-Forwarded-For": client} }
	for i := 0; i < 2; i++ {
		is429(t, "client A via the proxy", staffLoginFrom(e, proxy, viaProxy("198.51.100.1")), false)
	}
	is429(t, "client A via the proxy, over", staffLoginFrom(e, proxy, viaProxy("198.51.100.1")), true)
	is429(t, "client B via the same proxy", staffLoginFrom(e, proxy, viaProxy("198.51.100.2")), false)
	// A client prepending a forged hop: the proxy appends the real one, which is counted.
	is429(t, "client A forging a hop", staffLoginFrom(e, proxy, viaProxy("198.51.100.77, 198.51.100.1")), true)
	for i := 0; i < 2; i++ {
		is429(t, "a direct client", staffLoginFrom(e, direct, viaProxy("198.51.100.3")), false)
	}
	is429(t, "a direct client claiming a fresh address", staffLoginFrom(e, direct, viaProxy("198.51.100.4")), true)
}

// TestMessageLimitFollowsTheUser: the per-user message limit counts the
// user wherever they send from; another user on the same address still sends.
func TestMessageLimitFollowsTheUser(t *testing.T) {
	e := apitest.New(t, func(c *config.Config) { c.Limits.MessagesPerUser = 2 })
	p1 := e.Demo.Patients["patient1"]
	patient, family := e.LoginWeChat("patient1").AccessToken, e.LoginWeChat("family1").AccessToken
	send := func(tok, peer, id string) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/thread/messages", Token: tok, RemoteAddr: peer,
			Body: map[string]string{"kind": "text", "text": "您好", "client_msg_id": id}})
	}
	is429(t, "1st message, from home", send(patient, "203.0.113.1:1", "m1"), false)
	is429(t, "2nd message, from the ward", send(patient, "203.0.113.2:1", "m2"), false)
	is429(t, "3rd message, from a third network", send(patient, "203.0.113.3:1", "m3"), true)
	is429(t, "the relative, on the patient's network", send(family, "203.0.113.1:1", "f1"), false)
}
