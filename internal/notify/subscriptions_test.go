package notify_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/notify"
)

// TestSubscriptionReportIsIdempotent: the mini-program retries a report
// whose answer it lost; the credit is counted once. The same key with
// other results is refused.
func TestSubscriptionReportIsIdempotent(t *testing.T) {
	e := newEnv(t)
	u1 := e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindCMMessage)
	report := func(key, result string) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/subscriptions", Token: tok,
			Headers: map[string]string{"Idempotency-Key": key},
			Body:    map[string]any{"results": []map[string]string{{"template_id": tmpl.TemplateID, "result": result}}}})
	}
	first := report("sub-0001", "accept")
	again := report("sub-0001", "accept")
	if first.Status != http.StatusOK || again.Status != http.StatusOK || string(first.Body) != string(again.Body) ||
		again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 1 {
		t.Fatalf("quota after a report and its retry: %d, want 1", got)
	}
	if resp := report("sub-0001", "reject"); resp.Status != http.StatusConflict || !contains(resp.Body, "idempotency_key_reused") {
		t.Fatalf("same key, other results: %d %s, want 409", resp.Status, resp.Body)
	}
	if resp := report("sub-0002", "accept"); resp.Status != http.StatusOK || e.quota(t, u1, notify.KindCMMessage) != 2 {
		t.Fatalf("a new key: %d %s, quota %d, want 2", resp.Status, resp.Body, e.quota(t, u1, notify.KindCMMessage))
	}
	if resp := report("bad key!", "accept"); resp.Status != http.StatusBadRequest || !contains(resp.Body, "invalid_idempotency_key") {
		t.Fatalf("bad key: %d %s", resp.Status, resp.Body)
	}
	if got := e.quota(t, u1, notify.KindCMMessage); got != 2 {
		t.Fatalf("quota after refused reports: %d, want 2", got)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
