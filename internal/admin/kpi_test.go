package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
)

// TestKPIPages: the CM's dashboard shows their caseload's KPIs; /admin/kpis
// shows an admin the hospital and a lead the department; a bad range is a
// 400 page with the Chinese message; no patient appears on the page.
func TestKPIPages(t *testing.T) {
	e := apitest.New(t)
	cm1, lead1, admin := e.LoginStaff("cm1"), e.LoginStaff("lead1"), e.LoginStaff("admin")

	dash := page(t, e, cm1, "/admin", http.StatusOK)
	for _, want := range []string{"近 30 天指标", "我的分管患者", "随访及时率", "数据完整率", "预警响应中位时间", "首次回复中位时长", "NPS", "人均管理患者", "30 天再入院率", `href="/admin/kpis"`} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	org := page(t, e, admin, "/admin/kpis", http.StatusOK)
	if !strings.Contains(org, "全院") || !strings.Contains(org, "随访及时率") {
		t.Errorf("admin's KPI page:\n%s", org)
	}
	dept := page(t, e, lead1, "/admin/kpis?from=2026-01-01&to=2026-02-01", http.StatusOK)
	if !strings.Contains(dept, "本科室") || !strings.Contains(dept, `value="2026-01-01"`) {
		t.Errorf("lead's KPI page:\n%s", dept)
	}
	for _, body := range []string{dash, org, dept} {
		for name, id := range e.Demo.Patients {
			if strings.Contains(body, id) && !strings.Contains(body, "/admin/patients/"+id) {
				t.Errorf("%s's id on a KPI page outside a caseload link", name)
			}
		}
	}
	if strings.Contains(org, "/admin/patients/") {
		t.Error("the admin's KPI page links patients")
	}
	bad := page(t, e, admin, "/admin/kpis?from=2026-03-10&to=2026-03-01", http.StatusBadRequest)
	if !strings.Contains(bad, "开始日期必须早于结束日期") {
		t.Errorf("bad range page:\n%s", bad)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/admin/kpis", Token: e.LoginWeChat("patient1").AccessToken}); resp.Status == http.StatusOK {
		t.Error("a patient opens the KPI page")
	}
}
