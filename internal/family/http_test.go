package family_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/demo"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/outbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

// client is one caller: a WeChat user's token or a staff session.
type client struct {
	t      *testing.T
	e      *apitest.Env
	token  string
	userID string
	staff  apitest.StaffSession
}

func user(t *testing.T, e *apitest.Env, name string) client {
	tok := e.LoginWeChat(name)
	return client{t: t, e: e, token: tok.AccessToken, userID: tok.UserID}
}

func staff(t *testing.T, e *apitest.Env, username string) client {
	return client{t: t, e: e, staff: e.LoginStaff(username)}
}

// in is the same caller reporting to t (a subtest).
func (c client) in(t *testing.T) client {
	c.t = t
	return c
}

func (c client) do(method, path string, body any) apitest.Response {
	c.t.Helper()
	return c.e.Do(apitest.Request{Method: method, Path: "/api/v1" + path, Body: body, Token: c.token, Cookie: c.staff.Cookie, CSRF: c.staff.CSRF})
}

// want calls and checks the status (and the error code, for errors).
func (c client) want(status int, code, method, path string, body any) apitest.Response {
	c.t.Helper()
	resp := c.do(method, path, body)
	if resp.Status != status || resp.ErrorCode() != code {
		c.t.Fatalf("%s %s: got %d %s, want %d %s", method, path, resp.Status, resp.Body, status, code)
	}
	return resp
}

func decode[T any](t *testing.T, r apitest.Response) T {
	t.Helper()
	var v T
	r.JSON(t, &v)
	return v
}

type issued struct {
	Invitation struct {
		ID        string    `json:"id"`
		Status    string    `json:"status"`
		ExpiresAt time.Time `json:"expires_at"`
		IssuedBy  string    `json:"issued_by"`
	} `json:"invitation"`
	Code  string `json:"code"`
	Page  string `json:"page"`
	Scene string `json:"scene"`
	Path  string `json:"path"`
}

type member struct {
	ID           string   `json:"id"`
	Relationship string   `json:"relationship"`
	Scopes       []string `json:"scopes"`
	Status       string   `json:"status"`
}

type consentView struct {
	ID             string   `json:"id"`
	Kind           string   `json:"kind"`
	FamilyLinkID   string   `json:"family_link_id"`
	Relationship   string   `json:"relationship"`
	Scopes         []string `json:"scopes"`
	GivenBy        string   `json:"given_by"`
	Method         string   `json:"method"`
	Active         bool     `json:"active"`
	WithdrawReason string   `json:"withdraw_reason"`
	RecordedBy     struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"recorded_by"`
}

type patientConsents struct {
	HealthData struct {
		CurrentVersion string `json:"current_version"`
		Active         bool   `json:"active"`
	} `json:"health_data"`
	Items []consentView `json:"items"`
}

func invite(c client, patientID, relationship string, scopes ...string) issued {
	c.t.Helper()
	resp := c.want(http.StatusCreated, "", http.MethodPost, "/patients/"+patientID+"/family/invitations",
		map[string]any{"relationship": relationship, "scopes": scopes})
	return decode[issued](c.t, resp)
}

func acceptPrivacyPolicy(c client) {
	c.t.Helper()
	c.want(http.StatusCreated, "", http.MethodPost, "/me/consents", map[string]string{"kind": "privacy_policy", "version": "2026-01"})
}

type meRelatives struct {
	Relatives []struct {
		PatientID    string   `json:"patient_id"`
		Name         string   `json:"name"`
		Relationship string   `json:"relationship"`
		Scopes       []string `json:"scopes"`
	} `json:"relatives"`
}

func relatives(c client) meRelatives {
	c.t.Helper()
	return decode[meRelatives](c.t, c.want(http.StatusOK, "", http.MethodGet, "/me", nil))
}

// TestInvitationFlowWithTwoWeChatUsers: patient5 (陈明) consents, invites his
// son, who logs in with WeChat, previews, accepts, follows two relatives,
// loses a scope, and is revoked — each step through the fake WeChat server
// and the HTTP contract.
func TestInvitationFlowWithTwoWeChatUsers(t *testing.T) {
	e := apitest.New(t)
	p5, p1 := e.Demo.Patients["patient5"], e.Demo.Patients["patient1"]
	patient := user(t, e, "patient5")
	son := user(t, e, "chenxiao") // a new WeChat user

	// No sharing before the separate health-data consent (PIPL art. 29).
	patient.want(422, "health_data_consent_required", http.MethodPost, "/patients/"+p5+"/family/invitations",
		map[string]any{"relationship": "儿子", "scopes": []string{"view_plan"}})
	patient.want(422, "consent_version_outdated", http.MethodPost, "/patients/"+p5+"/consents", map[string]string{"kind": "health_data", "version": "2019-01"})
	patient.want(http.StatusCreated, "", http.MethodPost, "/patients/"+p5+"/consents", map[string]string{"kind": "health_data", "version": "2026-01"})
	patient.want(http.StatusOK, "", http.MethodPost, "/patients/"+p5+"/consents", map[string]string{"kind": "health_data", "version": "2026-01"})

	inv := invite(patient, p5, "儿子", "view_vitals", "view_plan")
	if _, ok := family.NormalizeCode(inv.Code); !ok || inv.Scene != inv.Code || len(inv.Scene) > family.MaxSceneLength {
		t.Fatalf("code %q / scene %q: want a 26-character code used as a scene of at most 32", inv.Code, inv.Scene)
	}
	if inv.Page != family.AcceptPage || inv.Path != family.AcceptPage+"?code="+inv.Code || inv.Invitation.Status != "pending" {
		t.Fatalf("issued invitation: %+v", inv)
	}
	if got, want := inv.Invitation.ExpiresAt, e.Clock.Now().Add(72*time.Hour); !got.Equal(want) {
		t.Fatalf("expires at %v, want %v (family.invitation_ttl)", got, want)
	}
	var stored int64
	e.App.DB.Table("family_invitations").Where("code_hash = ?", inv.Code).Count(&stored)
	if stored != 0 {
		t.Fatal("the code itself is stored; only its hash may be")
	}

	// The son previews: who invites him and what he would see, no health data.
	resp := son.want(http.StatusOK, "", http.MethodGet, "/family/invitations/"+strings.ToLower(inv.Code), nil)
	preview := decode[struct {
		PatientName  string `json:"patient_name"`
		Relationship string `json:"relationship"`
		IssuedBy     string `json:"issued_by"`
		Scopes       []struct{ Scope, Label string }
	}](t, resp)
	if preview.PatientName != "陈*" || preview.Relationship != "儿子" || preview.IssuedBy != "patient" ||
		len(preview.Scopes) != 2 || preview.Scopes[0].Scope != "view_plan" || preview.Scopes[0].Label == "" {
		t.Fatalf("preview: %s", resp.Body)
	}
	for _, secret := range []string{"陈明", "ZY2026005", "138", "ORTHO", "risk", p5} {
		if strings.Contains(string(resp.Body), secret) {
			t.Fatalf("the preview leaks %q: %s", secret, resp.Body)
		}
	}

	// Accepting needs the current privacy policy.
	son.want(422, "privacy_policy_required", http.MethodPost, "/family/invitations/"+inv.Code+"/accept", nil)
	mine := decode[struct {
		PrivacyPolicy struct {
			CurrentVersion string `json:"current_version"`
			Accepted       bool   `json:"accepted"`
		} `json:"privacy_policy"`
	}](t, son.want(http.StatusOK, "", http.MethodGet, "/me/consents", nil))
	if mine.PrivacyPolicy.Accepted || mine.PrivacyPolicy.CurrentVersion != "2026-01" {
		t.Fatalf("before accepting the policy: %+v", mine)
	}
	son.want(422, "consent_version_outdated", http.MethodPost, "/me/consents", map[string]string{"kind": "privacy_policy", "version": "2025-06"})
	acceptPrivacyPolicy(son)
	son.want(http.StatusOK, "", http.MethodPost, "/me/consents", map[string]string{"kind": "privacy_policy", "version": "2026-01"})

	accepted := decode[struct {
		LinkID    string   `json:"link_id"`
		PatientID string   `json:"patient_id"`
		Name      string   `json:"name"`
		Scopes    []string `json:"scopes"`
	}](t, son.want(http.StatusOK, "", http.MethodPost, "/family/invitations/"+inv.Code+"/accept", nil))
	if accepted.PatientID != p5 || accepted.Name != "陈明" || strings.Join(accepted.Scopes, ",") != "view_plan,view_vitals" {
		t.Fatalf("accepted: %+v", accepted)
	}
	son.want(http.StatusOK, "", http.MethodGet, "/patients/"+p5, nil)

	// Twice: 409 for him; 410 for anyone else; the patient cannot accept their own.
	son.want(409, "invitation_already_accepted", http.MethodPost, "/family/invitations/"+inv.Code+"/accept", nil)
	son.want(409, "invitation_already_accepted", http.MethodGet, "/family/invitations/"+inv.Code, nil)
	user(t, e, "latecomer").want(410, "invitation_used", http.MethodPost, "/family/invitations/"+inv.Code+"/accept", nil)
	second := invite(patient, p5, "儿子", "view_plan")
	patient.want(422, "invitation_own", http.MethodPost, "/family/invitations/"+second.Code+"/accept", nil)
	son.want(409, "family_link_exists", http.MethodPost, "/family/invitations/"+second.Code+"/accept", nil)

	// The same WeChat user follows a second relative and switches by patient id.
	fromFather := invite(user(t, e, "patient1"), p1, "外孙", "view_appointments")
	son.want(http.StatusOK, "", http.MethodPost, "/family/invitations/"+fromFather.Code+"/accept", nil)
	rel := relatives(son)
	if len(rel.Relatives) != 2 || rel.Relatives[0].PatientID != p5 || rel.Relatives[1].PatientID != p1 || rel.Relatives[1].Relationship != "外孙" ||
		rel.Relatives[0].Name != "陈明" || rel.Relatives[1].Name != "张建国" {
		t.Fatalf("two relatives: %+v", rel)
	}
	son.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1, nil)

	// The patient sees his family and narrows the son's scopes.
	members := decode[struct{ Items []member }](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p5+"/family/members", nil)).Items
	if len(members) != 1 || members[0].ID != accepted.LinkID || members[0].Relationship != "儿子" {
		t.Fatalf("members: %+v", members)
	}
	patient.want(400, "invalid_scope", http.MethodPut, "/patients/"+p5+"/family/members/"+accepted.LinkID+"/scopes", map[string]any{"scopes": []string{"view_everything"}})
	patient.want(400, "scopes_required", http.MethodPut, "/patients/"+p5+"/family/members/"+accepted.LinkID+"/scopes", map[string]any{"scopes": []string{}})
	changed := decode[member](t, patient.want(http.StatusOK, "", http.MethodPut, "/patients/"+p5+"/family/members/"+accepted.LinkID+"/scopes",
		map[string]any{"scopes": []string{"view_appointments"}}))
	if strings.Join(changed.Scopes, ",") != "view_appointments" {
		t.Fatalf("changed scopes: %+v", changed)
	}
	if got := relatives(son).Relatives[0].Scopes; strings.Join(got, ",") != "view_appointments" {
		t.Fatalf("the son's scopes after the change: %v", got)
	}

	// The consent history shows the superseded and the current sharing consent.
	pc := decode[patientConsents](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p5+"/consents", nil))
	var sharing []consentView
	for _, c := range pc.Items {
		if c.Kind == "family_sharing" && c.FamilyLinkID == accepted.LinkID {
			sharing = append(sharing, c)
		}
	}
	if !pc.HealthData.Active || len(sharing) != 2 || !sharing[0].Active || strings.Join(sharing[0].Scopes, ",") != "view_appointments" ||
		sharing[1].Active || sharing[1].WithdrawReason != "superseded" || sharing[1].Method != "in_app" || sharing[1].GivenBy != "patient" {
		t.Fatalf("consents: %+v", pc)
	}

	// Revocation: the son's old token is refused at the next request, the
	// realtime layer is told in the same transaction, and he still follows p1.
	revoked := decode[member](t, patient.want(http.StatusOK, "", http.MethodPost, "/patients/"+p5+"/family/members/"+accepted.LinkID+"/revoke", map[string]any{}))
	if revoked.Status != "revoked" {
		t.Fatalf("revoked: %+v", revoked)
	}
	denied := son.want(404, "not_found", http.MethodGet, "/patients/"+p5, nil)
	if strings.Contains(string(denied.Body), "陈明") {
		t.Fatalf("the denial leaks the name: %s", denied.Body)
	}
	if rel := relatives(son); len(rel.Relatives) != 1 || rel.Relatives[0].PatientID != p1 {
		t.Fatalf("after revocation: %+v", rel)
	}
	patient.want(http.StatusOK, "", http.MethodPost, "/patients/"+p5+"/family/members/"+accepted.LinkID+"/revoke", map[string]any{})
	events := outboxEvents(t, e, family.TaskLinkRevoked)
	if len(events) != 1 || events[0].LinkID != accepted.LinkID || events[0].PatientID != p5 || events[0].UserID != son.userID {
		t.Fatalf("link_revoked events: %+v", events)
	}
	if scopeEvents := outboxEvents(t, e, family.TaskLinkScopesChanged); len(scopeEvents) != 1 || strings.Join(scopeEvents[0].Scopes, ",") != "view_appointments" {
		t.Fatalf("scopes_changed events: %+v", scopeEvents)
	}
	pc = decode[patientConsents](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p5+"/consents", nil))
	for _, c := range pc.Items {
		if c.FamilyLinkID == accepted.LinkID && c.Active {
			t.Fatalf("a sharing consent outlived the revoked link: %+v", c)
		}
	}

	// Invitations: the accepted one and the open one; withdrawing the open one.
	list := decode[struct {
		Items []struct{ ID, Status string }
	}](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p5+"/family/invitations", nil)).Items
	if len(list) != 2 || list[0].ID != second.Invitation.ID || list[0].Status != "pending" || list[1].Status != "accepted" {
		t.Fatalf("invitations: %+v", list)
	}
	if strings.Contains(string(patient.do(http.MethodGet, "/patients/"+p5+"/family/invitations", nil).Body), second.Code) {
		t.Fatal("the invitation list shows a code")
	}
	patient.want(409, "invitation_not_pending", http.MethodPost, "/patients/"+p5+"/family/invitations/"+inv.Invitation.ID+"/withdraw", map[string]any{})
	patient.want(http.StatusOK, "", http.MethodPost, "/patients/"+p5+"/family/invitations/"+second.Invitation.ID+"/withdraw", map[string]any{})
	user(t, e, "latecomer").want(410, "invitation_withdrawn", http.MethodGet, "/family/invitations/"+second.Code, nil)

	// Writes by the patient are audited; the logs hold no code and no name.
	var writes int64
	e.FlushAudit() // audit events are written in batches
	e.App.DB.Table("audit_events").Where("patient_id = ? AND actor_kind = ? AND action LIKE ?", p5, "user", "POST %/family/%").Count(&writes)
	if writes < 4 {
		t.Fatalf("%d audited family writes by the patient, want the invitations, the revocations and the withdrawals", writes)
	}
	logs := e.Logs()
	for _, secret := range []string{inv.Code, second.Code, fromFather.Code, "陈明", "张建国"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log holds %q", secret)
		}
	}
}

func outboxEvents(t *testing.T, e *apitest.Env, topic string) []family.LinkEvent {
	t.Helper()
	var rows []outbox.Event
	if err := e.App.DB.Where("topic = ?", topic).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := make([]family.LinkEvent, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Payload, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestInvitationErrors(t *testing.T) {
	e := apitest.New(t)
	p1, p2, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient2"], e.Demo.Patients["patient3"]
	patient1, patient2 := user(t, e, "patient1"), user(t, e, "patient2")
	relative := user(t, e, "relative")
	acceptPrivacyPolicy(relative)
	invitations := "/patients/" + p1 + "/family/invitations"

	t.Run("bad requests", func(t *testing.T) {
		patient1 := patient1.in(t)
		patient1.want(400, "invalid_scope", http.MethodPost, invitations, map[string]any{"relationship": "女儿", "scopes": []string{"view_plan", "read_minds"}})
		patient1.want(400, "scopes_required", http.MethodPost, invitations, map[string]any{"relationship": "女儿"})
		patient1.want(400, "invalid_relationship", http.MethodPost, invitations, map[string]any{"relationship": "  ", "scopes": []string{"view_plan"}})
		patient1.want(400, "invalid_field", http.MethodPost, invitations, map[string]any{"scopes": []string{"view_plan"}})
		patient1.want(400, "invalid_consent_method", http.MethodPost, "/patients/"+p1+"/consents",
			map[string]string{"kind": "health_data", "version": "2026-01", "method": "phone"})
	})
	t.Run("not yours is 404", func(t *testing.T) {
		patient2 := patient2.in(t)
		patient2.want(404, "not_found", http.MethodPost, invitations, map[string]any{"relationship": "女儿", "scopes": []string{"view_plan"}})
		patient2.want(404, "not_found", http.MethodGet, invitations, nil)
		// patient1's invitation id under patient2's own record: not found either.
		own := invite(patient1.in(t), p1, "女儿", "view_plan")
		patient2.want(404, "not_found", http.MethodPost, "/patients/"+p2+"/family/invitations/"+own.Invitation.ID+"/withdraw", map[string]any{})
		patient2.want(404, "not_found", http.MethodPost, "/patients/"+p2+"/family/members/"+own.Invitation.ID+"/revoke", map[string]any{})
		// Family members never manage the family, whatever their scopes.
		user(t, e, "family1").want(404, "not_found", http.MethodGet, "/patients/"+p1+"/family/members", nil)
		user(t, e, "family2").want(404, "not_found", http.MethodPost, "/patients/"+p3+"/family/invitations",
			map[string]any{"relationship": "孙子", "scopes": []string{"view_plan"}})
	})
	t.Run("unknown and malformed codes are 404", func(t *testing.T) {
		relative := relative.in(t)
		relative.want(404, "not_found", http.MethodGet, "/family/invitations/"+family.NewCode(), nil)
		relative.want(404, "not_found", http.MethodPost, "/family/invitations/not-a-code/accept", nil)
		relative.want(404, "not_found", http.MethodGet, "/family/invitations/"+strings.Repeat("A", 60), nil)
	})
	t.Run("staff and anonymous cannot use codes", func(t *testing.T) {
		cm := staff(t, e, "cm1")
		cm.want(403, "user_only", http.MethodGet, "/family/invitations/"+demo.InvitationCode, nil)
		anon := client{t: t, e: e}
		anon.want(401, "unauthenticated", http.MethodPost, "/family/invitations/"+demo.InvitationCode+"/accept", nil)
		cm.want(403, "user_only", http.MethodGet, "/me/consents", nil)
		cm.want(403, "user_only", http.MethodPost, "/me/consents", map[string]string{"kind": "privacy_policy", "version": "2026-01"})
	})
	t.Run("too many open invitations", func(t *testing.T) {
		patient2 := patient2.in(t)
		for i := 0; i < 9; i++ { // the demo already holds one of patient2's
			invite(patient2, p2, "亲属", "view_plan")
		}
		patient2.want(422, "too_many_invitations", http.MethodPost, "/patients/"+p2+"/family/invitations",
			map[string]any{"relationship": "亲属", "scopes": []string{"view_plan"}})
	})
	t.Run("the demo invitation works", func(t *testing.T) {
		husband := user(t, e, "husband")
		acceptPrivacyPolicy(husband)
		resp := husband.want(http.StatusOK, "", http.MethodPost, "/family/invitations/"+demo.InvitationCode+"/accept", nil)
		if got := decode[struct{ Relationship string }](t, resp); got.Relationship != "老伴" {
			t.Fatalf("demo invitation: %s", resp.Body)
		}
	})
	// Last: moving the clock ends every access token issued so far.
	t.Run("expired", func(t *testing.T) {
		inv := invite(patient1.in(t), p1, "侄女", "view_plan")
		e.Clock.Advance(72*time.Hour - time.Second)
		relative := user(t, e, "relative")
		patient1 := user(t, e, "patient1")
		relative.want(http.StatusOK, "", http.MethodGet, "/family/invitations/"+inv.Code, nil)
		e.Clock.Advance(time.Second)
		relative.want(410, "invitation_expired", http.MethodGet, "/family/invitations/"+inv.Code, nil)
		relative.want(410, "invitation_expired", http.MethodPost, "/family/invitations/"+inv.Code+"/accept", nil)
		list := decode[struct{ Items []struct{ ID, Status string } }](t, patient1.do(http.MethodGet, invitations, nil)).Items
		if list[0].ID != inv.Invitation.ID || list[0].Status != "expired" {
			t.Fatalf("an expired invitation lists as %+v", list[0])
		}
	})
}

// TestCaseManagerRegistersARelative: for a patient who cannot use the phone,
// the CM records how the patient consented and hands the relative a code.
func TestCaseManagerRegistersARelative(t *testing.T) {
	e := apitest.New(t)
	p2 := e.Demo.Patients["patient2"]
	cm1, cm2 := staff(t, e, "cm1"), staff(t, e, "cm2")
	path := "/patients/" + p2 + "/family/registrations"
	body := func(consent map[string]any) map[string]any {
		return map[string]any{"relationship": "女儿", "scopes": []string{"view_plan", "view_appointments", "message"}, "consent": consent}
	}
	cm1.want(400, "invalid_field", http.MethodPost, path, body(map[string]any{"given_by": "patient"}))
	cm1.want(400, "invalid_field", http.MethodPost, path, body(map[string]any{"given_by": "neighbour", "method": "phone"}))
	cm1.want(400, "invalid_given_at", http.MethodPost, path, body(map[string]any{"given_by": "patient", "method": "phone", "given_at": e.Clock.Now().Add(time.Hour)}))
	cm2.want(404, "not_found", http.MethodPost, path, body(map[string]any{"given_by": "patient", "method": "in_person"})) // not cm2's patient
	user(t, e, "patient2").want(404, "not_found", http.MethodPost, path, body(map[string]any{"given_by": "patient", "method": "in_person"}))

	consentedAt := e.Clock.Now().Add(-2 * time.Hour)
	inv := decode[issued](t, cm1.want(http.StatusCreated, "", http.MethodPost, path,
		body(map[string]any{"given_by": "guardian", "method": "phone", "given_at": consentedAt})))
	if inv.Invitation.IssuedBy != "staff" {
		t.Fatalf("registration: %+v", inv)
	}
	daughter := user(t, e, "liudaughter")
	preview := decode[struct {
		IssuedBy   string `json:"issued_by"`
		IssuerName string `json:"issuer_name"`
		Patient    string `json:"patient_name"`
	}](t, daughter.want(http.StatusOK, "", http.MethodGet, "/family/invitations/"+inv.Code, nil))
	if preview.IssuedBy != "staff" || preview.IssuerName != "周敏（骨科个案管理师）" || preview.Patient != "李*英" {
		t.Fatalf("preview of a CM's registration: %+v", preview)
	}
	acceptPrivacyPolicy(daughter)
	daughter.want(http.StatusOK, "", http.MethodPost, "/family/invitations/"+inv.Code+"/accept", nil)
	daughter.want(http.StatusOK, "", http.MethodGet, "/patients/"+p2, nil)

	// The sharing consent says who consented, how, when, and which CM wrote it down.
	pc := decode[patientConsents](t, cm1.want(http.StatusOK, "", http.MethodGet, "/patients/"+p2+"/consents", nil))
	var got *consentView
	for i, c := range pc.Items {
		if c.Kind == "family_sharing" {
			got = &pc.Items[i]
		}
	}
	if got == nil || got.GivenBy != "guardian" || got.Method != "phone" || got.RecordedBy.Kind != "staff" ||
		got.RecordedBy.Name != "周敏（骨科个案管理师）" || got.Relationship != "女儿" || !got.Active {
		t.Fatalf("sharing consent: %+v", pc.Items)
	}
	var grantedAt time.Time
	e.App.DB.Table("consents").Select("granted_at").Where("id = ?", got.ID).Scan(&grantedAt)
	if !grantedAt.Equal(consentedAt) {
		t.Fatalf("consent granted at %v, want the time the CM recorded, %v", grantedAt, consentedAt)
	}
	// A CM records a withdrawal the patient phoned in: the daughter loses access.
	cm1.want(400, "invalid_consent_method", http.MethodPost, "/patients/"+p2+"/consents/"+got.ID+"/withdraw", map[string]any{})
	w := decode[consentView](t, cm1.want(http.StatusOK, "", http.MethodPost, "/patients/"+p2+"/consents/"+got.ID+"/withdraw", map[string]any{"method": "phone"}))
	if w.Active || w.WithdrawReason != "withdrawn" {
		t.Fatalf("withdrawn consent: %+v", w)
	}
	daughter.want(404, "not_found", http.MethodGet, "/patients/"+p2, nil)
	cm1.want(409, "consent_already_withdrawn", http.MethodPost, "/patients/"+p2+"/consents/"+got.ID+"/withdraw", map[string]any{"method": "phone"})
}

// TestWithdrawingConsentStopsTheSharingItCovered: the sharing consent for
// one relative ends that link; the health-data consent ends every link and
// pending invitation, and blocks new ones until given again.
func TestWithdrawingConsentStopsTheSharingItCovered(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	patient := user(t, e, "patient1")
	daughter := user(t, e, "family1")
	nephew := user(t, e, "nephew")
	acceptPrivacyPolicy(nephew)
	inv := invite(patient, p1, "外甥", "view_plan")
	nephew.want(http.StatusOK, "", http.MethodPost, "/family/invitations/"+inv.Code+"/accept", nil)
	pending := invite(patient, p1, "孙女", "view_plan")

	consents := decode[patientConsents](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1+"/consents", nil))
	var nephewConsent, health string
	for _, c := range consents.Items {
		switch {
		case c.Kind == "family_sharing" && c.Relationship == "外甥":
			nephewConsent = c.ID
		case c.Kind == "health_data":
			health = c.ID
		}
	}
	// Family members cannot read or withdraw the patient's consents.
	daughter.want(404, "not_found", http.MethodGet, "/patients/"+p1+"/consents", nil)
	daughter.want(404, "not_found", http.MethodPost, "/patients/"+p1+"/consents/"+nephewConsent+"/withdraw", map[string]any{})

	patient.want(http.StatusOK, "", http.MethodPost, "/patients/"+p1+"/consents/"+nephewConsent+"/withdraw", map[string]any{})
	nephew.want(404, "not_found", http.MethodGet, "/patients/"+p1, nil)
	daughter.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1, nil)

	patient.want(http.StatusOK, "", http.MethodPost, "/patients/"+p1+"/consents/"+health+"/withdraw", map[string]any{})
	daughter.want(404, "not_found", http.MethodGet, "/patients/"+p1, nil)
	acceptPrivacyPolicy(user(t, e, "granddaughter"))
	user(t, e, "granddaughter").want(410, "invitation_withdrawn", http.MethodPost, "/family/invitations/"+pending.Code+"/accept", nil)
	patient.want(422, "health_data_consent_required", http.MethodPost, "/patients/"+p1+"/family/invitations",
		map[string]any{"relationship": "孙女", "scopes": []string{"view_plan"}})
	// The care team keeps its access: care rests on another legal basis.
	staff(t, e, "cm1").want(http.StatusOK, "", http.MethodGet, "/patients/"+p1, nil)

	after := decode[patientConsents](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1+"/consents", nil))
	if after.HealthData.Active {
		t.Fatal("health-data consent still active")
	}
	reasons := map[string]string{}
	for _, c := range after.Items {
		if c.Active {
			t.Fatalf("a consent survived: %+v", c)
		}
		reasons[c.Kind+" "+c.Relationship] = c.WithdrawReason
	}
	want := map[string]string{"health_data ": "withdrawn", "family_sharing 外甥": "withdrawn", "family_sharing 女儿": "health_data_withdrawn"}
	for k, v := range want {
		if reasons[k] != v {
			t.Errorf("%s withdrawn for %q, want %q", k, reasons[k], v)
		}
	}
	if got := len(outboxEvents(t, e, family.TaskLinkRevoked)); got != 2 {
		t.Fatalf("%d link_revoked events, want 2 (nephew, daughter)", got)
	}
	patient.want(409, "consent_already_withdrawn", http.MethodPost, "/patients/"+p1+"/consents/"+health+"/withdraw", map[string]any{})

	// Consenting again lets the patient invite again.
	patient.want(http.StatusCreated, "", http.MethodPost, "/patients/"+p1+"/consents", map[string]string{"kind": "health_data", "version": "2026-01"})
	invite(patient, p1, "孙女", "view_plan")
}

// TestGuessingCodesIsRateLimitedAndLogged: per user, then per IP; each
// refused attempt is logged and audited without the code.
func TestGuessingCodesIsRateLimitedAndLogged(t *testing.T) {
	e := apitest.New(t)
	patient := user(t, e, "patient1")
	real := invite(patient, e.Demo.Patients["patient1"], "女婿", "view_plan")
	guesser := user(t, e, "guesser")
	acceptPrivacyPolicy(guesser)
	var guesses []string
	for i := 0; i < 10; i++ { // family.code_attempts_per_user
		g := family.NewCode()
		guesses = append(guesses, g)
		guesser.want(404, "not_found", http.MethodGet, "/family/invitations/"+g, nil)
	}
	resp := guesser.want(429, "invitation_rate_limited", http.MethodPost, "/family/invitations/"+real.Code+"/accept", nil)
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	// Others are not locked out by one guesser, until the IP's limit (50) is reached.
	used := 11
	for n := 0; used < 50; n++ {
		other := user(t, e, "crowd"+string(rune('a'+n)))
		for i := 0; i < 9 && used < 50; i++ {
			other.want(404, "not_found", http.MethodGet, "/family/invitations/"+family.NewCode(), nil)
			used++
		}
	}
	user(t, e, "innocent").want(429, "invitation_rate_limited", http.MethodGet, "/family/invitations/"+real.Code, nil)

	logs := e.Logs()
	if n := strings.Count(logs, "invitation code refused"); n < 50 {
		t.Fatalf("%d refused attempts logged, want every one", n)
	}
	for _, code := range append(guesses, real.Code) {
		if strings.Contains(logs, code) || strings.Contains(strings.ToLower(logs), strings.ToLower(code)) {
			t.Fatalf("the log holds a code")
		}
	}
	var denied int64
	e.FlushAudit() // audit events are written in batches
	e.App.DB.Table("audit_events").Where("actor_id = ? AND action = ? AND result = ?",
		guesser.userID, "GET /api/v1/family/invitations/:code", "denied").Count(&denied)
	if denied != 10 {
		t.Fatalf("%d denied attempts audited for the guesser, want 10", denied)
	}
	var leaked int64
	e.App.DB.Table("audit_events").Where("object_id = ? OR action LIKE ?", real.Code, "%"+real.Code+"%").Count(&leaked)
	if leaked != 0 {
		t.Fatal("the audit log holds a code")
	}
}

// TestAccessLogShowsWhoLookedAtWhat: the patient sees staff by name and
// family by relationship, never their own reads, and no other patient's events.
func TestAccessLogShowsWhoLookedAtWhat(t *testing.T) {
	e := apitest.New(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	patient := user(t, e, "patient1")
	cm1 := staff(t, e, "cm1")
	cm1.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1, nil)
	user(t, e, "family1").want(http.StatusOK, "", http.MethodGet, "/patients/"+p1, nil)
	patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1, nil)
	user(t, e, "family2").want(http.StatusOK, "", http.MethodGet, "/patients/"+p3, nil) // another patient's
	user(t, e, "stranger").want(404, "not_found", http.MethodGet, "/patients/"+p1, nil) // denied: not shown

	type entry struct {
		Actor struct {
			Kind, Name, Role string
		}
		Action, Resource, Summary string
	}
	type page struct {
		Items      []entry
		NextCursor string `json:"next_cursor"`
	}
	got := decode[page](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1+"/access-log", nil))
	var lines []string
	for _, it := range got.Items {
		lines = append(lines, it.Actor.Kind+" "+it.Actor.Name+" "+it.Summary)
	}
	want := []string{"family 女儿 查看了患者档案", "staff 周敏（骨科个案管理师） 查看了患者档案"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("access log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if got.Items[1].Actor.Role != "cm" || got.Items[1].Resource != "profile" {
		t.Fatalf("staff entry: %+v", got.Items[1])
	}
	// Paging walks the same entries.
	first := decode[page](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1+"/access-log?limit=1", nil))
	if len(first.Items) != 1 || first.NextCursor == "" {
		t.Fatalf("first page: %+v", first)
	}
	rest := decode[page](t, patient.want(http.StatusOK, "", http.MethodGet, "/patients/"+p1+"/access-log?limit=1&cursor="+first.NextCursor, nil))
	if len(rest.Items) != 1 || rest.Items[0].Actor.Kind != "staff" {
		t.Fatalf("second page: %+v", rest)
	}
	patient.want(400, "invalid_limit", http.MethodGet, "/patients/"+p1+"/access-log?limit=0", nil)
	// Family members do not see who else looked.
	user(t, e, "family1").want(404, "not_found", http.MethodGet, "/patients/"+p1+"/access-log", nil)
	user(t, e, "patient3").want(404, "not_found", http.MethodGet, "/patients/"+p1+"/access-log", nil)
}

// TestConcurrentAcceptsLetOneWin: several people (or one double tap)
// accepting the same code at once make exactly one link.
func TestConcurrentAcceptsLetOneWin(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	inv := invite(user(t, e, "patient1"), p1, "亲属", "view_plan")
	var racers []auth.Actor
	for i := 0; i < 4; i++ {
		c := user(t, e, fmt.Sprintf("racer%d", i))
		acceptPrivacyPolicy(c)
		racers = append(racers, auth.Actor{Kind: auth.KindUser, ID: c.userID, Role: auth.RoleUser})
	}
	racers = append(racers, racers[0]) // racer0 taps twice
	errs := make([]error, len(racers))
	var wg sync.WaitGroup
	for i, a := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = e.App.Family.Accept(context.Background(), a, "192.0.2.9", inv.Code)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, family.ErrUsed), errors.Is(err, family.ErrAlreadyAccepted), errors.Is(err, family.ErrLinkExists):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	var links int64
	e.App.DB.Table("family_links").Where("patient_id = ? AND relationship = ? AND status = ?", p1, "亲属", "active").Count(&links)
	if wins != 1 || links != 1 {
		t.Fatalf("%d accepts won and %d links exist, want exactly one of each (errors %v)", wins, links, errs)
	}
}
