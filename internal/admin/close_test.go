package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/careplan"
)

// TestDeskClosesAPlan: the CM closes patient2's plan from the patient page
// (reason and note), the page then lists it as closed with the reason and
// note, offers enrolment again, and a second close is a conflict page.
func TestDeskClosesAPlan(t *testing.T) {
	e := apitest.New(t)
	cm1 := e.LoginStaff("cm1")
	p2 := e.Demo.Patients["patient2"]
	base := "/admin/patients/" + p2
	plan, err := e.App.Careplan.Current(t.Context(), p2)
	if err != nil {
		t.Fatal(err)
	}
	closePath := base + "/plans/" + plan.ID + "/close"
	before := page(t, e, cm1, base, http.StatusOK)
	if !strings.Contains(before, `action="`+closePath+`"`) || !strings.Contains(before, `data-confirm=`) || !strings.Contains(before, `value="lost_to_follow_up"`) {
		t.Fatal("the patient page offers no close form with its reasons and a confirmation")
	}
	if r := post(e, cm1, closePath, url.Values{"reason": {"other"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "请填写说明") {
		t.Fatalf("close for another reason without a note: %d %s", r.Status, r.Body)
	}
	if r := post(e, cm1, closePath, url.Values{"reason": {"transferred"}, "note": {"转回当地县医院继续康复"}}); r.Status != http.StatusForbidden {
		t.Fatalf("close without the CSRF token: %d", r.Status)
	}
	if r := post(e, cm1, closePath, url.Values{"reason": {"transferred"}, "note": {"转回当地县医院继续康复"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusSeeOther ||
		!strings.HasPrefix(r.Header.Get("Location"), base) {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	after := page(t, e, cm1, base, http.StatusOK)
	for _, want := range []string{"已结案", "转院/转科", "转回当地县医院继续康复", `action="` + base + `/plans"`} {
		if !strings.Contains(after, want) {
			t.Errorf("the page after closing lacks %q", want)
		}
	}
	if strings.Contains(after, `action="`+closePath+`"`) {
		t.Error("the closed plan is still offered for closing")
	}
	if r := post(e, cm1, closePath, url.Values{"reason": {"goals_met"}, "csrf_token": {cm1.CSRF}}); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "已结案") {
		t.Fatalf("close twice: %d %s", r.Status, r.Body)
	}
	if p, _ := e.App.Careplan.Plans(t.Context(), p2); len(p) != 1 || p[0].Status != careplan.StatusClosed {
		t.Fatalf("plans after closing: %+v", p)
	}
	// Another CM's patient cannot be closed from this desk.
	cm2 := e.LoginStaff("cm2")
	if r := post(e, cm2, closePath, url.Values{"reason": {"goals_met"}, "csrf_token": {cm2.CSRF}}); r.Status != http.StatusNotFound {
		t.Fatalf("cm2 closes cm1's patient: %d", r.Status)
	}
}
