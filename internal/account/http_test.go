package account_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/outbox"
)

type obj = map[string]any

const deactivate = "/api/v1/me/deactivate"

// revokedEvents counts family.link_revoked outbox events whose payload has want.
func revokedEvents(t *testing.T, e *apitest.Env, want string) int {
	t.Helper()
	var events []outbox.Event
	if err := e.App.DB.Where("topic = ?", family.TaskLinkRevoked).Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if strings.Contains(string(ev.Payload), want) {
			n++
		}
	}
	return n
}

func count(t *testing.T, e *apitest.Env, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.App.DB.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPatientDeactivates walks every promised effect of a patient's
// deactivation, and that the clinical record stays.
func TestPatientDeactivates(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1")
	family := e.LoginWeChat("family1")
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1, Token: family.AccessToken}); r.Status != http.StatusOK {
		t.Fatalf("family1 before: %d", r.Status)
	}
	// A pending invitation and push credits to be ended.
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/family/invitations", Token: tok.AccessToken,
		Body: obj{"relationship": "儿子", "scopes": []string{"view_plan"}}}); r.Status != http.StatusCreated {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindReadingAttention)
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/subscriptions", Token: tok.AccessToken,
		Body: obj{"results": []map[string]string{{"template_id": tmpl.TemplateID, "result": "accept"}}}}); r.Status >= 300 {
		t.Fatalf("subscribe: %d %s", r.Status, r.Body)
	}
	if count(t, e, "push_subscriptions", "user_id = ? AND quota > 0", tok.UserID) == 0 {
		t.Fatal("no push credit to clear")
	}
	readings := count(t, e, "observations", "patient_id = ?", p1)
	messages := count(t, e, "thread_messages", "thread_id IN (SELECT id FROM message_threads WHERE patient_id = ?)", p1)

	// Refused without the confirmation word, and nothing changes.
	for _, body := range []obj{{}, {"confirm": "确定"}} {
		r := e.Do(apitest.Request{Method: http.MethodPost, Path: deactivate, Token: tok.AccessToken, Body: body})
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "confirm_required" {
			t.Fatalf("body %v: %d %s, want 400 confirm_required", body, r.Status, r.Body)
		}
	}
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: deactivate, Token: tok.AccessToken,
		Body: obj{"confirm": "注销", "reason": strings.Repeat("长", 201)}}); r.Status != http.StatusBadRequest {
		t.Fatalf("long reason: %d", r.Status)
	}
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Token: tok.AccessToken}); r.Status != http.StatusOK {
		t.Fatalf("a refused deactivation changed something: /me %d", r.Status)
	}

	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: deactivate, Token: tok.AccessToken, Body: obj{"confirm": "注销", "reason": "不再需要"}})
	if resp.Status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", resp.Status, resp.Body)
	}
	var out struct {
		DeactivatedAt string `json:"deactivated_at"`
		Notice        string `json:"records_retained_notice"`
	}
	resp.JSON(t, &out)
	if !strings.Contains(out.Notice, "临床记录") || out.DeactivatedAt == "" {
		t.Errorf("response %s", resp.Body)
	}

	t.Run("sessions and tokens revoked", func(t *testing.T) {
		if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Token: tok.AccessToken}); r.Status != http.StatusUnauthorized {
			t.Errorf("access token after: %d, want 401", r.Status)
		}
		if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Body: obj{"refresh_token": tok.RefreshToken}}); r.Status != http.StatusUnauthorized {
			t.Errorf("refresh token after: %d, want 401", r.Status)
		}
		if n := count(t, e, "auth_sessions", "subject_id = ? AND revoked_at IS NULL", tok.UserID); n != 0 {
			t.Errorf("%d sessions still open", n)
		}
	})
	t.Run("WeChat unlinked", func(t *testing.T) {
		if n := count(t, e, "users", "id = ? AND open_id IS NULL AND union_id IS NULL AND status = ? AND phone_index IS NULL", tok.UserID, "deactivated"); n != 1 {
			t.Error("the user row still carries its openid, phone or active status")
		}
	})
	t.Run("pushes stopped", func(t *testing.T) {
		if n := count(t, e, "push_subscriptions", "user_id = ? AND (quota > 0 OR long_term = ?)", tok.UserID, true); n != 0 {
			t.Errorf("%d subscriptions can still send", n)
		}
	})
	t.Run("family links and invitations revoked", func(t *testing.T) {
		if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1, Token: family.AccessToken}); r.Status != http.StatusNotFound {
			t.Errorf("family1 after: %d, want 404", r.Status)
		}
		if n := count(t, e, "family_links", "patient_id = ? AND status = ?", p1, "active"); n != 0 {
			t.Errorf("%d links still active", n)
		}
		if n := count(t, e, "family_invitations", "patient_id = ? AND status = ?", p1, "pending"); n != 0 {
			t.Errorf("%d invitations still pending", n)
		}
		if n := revokedEvents(t, e, "account_deactivated"); n == 0 {
			t.Error("no family.link_revoked event: the relative's sockets would stay open")
		}
	})
	t.Run("recorded and audited", func(t *testing.T) {
		if n := count(t, e, "account_deactivations", "user_id = ? AND patient_id = ? AND links_revoked >= 1 AND invitations_withdrawn >= 1", tok.UserID, p1); n != 1 {
			t.Errorf("deactivation records: %d", n)
		}
		// The reason is sealed at rest (app's reseal test opens it).
		if n := count(t, e, "account_deactivations", "user_id = ? AND reason_sealed = ? AND reason <> '' AND reason NOT LIKE ?", tok.UserID, true, "%不再需要%"); n != 1 {
			t.Errorf("the deactivation reason is not sealed: %d sealed records", n)
		}
		if n := count(t, e, "audit_events", "actor_id = ? AND action = ? AND result = ?", tok.UserID, "POST /api/v1/me/deactivate", "ok"); n != 1 {
			t.Errorf("audit events: %d", n)
		}
	})
	t.Run("clinical records kept", func(t *testing.T) {
		if n := count(t, e, "patients", "id = ?", p1); n != 1 {
			t.Error("the patient record is gone")
		}
		if n := count(t, e, "observations", "patient_id = ?", p1); n != readings {
			t.Errorf("readings %d, were %d", n, readings)
		}
		if n := count(t, e, "thread_messages", "thread_id IN (SELECT id FROM message_threads WHERE patient_id = ?)", p1); n != messages {
			t.Errorf("messages %d, were %d", n, messages)
		}
	})
	t.Run("the same WeChat later is a fresh user with no access", func(t *testing.T) {
		again := e.LoginWeChat("patient1")
		if again.UserID == tok.UserID || !again.NewUser {
			t.Fatalf("login after deactivation: user %s new %v, want a new user", again.UserID, again.NewUser)
		}
		if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1, Token: again.AccessToken}); r.Status != http.StatusNotFound {
			t.Errorf("fresh user reads the old patient: %d, want 404", r.Status)
		}
	})
}

// TestRelativeDeactivates: a relative's deactivation ends their links only.
func TestRelativeDeactivates(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	family := e.LoginWeChat("family1")
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: deactivate, Token: family.AccessToken, Body: obj{"confirm": "注销"}}); r.Status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", r.Status, r.Body)
	}
	if n := count(t, e, "family_links", "user_id = ? AND status = ?", family.UserID, "active"); n != 0 {
		t.Errorf("%d of the relative's links still active", n)
	}
	if n := revokedEvents(t, e, family.UserID); n == 0 {
		t.Error("no family.link_revoked event for the relative's link")
	}
	patient := e.LoginWeChat("patient1").AccessToken
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p1, Token: patient}); r.Status != http.StatusOK {
		t.Errorf("the patient after the relative left: %d", r.Status)
	}
}

func TestStaffCannotDeactivate(t *testing.T) {
	e := apitest.New(t)
	s := e.LoginStaff("cm1")
	r := e.Do(apitest.Request{Method: http.MethodPost, Path: deactivate, Cookie: s.Cookie, CSRF: s.CSRF, Body: obj{"confirm": "注销"}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("staff: %d %s, want 403", r.Status, r.Body)
	}
	if n := count(t, e, "staff", "username = ? AND status = ?", "cm1", "active"); n != 1 {
		t.Error("the staff account changed")
	}
}
