package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/config"
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

// TestLongTermTemplateIsAFlagNotACount: for a long-term template an accept
// turns sending on (no count is spent), and a reject in WeChat's settings
// turns it off.
func TestLongTermTemplateIsAFlagNotACount(t *testing.T) {
	b, err := os.ReadFile("../../configs/notify/templates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), "template_id: tmpl-cm-message\n    type: one_time", "template_id: tmpl-cm-message\n    type: long_term", 1)
	path := filepath.Join(t.TempDir(), "templates.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *config.Config) { c.Notify.Templates = path })
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindCMMessage, "accept", 1)
	for i := range 2 { // the daily cap is 3
		e.request(t, notify.Request{Kind: notify.KindCMMessage, PatientID: p1, Recipients: []string{u1}, DedupeKey: fmt.Sprintf("lt-%d", i), At: e.Clock.Now()})
		e.run(t)
	}
	if n := len(sentWith(e.Fake.Sent(), "fake-openid-patient1", "tmpl-cm-message")); n != 2 {
		t.Fatalf("%d sends on a long-term template after one accept, want 2", n)
	}
	var sub notify.Subscription
	e.App.DB.Where("user_id = ? AND template_id = ?", u1, "tmpl-cm-message").Take(&sub)
	if !sub.LongTerm || sub.Quota != 0 {
		t.Fatalf("subscription %+v, want the long-term flag and no count", sub)
	}
	if err := e.App.Notify.ApplyWeChatEvent(context.Background(), u1, "subscribe_msg_change_event", "tmpl-cm-message", "reject"); err != nil {
		t.Fatal(err)
	}
	e.request(t, notify.Request{Kind: notify.KindCMMessage, PatientID: p1, Recipients: []string{u1}, DedupeKey: "lt-after", At: e.Clock.Now()})
	e.run(t)
	if ps := e.pushes(t, "lt-after"); len(ps) != 1 || ps[0].Status != notify.StatusNoQuota {
		t.Fatalf("after the user turned it off: %+v", ps)
	}
}
