package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
)

// TestAuditPage: admins and leads search the audit log by patient, actor
// and action; a CM and a patient are refused; bad filters are a 400 page.
func TestAuditPage(t *testing.T) {
	e := apitest.New(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	cm1 := e.LoginStaff("cm1")
	page(t, e, cm1, "/admin/patients/"+p1, http.StatusOK) // an audited staff read of patient 1
	cm2 := e.LoginStaff("cm2")
	page(t, e, cm2, "/admin/patients/"+p3, http.StatusOK)

	for _, who := range []string{"admin", "lead1"} {
		s := e.LoginStaff(who)
		body := page(t, e, s, "/admin/audit?patient="+p1, http.StatusOK)
		if !strings.Contains(body, "GET /admin/patients/:patientID") || !strings.Contains(body, e.Demo.Staff["cm1"]) {
			t.Errorf("%s: patient 1's search does not show cm1's read", who)
		}
		if strings.Contains(body, p3) || strings.Contains(body, e.Demo.Staff["cm2"]) {
			t.Errorf("%s: patient 1's search shows another patient's events", who)
		}
		if strings.Contains(body, "张建国") {
			t.Errorf("%s: the audit page shows a patient's name", who)
		}
		body = page(t, e, s, "/admin/audit?actor="+e.Demo.Staff["cm2"]+"&action=GET+/admin/patients/", http.StatusOK)
		if who == "admin" && (!strings.Contains(body, p3) || strings.Contains(body, "?patient="+p1)) {
			t.Errorf("%s: actor+action search is wrong", who)
		}
		page(t, e, s, "/admin/audit?from=yesterday", http.StatusBadRequest)
		page(t, e, s, "/admin/audit?patient="+strings.Repeat("x", 37), http.StatusBadRequest)
	}
	page(t, e, cm1, "/admin/audit", http.StatusForbidden)
	page(t, e, cm2, "/admin/audit?patient="+p3, http.StatusForbidden)
	tok := e.LoginWeChat("patient1").AccessToken
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/audit", Token: tok}); r.Status != http.StatusForbidden {
		t.Errorf("patient: %d, want 403", r.Status)
	}
}

// TestAuditPageScope: a department lead searches only their department's
// patients' and staff's events (the KPIs' aggregate scope); the admin the
// whole hospital's.
func TestAuditPageScope(t *testing.T) {
	e := apitest.New(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"] // 骨科 (cm1), 心血管内科 (cm2)
	page(t, e, e.LoginStaff("cm1"), "/admin/patients/"+p1, http.StatusOK)
	page(t, e, e.LoginStaff("cm2"), "/admin/patients/"+p3, http.StatusOK)
	tok := e.LoginWeChat("patient3").AccessToken
	if r := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + p3 + "/plan", Token: tok}); r.Status >= 500 {
		t.Fatalf("patient3 reads the plan: %d", r.Status)
	}
	lead, admin := e.LoginStaff("lead1"), e.LoginStaff("admin")
	cm2 := e.Demo.Staff["cm2"]
	for _, tc := range []struct {
		name, path string
		sign       string // in the page only when it lists p3's events (the filter itself is echoed)
		lead       bool
	}{
		{name: "by patient", path: "/admin/audit?patient=" + p3, sign: cm2},
		{name: "by actor", path: "/admin/audit?actor=" + cm2, sign: p3},
		{name: "unfiltered", path: "/admin/audit", sign: p3},
	} {
		if strings.Contains(page(t, e, lead, tc.path, http.StatusOK), tc.sign) {
			t.Errorf("%s: the lead of 骨科 sees the 心内科 patient's events", tc.name)
		}
		if !strings.Contains(page(t, e, admin, tc.path, http.StatusOK), tc.sign) {
			t.Errorf("%s: the admin does not see the 心内科 patient's events", tc.name)
		}
	}
	if body := page(t, e, lead, "/admin/audit", http.StatusOK); !strings.Contains(body, p1) || !strings.Contains(body, e.Demo.Staff["cm1"]) {
		t.Error("the lead of 骨科 does not see their department's patient's and CM's events")
	}
}
