package kpi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/kpi"
)

// TestRouteScopesAndValidates drives GET /api/v1/kpis on the demo data:
// each role gets its own scope, bad ranges are 400 with a Chinese message,
// a patient is refused, and no patient id appears in any answer.
func TestRouteScopesAndValidates(t *testing.T) {
	e := apitest.New(t)
	get := func(s apitest.StaffSession, query string) apitest.Response {
		return e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/kpis" + query, Cookie: s.Cookie, CSRF: s.CSRF})
	}
	cm1, lead1, admin := e.LoginStaff("cm1"), e.LoginStaff("lead1"), e.LoginStaff("admin")
	reports := map[string]kpi.Report{}
	for name, s := range map[string]apitest.StaffSession{"cm1": cm1, "lead1": lead1, "admin": admin} {
		resp := get(s, "")
		if resp.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", name, resp.Status, resp.Body)
		}
		for _, id := range e.Demo.Patients {
			if strings.Contains(string(resp.Body), id) {
				t.Fatalf("%s's KPIs name patient %s", name, id)
			}
		}
		var r kpi.Report
		resp.JSON(t, &r)
		reports[name] = r
	}
	if reports["cm1"].Scope != "caseload" || reports["lead1"].Scope != "department" || reports["admin"].Scope != "organisation" {
		t.Fatalf("scopes %s %s %s", reports["cm1"].Scope, reports["lead1"].Scope, reports["admin"].Scope)
	}
	// The hospital's active patients include the department's, which include cm1's.
	c, l, a := reports["cm1"].ActivePerCM, reports["lead1"].ActivePerCM, reports["admin"].ActivePerCM
	if c.ActivePatients == 0 || c.CaseManagers != 1 || l.ActivePatients < c.ActivePatients || a.ActivePatients <= l.ActivePatients {
		t.Fatalf("active patients cm1 %+v, lead1 %+v, admin %+v", c, l, a)
	}
	if r := reports["cm1"]; r.From >= r.To {
		t.Fatalf("default period %s–%s", r.From, r.To)
	}

	for _, tc := range []struct{ query, code string }{
		{"?from=2026-03-10&to=2026-03-01", "invalid_range"},
		{"?from=2026-03-01&to=2026-03-01", "invalid_range"},
		{"?from=2024-01-01&to=2026-03-01", "range_too_long"},
		{"?from=01/03/2026", "invalid_date"},
	} {
		resp := get(cm1, tc.query)
		if resp.Status != http.StatusBadRequest || resp.ErrorCode() != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.query, resp.Status, resp.Body, tc.code)
		}
		var body struct{ Error struct{ Message string } }
		resp.JSON(t, &body)
		if !strings.ContainsAny(body.Error.Message, "日期区间") {
			t.Errorf("%s: message %q", tc.query, body.Error.Message)
		}
	}
	if resp := get(cm1, "?from=2026-01-01&to=2026-02-01"); resp.Status != http.StatusOK {
		t.Errorf("a valid range: %d %s", resp.Status, resp.Body)
	}
	patient := e.LoginWeChat("patient1").AccessToken
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/kpis", Token: patient}); resp.Status != http.StatusForbidden {
		t.Errorf("a patient reads KPIs: %d %s", resp.Status, resp.Body)
	}
}
