package server_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
)

// fixture says how to build a request for one route. Path parameters other
// than :patientID get a fresh random id unless ids names one; {p1} in query
// or a string body is replaced by the target patient's id.
type fixture struct {
	query  string            // without "?"
	body   any               // nil: {} for JSON writes, an empty form on the desk
	ids    map[string]string // path parameter → value
	fresh  bool              // the route ends the caller's session: every actor logs in afresh
	stream bool              // never ends for an allowed caller (SSE): only denials are sent
}

// matrixFixtures has one line per route. A new route fails
// TestAuthorizationMatrix until it has a line here.
var matrixFixtures = map[string]fixture{
	"GET /healthz":                                                   {},
	"GET /readyz":                                                    {},
	"GET /metrics":                                                   {},
	"GET /docs":                                                      {},
	"GET /api/openapi.yaml":                                          {},
	"POST /api/v1/auth/wechat/login":                                 {},
	"POST /api/v1/auth/refresh":                                      {},
	"POST /api/v1/auth/staff/login":                                  {},
	"POST /api/v1/auth/logout":                                       {fresh: true},
	"GET /api/v1/me":                                                 {},
	"POST /api/v1/me/phone":                                          {},
	"GET /api/v1/me/consents":                                        {},
	"POST /api/v1/me/consents":                                       {},
	"POST /api/v1/me/deactivate":                                     {},
	"GET /api/v1/patients":                                           {query: "patient_id={p1}"},
	"POST /api/v1/patients":                                          {},
	"GET /api/v1/patients/:patientID":                                {},
	"GET /api/v1/patients/:patientID/access-log":                     {},
	"GET /api/v1/patients/:patientID/export":                         {},
	"GET /api/v1/patients/:patientID/export/summary":                 {},
	"GET /api/v1/patients/:patientID/consents":                       {},
	"POST /api/v1/patients/:patientID/consents":                      {},
	"POST /api/v1/patients/:patientID/consents/:consentID/withdraw":  {},
	"GET /api/v1/patients/:patientID/family/members":                 {},
	"PUT /api/v1/patients/:patientID/family/members/:linkID/scopes":  {},
	"POST /api/v1/patients/:patientID/family/members/:linkID/revoke": {},
	"GET /api/v1/patients/:patientID/family/invitations":             {},
	"POST /api/v1/patients/:patientID/family/invitations":            {},
	"POST /api/v1/patients/:patientID/family/invitations/:invitationID/withdraw":      {},
	"POST /api/v1/patients/:patientID/family/registrations":                           {},
	"GET /api/v1/family/invitations/:code":                                            {},
	"POST /api/v1/family/invitations/:code/accept":                                    {},
	"GET /api/v1/pathways":                                                            {},
	"GET /api/v1/pathways/:key":                                                       {ids: map[string]string{"key": "tka"}},
	"GET /api/v1/comorbidities":                                                       {},
	"GET /api/v1/plans":                                                               {query: "patient_id={p1}"},
	"GET /api/v1/patients/:patientID/home":                                            {},
	"GET /api/v1/patients/:patientID/plan":                                            {},
	"GET /api/v1/patients/:patientID/plans":                                           {},
	"POST /api/v1/patients/:patientID/plans":                                          {},
	"GET /api/v1/patients/:patientID/plans/:planID":                                   {},
	"GET /api/v1/patients/:patientID/plans/:planID/history":                           {},
	"POST /api/v1/patients/:patientID/plans/:planID/events":                           {},
	"POST /api/v1/patients/:patientID/plans/:planID/transitions":                      {},
	"PUT /api/v1/patients/:patientID/plans/:planID/risk":                              {},
	"POST /api/v1/patients/:patientID/plans/:planID/close":                            {},
	"POST /api/v1/patients/:patientID/plans/:planID/tasks/:taskID/done":               {},
	"PUT /api/v1/patients/:patientID/comorbidities":                                   {},
	"GET /api/v1/articles":                                                            {},
	"GET /api/v1/articles/:key":                                                       {},
	"GET /api/v1/patients/:patientID/education":                                       {},
	"POST /api/v1/patients/:patientID/education":                                      {},
	"GET /api/v1/patients/:patientID/education/:assignmentID":                         {},
	"POST /api/v1/patients/:patientID/education/:assignmentID/finished":               {},
	"GET /api/v1/patients/:patientID/thread":                                          {},
	"GET /api/v1/patients/:patientID/thread/messages":                                 {},
	"POST /api/v1/patients/:patientID/thread/messages":                                {body: map[string]any{"kind": "text", "text": "矩阵测试", "patient_id": "{p1}"}},
	"POST /api/v1/patients/:patientID/thread/messages/:messageID/recall":              {},
	"POST /api/v1/patients/:patientID/thread/read":                                    {},
	"POST /api/v1/patients/:patientID/thread/transfer":                                {},
	"GET /api/v1/inbox":                                                               {query: "patient_id={p1}"},
	"GET /api/v1/quick-replies":                                                       {},
	"POST /api/v1/quick-replies":                                                      {},
	"DELETE /api/v1/quick-replies/:replyID":                                           {},
	"GET /api/v1/ws":                                                                  {},
	"GET /api/v1/blobs/:key":                                                          {},
	"POST /api/v1/patients/:patientID/observations":                                   {body: map[string]any{"type": "body_temperature", "patient_id": "{p1}"}},
	"POST /api/v1/patients/:patientID/observations/batch":                             {},
	"GET /api/v1/patients/:patientID/observations":                                    {},
	"GET /api/v1/patients/:patientID/trends/:type":                                    {ids: map[string]string{"type": "blood_pressure"}},
	"GET /api/v1/patients/:patientID/symptom-checklist":                               {},
	"GET /api/v1/patients/:patientID/alerts":                                          {},
	"GET /api/v1/patients/:patientID/alert-thresholds":                                {},
	"PUT /api/v1/patients/:patientID/alert-thresholds":                                {},
	"GET /api/v1/alerts":                                                              {query: "patient_id={p1}"},
	"GET /api/v1/alerts/stream":                                                       {stream: true},
	"GET /api/v1/alerts/:alertID":                                                     {},
	"POST /api/v1/alerts/:alertID/acknowledge":                                        {},
	"POST /api/v1/alerts/:alertID/resolve":                                            {},
	"GET /api/v1/patients/:patientID/appointments":                                    {},
	"POST /api/v1/patients/:patientID/appointments":                                   {},
	"GET /api/v1/patients/:patientID/calendar.ics":                                    {},
	"GET /api/v1/patients/:patientID/appointments/:appointmentID":                     {},
	"PUT /api/v1/patients/:patientID/appointments/:appointmentID":                     {},
	"POST /api/v1/patients/:patientID/appointments/:appointmentID/close":              {},
	"POST /api/v1/patients/:patientID/appointments/:appointmentID/confirm":            {},
	"POST /api/v1/patients/:patientID/appointments/:appointmentID/cancel":             {},
	"POST /api/v1/patients/:patientID/appointments/:appointmentID/reschedule-request": {},
	"GET /api/v1/appointments/requests":                                               {query: "patient_id={p1}"},
	"GET /api/v1/appointments/proposals":                                              {query: "patient_id={p1}"},
	"POST /api/v1/patients/:patientID/appointments/:appointmentID/accept-proposal":    {},
	"POST /api/v1/patients/:patientID/appointments/:appointmentID/dismiss-proposal":   {},
	"GET /api/v1/followups":                                                           {query: "patient_id={p1}"},
	"GET /api/v1/patients/:patientID/followups":                                       {},
	"POST /api/v1/patients/:patientID/followups":                                      {},
	"POST /api/v1/patients/:patientID/followups/:followupID/outcome":                  {},
	"POST /api/v1/patients/:patientID/followups/:followupID/reschedule":               {},
	"GET /api/v1/questionnaires":                                                      {},
	"GET /api/v1/questionnaires/flagged":                                              {query: "patient_id={p1}"},
	"GET /api/v1/patients/:patientID/questionnaires":                                  {},
	"POST /api/v1/patients/:patientID/questionnaires":                                 {},
	"GET /api/v1/patients/:patientID/questionnaires/:assignmentID":                    {},
	"POST /api/v1/patients/:patientID/questionnaires/:assignmentID/answers":           {},
	"GET /api/v1/kpis":                                                                {query: "patient_id={p1}"},
	"POST /api/v1/subscriptions":                                                      {body: map[string]any{"patient_id": "{p1}", "results": map[string]string{}}},
	"GET /api/v1/wechat/push":                                                         {},
	"POST /api/v1/wechat/push":                                                        {},
	"GET /api/v1/patients/:patientID/notifications":                                   {},
	"POST /api/v1/patients/:patientID/notifications/read":                             {},
	"GET /api/v1/patients/:patientID/pushes":                                          {},
	"GET /admin/login":                                                                {},
	"POST /admin/login":                                                               {},
	"GET /admin/static/*file":                                                         {ids: map[string]string{"file": "app.css"}},
	"POST /admin/logout":                                                              {fresh: true},
	"GET /admin":                                                                      {},
	"GET /admin/patients":                                                             {query: "patient_id={p1}"},
	"GET /admin/patients/:patientID":                                                  {},
	"GET /admin/patients/:patientID/summary":                                          {},
	"POST /admin/patients/:patientID/messages":                                        {},
	"POST /admin/patients/:patientID/plans":                                           {},
	"POST /admin/patients/:patientID/plans/:planID/events":                            {},
	"POST /admin/patients/:patientID/plans/:planID/transitions":                       {},
	"POST /admin/patients/:patientID/plans/:planID/risk":                              {},
	"POST /admin/patients/:patientID/plans/:planID/close":                             {},
	"POST /admin/patients/:patientID/education":                                       {},
	"POST /admin/patients/:patientID/alerts/:alertID/acknowledge":                     {},
	"POST /admin/patients/:patientID/alerts/:alertID/resolve":                         {},
	"POST /admin/patients/:patientID/appointments":                                    {},
	"POST /admin/patients/:patientID/appointments/:appointmentID":                     {},
	"POST /admin/patients/:patientID/appointments/:appointmentID/accept":              {},
	"POST /admin/patients/:patientID/appointments/:appointmentID/decline":             {},
	"POST /admin/patients/:patientID/appointments/:appointmentID/accept-proposal":     {},
	"POST /admin/patients/:patientID/appointments/:appointmentID/dismiss-proposal":    {},
	"POST /admin/patients/:patientID/followups/:followupID/outcome":                   {},
	"POST /admin/patients/:patientID/followups/:followupID/reschedule":                {},
	"GET /admin/appointments/requests":                                                {query: "patient_id={p1}"},
	"GET /admin/kpis":                                                                 {},
	"GET /admin/pathways":                                                             {},
	"POST /admin/pathways/validate":                                                   {},
	"POST /admin/pathways/load":                                                       {},
	"GET /admin/templates":                                                            {},
	"GET /admin/education":                                                            {},
	"GET /admin/staff":                                                                {},
	"POST /admin/staff":                                                               {},
	"POST /admin/staff/:staffID/disable":                                              {},
	"GET /admin/audit":                                                                {query: "patient_id={p1}"},
}

// staffMay is what the assigned case manager may do per permission, written
// out here (like familyNeeds) so a change to the policy is a deliberate act.
var staffMay = map[access.Permission]bool{
	access.PatientRead: true, access.PatientWrite: true, access.PlanRead: true, access.PlanManage: true,
	access.PlanTaskDone: true, access.VitalsRead: true, access.VitalsReport: false,
	access.AppointmentsRead: true, access.AppointmentsRespond: false, access.AppointmentsManage: true,
	access.MessagesRead: true, access.MessagesSend: true, access.FamilyManage: false, access.ConsentManage: true,
	access.ClinicalManage: true, access.AuditRead: true, access.DataExport: false,
}

// patientMay is what the patient may do on their own record.
var patientMay = map[access.Permission]bool{
	access.PatientRead: true, access.PatientWrite: false, access.PlanRead: true, access.PlanManage: false,
	access.PlanTaskDone: true, access.VitalsRead: true, access.VitalsReport: true,
	access.AppointmentsRead: true, access.AppointmentsRespond: true, access.AppointmentsManage: false,
	access.MessagesRead: true, access.MessagesSend: true, access.FamilyManage: true, access.ConsentManage: true,
	access.ClinicalManage: false, access.AuditRead: true, access.DataExport: true,
}

// outcome is what the matrix expects of one actor on one route.
type outcome string

const (
	allow    outcome = "allow"   // gets past the guard and the policy (the handler answers, never 5xx)
	deny401  outcome = "401"     // not logged in, or the token expired
	deny403  outcome = "403"     // wrong kind of account for a route that is not patient-owned
	deny404  outcome = "404"     // the policy's "not yours": 404, nothing of the patient in the body
	anything outcome = "not 5xx" // public routes: whatever the handler says of an empty request
)

type matrixActor struct {
	name    string
	kind    string // anonymous, user, staff
	role    auth.Role
	token   string
	session apitest.StaffSession
	login   func() (string, apitest.StaffSession) // a fresh login, for routes that end the session
	// relation to patient1 (the target of every patient route)
	owner, fullFamily, emptyFamily, foreign bool
}

// TestAuthorizationMatrix walks the route table: every route × every kind of
// caller → the expected allow/deny, from the route's access decision and the
// tables above (not from the policy's code). Patient routes all target
// patient1 (ORTHO, cm1's caseload). A denial of patient data is the policy's
// 404 and shows nothing of patient1; the callers with no right to patient1
// never see patient1 in any answer, lists included (patient ids are also sent
// in query strings and bodies).
func TestAuthorizationMatrix(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]

	// The expired token is taken first; the clock then moves past its lifetime.
	expired := e.LoginWeChat("patient1").AccessToken
	e.Clock.Advance(e.App.Config.Auth.AccessTTL + time.Minute)

	owner := e.LoginWeChat("patient1").AccessToken
	join := func(name string, scopes []access.Scope, revoke bool) string {
		t.Helper()
		tok := e.LoginWeChat(name).AccessToken
		names := make([]string, len(scopes))
		for i, s := range scopes {
			names[i] = string(s)
		}
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/family/invitations", Token: owner,
			Body: map[string]any{"relationship": "亲属", "scopes": names}})
		var inv struct{ Code string }
		resp.JSON(t, &inv)
		e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/consents", Token: tok, Body: map[string]string{"kind": "privacy_policy", "version": "2026-01"}})
		resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/family/invitations/" + inv.Code + "/accept", Token: tok})
		if resp.Status != http.StatusOK {
			t.Fatalf("%s accepts: %d %s", name, resp.Status, resp.Body)
		}
		if revoke {
			var acc struct {
				LinkID string `json:"link_id"`
			}
			resp.JSON(t, &acc)
			if r := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/patients/" + p1 + "/family/members/" + acc.LinkID + "/revoke", Token: owner}); r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
		}
		return tok
	}
	full := join("matrix-full", access.AllScopes, false)
	// receive_push alone opens no route but "*" ones: the relative "without the scope".
	empty := join("matrix-empty", []access.Scope{access.ScopeReceivePush}, false)
	revoked := join("matrix-revoked", access.AllScopes, true)

	wx := func(name string) func() (string, apitest.StaffSession) {
		return func() (string, apitest.StaffSession) { return e.LoginWeChat(name).AccessToken, apitest.StaffSession{} }
	}
	st := func(name string) func() (string, apitest.StaffSession) {
		return func() (string, apitest.StaffSession) { return "", e.LoginStaff(name) }
	}
	actors := []*matrixActor{
		{name: "anonymous", kind: "anonymous", foreign: true},
		{name: "expired token", kind: "anonymous", token: expired, foreign: true},
		{name: "patient owner", kind: "user", token: owner, owner: true, login: wx("patient1")},
		{name: "another patient", kind: "user", token: e.LoginWeChat("patient2").AccessToken, foreign: true, login: wx("patient2")},
		{name: "family with the scopes", kind: "user", token: full, fullFamily: true, login: wx("matrix-full")},
		{name: "family without them", kind: "user", token: empty, emptyFamily: true, login: wx("matrix-empty")},
		{name: "revoked family", kind: "user", token: revoked, foreign: true, login: wx("matrix-revoked")},
		{name: "assigned CM", kind: "staff", role: auth.RoleCM, session: e.LoginStaff("cm1"), login: st("cm1")},
		{name: "CM of another caseload", kind: "staff", role: auth.RoleCM, session: e.LoginStaff("cm2"), foreign: true, login: st("cm2")},
		{name: "admin", kind: "staff", role: auth.RoleAdmin, session: e.LoginStaff("admin"), login: st("admin")},
	}
	secrets := []string{p1, "张建国", "ZY2026001", "13800000001"}

	decisions := e.App.Guard.Decisions()
	keys := make([]string, 0, len(decisions))
	for k := range decisions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { // session-ending routes last
		fi, fj := matrixFixtures[keys[i]].fresh, matrixFixtures[keys[j]].fresh
		if fi != fj {
			return !fi
		}
		return keys[i] < keys[j]
	})
	for k := range matrixFixtures {
		if _, ok := decisions[k]; !ok {
			t.Errorf("matrixFixtures has a line for %s, which is no route: remove it", k)
		}
	}
	for _, key := range keys {
		d := decisions[key]
		fx, ok := matrixFixtures[key]
		if !ok {
			t.Errorf("route %s has no line in matrixFixtures (authz_matrix_test.go): add one saying how to build a request for it", key)
			continue
		}
		if d.Kind == access.PatientScoped {
			if _, ok := staffMay[d.Permission]; !ok {
				t.Errorf("permission %s (route %s) is missing from staffMay/patientMay: decide who holds it", d.Permission, key)
				continue
			}
		}
		method, pattern, _ := strings.Cut(key, " ")
		t.Run(key, func(t *testing.T) {
			path := pathParam.ReplaceAllStringFunc(pattern, func(p string) string {
				name := p[1:]
				if name == "patientID" {
					return p1
				}
				if v, ok := fx.ids[name]; ok {
					return v
				}
				return database.NewID()
			})
			if fx.query != "" {
				path += "?" + strings.ReplaceAll(fx.query, "{p1}", url.QueryEscape(p1))
			}
			desk := strings.HasPrefix(pattern, "/admin")
			for _, a := range actors {
				want := expectation(d, a)
				if fx.stream && want == allow {
					continue
				}
				token, session := a.token, a.session
				if fx.fresh && a.login != nil {
					token, session = a.login()
				}
				req := apitest.Request{Method: method, Path: path, Token: token, Cookie: session.Cookie, CSRF: session.CSRF}
				if method != http.MethodGet && method != http.MethodDelete {
					switch {
					case fx.body != nil:
						req.Body = substitute(fx.body, p1)
					case desk:
						req.Body = url.Values{}
					default:
						req.Body = map[string]any{}
					}
				}
				resp := e.Do(req)
				if msg := check(want, resp, desk, key); msg != "" {
					t.Errorf("%s: want %s, %s: %d %.300s", a.name, want, msg, resp.Status, resp.Body)
				}
				// No answer to a caller without a right to patient1 shows patient1.
				noRight := a.foreign || (want != allow && (a.kind == "staff" || a.emptyFamily || a.fullFamily))
				if noRight && !(a.role == auth.RoleAdmin && strings.HasPrefix(pattern, "/admin/audit")) {
					for _, s := range secrets {
						if strings.Contains(string(resp.Body), s) {
							t.Errorf("%s: the answer (%d) shows patient1's %q", a.name, resp.Status, s)
						}
					}
				}
			}
		})
	}
}

func expectation(d access.Decision, a *matrixActor) outcome {
	switch d.Kind {
	case access.Public:
		return anything
	case access.Authenticated:
		if a.kind == "anonymous" {
			return deny401
		}
		return allow
	case access.StaffOnly:
		switch {
		case a.kind == "anonymous":
			return deny401
		case a.kind == "staff" && hasRole(d.Roles, a.role):
			return allow
		default:
			return deny403
		}
	}
	// Patient-scoped.
	if a.kind == "anonymous" {
		return deny401
	}
	if len(d.Roles) > 0 && !(a.kind == "staff" && hasRole(d.Roles, a.role)) {
		return deny403 // the desk's pages: the role gate comes before the policy
	}
	switch {
	case a.owner && patientMay[d.Permission]:
		return allow
	case a.fullFamily && familyNeeds[d.Permission] != "":
		return allow
	case a.emptyFamily && familyNeeds[d.Permission] == "*":
		return allow
	case a.kind == "staff" && a.role == auth.RoleCM && !a.foreign && staffMay[d.Permission]:
		return allow
	}
	return deny404
}

func hasRole(roles []auth.Role, r auth.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// check returns why resp does not meet want, "" when it does.
func check(want outcome, resp apitest.Response, desk bool, key string) string {
	if resp.Status >= 500 {
		return "got a server error"
	}
	switch want {
	case anything:
		return ""
	case deny401:
		if resp.Status == http.StatusUnauthorized || (desk && resp.Status == http.StatusSeeOther && resp.Header.Get("Location") == "/admin/login") {
			return ""
		}
		return "got"
	case deny403:
		if resp.Status == http.StatusForbidden {
			return ""
		}
		return "got"
	case deny404:
		if desk && resp.Status == http.StatusNotFound {
			return ""
		}
		if policyDenial(resp) {
			return ""
		}
		return "got"
	}
	// allow: past the guard and the policy.
	switch {
	case resp.Status == http.StatusUnauthorized:
		return "refused as not logged in"
	case resp.Status == http.StatusForbidden && (resp.ErrorCode() == "staff_only" || strings.Contains(resp.ErrorCode(), "csrf")):
		return "refused by the guard"
	case !desk && policyDenial(resp):
		return "refused by the policy"
	case desk && resp.Status == http.StatusNotFound && strings.HasPrefix(key, "GET /admin/patients/:patientID") && strings.Count(key, ":") == 1:
		return "refused by the policy (the page names no other object)"
	}
	return ""
}

// substitute replaces "{p1}" in a fixture body's strings.
func substitute(body any, p1 string) any {
	switch b := body.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range b {
			out[k] = substitute(v, p1)
		}
		return out
	case string:
		return strings.ReplaceAll(b, "{p1}", p1)
	default:
		return b
	}
}
