package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/database"
)

// familyNeeds is what each permission asks of a family link, written out
// here rather than read from the policy, so that changing either is a
// deliberate act: "" = family never, "*" = any active link. A new
// permission must be added here before this test passes.
var familyNeeds = map[access.Permission]access.Scope{
	access.PatientRead:         "*",
	access.PatientWrite:        "",
	access.PlanRead:            access.ScopeViewPlan,
	access.PlanManage:          "",
	access.PlanTaskDone:        access.ScopeReport,
	access.VitalsRead:          access.ScopeViewVitals,
	access.VitalsReport:        access.ScopeReport,
	access.AppointmentsRead:    access.ScopeViewAppointments,
	access.AppointmentsRespond: access.ScopeViewAppointments,
	access.AppointmentsManage:  "",
	access.MessagesRead:        access.ScopeMessage,
	access.MessagesSend:        access.ScopeMessage,
	access.FamilyManage:        "",
	access.ConsentManage:       "",
	access.ClinicalManage:      "",
	access.AuditRead:           "",
	access.DataExport:          "",
}

func familyMay(perm access.Permission, scopes []access.Scope) bool {
	need, ok := familyNeeds[perm]
	if !ok || need == "" {
		return false
	}
	if need == "*" {
		return true
	}
	for _, s := range scopes {
		if s == need {
			return true
		}
	}
	return false
}

var pathParam = regexp.MustCompile(`[:*][A-Za-z]+`)

// TestFamilyMemberOnEveryPatientRoute walks every patient-scoped route the
// guard knows (those other features add included) as relatives holding each
// single scope, as a relative whose link was revoked (with a token from
// before), and as a stranger. An allowed route must get past the policy; a
// denied one must answer the policy's 404 and show nothing of the patient;
// every attempt leaves an audit event.
func TestFamilyMemberOnEveryPatientRoute(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	patient := e.LoginWeChat("patient1").AccessToken

	type route struct {
		method, path string
		perm         access.Permission
	}
	var routes []route
	var staffOnlyPages []string
	for key, d := range e.App.Guard.Decisions() {
		if d.Kind != access.PatientScoped {
			continue
		}
		if len(d.Roles) > 0 {
			staffOnlyPages = append(staffOnlyPages, key)
			continue // the desk's pages: no relative gets past the role gate (checked below)
		}
		if _, ok := familyNeeds[d.Permission]; !ok {
			t.Errorf("permission %s (route %s) is missing from familyNeeds: decide what a family link needs for it", d.Permission, key)
		}
		method, path, _ := strings.Cut(key, " ")
		routes = append(routes, route{method, path, d.Permission})
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].path+routes[i].method < routes[j].path+routes[j].method })
	if len(routes) < 10 {
		t.Fatalf("only %d patient-scoped routes found", len(routes))
	}

	type relative struct {
		name    string
		token   string
		userID  string
		linkID  string
		scopes  []access.Scope
		revoked bool
	}
	var relatives []relative
	join := func(name string, scopes []access.Scope) relative {
		t.Helper()
		tok := e.LoginWeChat(name)
		names := make([]string, len(scopes))
		for i, s := range scopes {
			names[i] = string(s)
		}
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/family/invitations", Token: patient,
			Body: map[string]any{"relationship": "亲属", "scopes": names}})
		var inv struct{ Code string }
		resp.JSON(t, &inv)
		e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/consents", Token: tok.AccessToken, Body: map[string]string{"kind": "privacy_policy", "version": "2026-01"}})
		resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/family/invitations/" + inv.Code + "/accept", Token: tok.AccessToken})
		if resp.Status != http.StatusOK {
			t.Fatalf("%s accepts: %d %s", name, resp.Status, resp.Body)
		}
		var accepted struct {
			LinkID string `json:"link_id"`
		}
		resp.JSON(t, &accepted)
		return relative{name: name, token: tok.AccessToken, userID: tok.UserID, linkID: accepted.LinkID, scopes: scopes}
	}
	for _, s := range access.AllScopes {
		relatives = append(relatives, join("only-"+string(s), []access.Scope{s}))
	}
	// Revoked through the patient's API; the relative keeps the token from before.
	revoked := join("revoked", access.AllScopes)
	if resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/family/members/" + revoked.linkID + "/revoke", Token: patient}); resp.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.Status, resp.Body)
	}
	revoked.revoked = true
	relatives = append(relatives, revoked)
	stranger := e.LoginWeChat("stranger")
	relatives = append(relatives, relative{name: "stranger", token: stranger.AccessToken, userID: stranger.UserID, revoked: true})

	secrets := []string{"张建国", "ZY2026001", "138****0001", "12-1", p1}
	for _, rel := range relatives {
		for _, r := range routes {
			allowed := !rel.revoked && familyMay(r.perm, rel.scopes)
			t.Run(rel.name+" "+r.method+" "+r.path, func(t *testing.T) {
				path := strings.Replace(r.path, ":patientID", p1, 1)
				path = pathParam.ReplaceAllStringFunc(path, func(string) string { return database.NewID() })
				req := apitest.Request{Method: r.method, Path: path, Token: rel.token}
				if r.method != http.MethodGet && r.method != http.MethodDelete && r.method != http.MethodHead {
					req.Body = map[string]any{}
				}
				before := auditCount(t, e, rel.userID, r.method+" "+r.path)
				resp := e.Do(req)
				if resp.Status >= 500 {
					t.Fatalf("got %d %s", resp.Status, resp.Body)
				}
				denied := policyDenial(resp)
				switch {
				case allowed && denied:
					t.Fatalf("scopes %v should reach the handler, got the policy's 404", rel.scopes)
				case !allowed && !denied:
					t.Fatalf("scopes %v (revoked %v) should be refused with the policy's 404, got %d %s", rel.scopes, rel.revoked, resp.Status, resp.Body)
				}
				if !allowed {
					for _, s := range secrets {
						if strings.Contains(string(resp.Body), s) {
							t.Fatalf("a denial shows %q: %s", s, resp.Body)
						}
					}
				}
				if after := auditCount(t, e, rel.userID, r.method+" "+r.path); after != before+1 {
					t.Fatalf("audit events for this attempt: %d, want 1", after-before)
				}
			})
		}
	}
	// The desk's patient pages are staff-only: a relative with every scope
	// is refused before the policy, and the refusal shows nothing.
	sort.Strings(staffOnlyPages)
	full := join("all-scopes", access.AllScopes)
	for _, key := range staffOnlyPages {
		method, path, _ := strings.Cut(key, " ")
		t.Run("relative on desk "+key, func(t *testing.T) {
			path = strings.Replace(path, ":patientID", p1, 1)
			path = pathParam.ReplaceAllStringFunc(path, func(string) string { return database.NewID() })
			req := apitest.Request{Method: method, Path: path, Token: full.token}
			if method == http.MethodPost {
				req.Body = url.Values{}
			}
			resp := e.Do(req)
			if resp.Status != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.Status)
			}
			for _, s := range secrets {
				if strings.Contains(string(resp.Body), s) {
					t.Fatalf("the refusal shows %q", s)
				}
			}
		})
	}
}

// policyDenial reports whether resp is the access policy's answer to "not
// yours": 404 not_found about the patient (a handler's 404 names its own object).
func policyDenial(resp apitest.Response) bool {
	var body struct {
		Error struct {
			Code    string         `json:"code"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &body)
	return resp.Status == http.StatusNotFound && body.Error.Code == "not_found" && body.Error.Details["resource"] == "患者"
}

func auditCount(t *testing.T, e *apitest.Env, actorID, action string) int64 {
	t.Helper()
	var n int64
	e.FlushAudit() // audit events are written in batches
	if err := e.App.DB.Table("audit_events").Where("actor_id = ? AND action = ?", actorID, action).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
