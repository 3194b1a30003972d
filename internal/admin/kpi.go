package admin

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/kpi"
	"github.com/carepath/carepath/internal/platform/web"
)

// kpiTile is one KPI as the desk shows it: figures already formatted, the
// definition as the tile's title.
type kpiTile struct {
	Label, Value, Detail, Definition string
}

// kpiView is a report ready for the kpi_tiles template.
type kpiView struct {
	Scope, From, To string
	Tiles           []kpiTile
}

var kpiScopeNames = map[string]string{
	"caseload": "我的分管患者", "department": "本科室", "organisation": "全院",
}

func percent(r kpi.Rate) (string, string) {
	if r.Percent == nil {
		return "—", "无可统计数据"
	}
	return fmt.Sprintf("%.1f%%", *r.Percent), fmt.Sprintf("%d / %d", r.Numerator, r.Denominator)
}

func minutes(p *float64) string {
	if p == nil {
		return "—"
	}
	if *p >= 120 {
		return fmt.Sprintf("%.1f 小时", *p/60)
	}
	return fmt.Sprintf("%.0f 分钟", *p)
}

func newKPIView(r kpi.Report) kpiView {
	v := kpiView{Scope: kpiScopeNames[r.Scope], From: r.From, To: r.To}
	add := func(label, value, detail, def string) {
		v.Tiles = append(v.Tiles, kpiTile{Label: label, Value: value, Detail: detail, Definition: def})
	}
	val, det := percent(r.Timeliness)
	add("随访及时率", val, det, "时间窗在区间内结束的随访中，在时间窗结束前记录结果的比例")
	val, det = percent(r.Completeness)
	add("数据完整率", val, det, "按路径各阶段的体征监测频率应收到的数据中，实际收到的比例")
	a := r.AlertAcknowledge
	add("预警响应中位时间", minutes(a.MedianMinutes), fmt.Sprintf("P90 %s · %d 条 · 未响应 %d", minutes(a.P90Minutes), a.Count, a.Pending),
		"区间内触发的预警，从触发到确认或处理的时间")
	f := r.FirstResponse
	add("首次回复中位时长", minutes(f.MedianMinutes), fmt.Sprintf("%d 次 · 未回复 %d", f.Count, f.Pending),
		"患者或家属发起咨询到医护首次回复的时间")
	nps, npsDet := "—", "无问卷"
	if r.NPS.Score != nil {
		nps, npsDet = fmt.Sprintf("%.1f", *r.NPS.Score), fmt.Sprintf("%d 份 · 推荐 %d · 贬损 %d", r.NPS.Responses, r.NPS.Promoters, r.NPS.Detractors)
	}
	add("NPS 净推荐值", nps, npsDet, "推荐者（9–10 分）比例减贬损者（0–6 分）比例")
	per := "—"
	if r.ActivePerCM.PerCM != nil {
		per = fmt.Sprintf("%.1f", *r.ActivePerCM.PerCM)
	}
	add("人均管理患者", per, fmt.Sprintf("%d 名患者 · %d 名个案管理师", r.ActivePerCM.ActivePatients, r.ActivePerCM.CaseManagers), "当前在管患者数除以其个案管理师人数")
	val, det = percent(r.UnplannedReadmission30Days)
	add("30 天非计划再入院率", val, det, "30 天观察期在区间内结束的出院中，30 天内再次非计划入院的比例；记录为计划内入院（化疗周期、分期手术等）的不计入（以护理计划记录的入院/出院为准）")
	val, det = percent(r.Readmission30Days)
	add("30 天再入院率（全部）", val, det, "30 天观察期在区间内结束的出院中，30 天内再次入院（含计划内入院）的比例（以护理计划记录的入院/出院为准）")
	return v
}

// myKPIs is the dashboard's KPI section: the last 30 days of the caller's
// scope; nil when KPIs are not wired or cannot be computed (the dashboard
// still renders, and the failure is logged once).
func (h *Handler) myKPIs(c *gin.Context, a auth.Actor) *kpiView {
	if h.d.KPIs == nil {
		return nil
	}
	p, err := h.d.KPIs.ParsePeriod("", "")
	if err == nil {
		var r kpi.Report
		if r, err = h.d.KPIs.Report(ctx(c), a, p); err == nil {
			v := newKPIView(r)
			return &v
		}
	}
	web.Logger(c).Error("dashboard kpis", "error", err.Error())
	return nil
}

// KPIsPage handles GET /admin/kpis?from=&to=: the KPIs of the caller's
// scope (an admin's hospital, a lead's department, a CM's caseload), as
// numbers only.
func (h *Handler) KPIsPage(c *gin.Context) {
	if h.d.KPIs == nil {
		c.Status(http.StatusNotFound)
		return
	}
	p, err := h.d.KPIs.ParsePeriod(c.Query("from"), c.Query("to"))
	if err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	r, err := h.d.KPIs.Report(ctx(c), a, p)
	if err != nil {
		web.Error(c, err)
		return
	}
	v := newKPIView(r)
	h.render(c, http.StatusOK, "kpis.html", h.page(c, "管理指标", map[string]any{"KPIs": &v}))
}
