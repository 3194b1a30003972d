package admin

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/web"
)

// caseloadLimit bounds the caseload read for the desk: a CM carries 30–50
// active patients, a lead a ward; names are sealed at rest, so search
// filters the opened rows in memory.
const caseloadLimit = 500

// CaseRow is one patient of the caseload with where their plan stands.
type CaseRow struct {
	patient.Profile
	Pathway     string
	PathwayName string
	Stage       string
	StageName   string
	Phase       string
	StageDay    int
	OpenAlerts  int
	Waiting     bool
}

// Count is a labelled number for the summary tiles.
type Count struct {
	Key   string
	Label string
	N     int
}

func (h *Handler) caseload(c *gin.Context, a auth.Actor) ([]CaseRow, error) {
	profiles, err := h.d.Patients.Caseload(ctx(c), a, caseloadLimit)
	if err != nil {
		return nil, err
	}
	positions, err := h.d.Plans.ActivePositions(ctx(c))
	if err != nil {
		return nil, err
	}
	byPatient := map[string]careplan.Position{}
	for _, p := range positions {
		byPatient[p.PatientID] = p
	}
	rows := make([]CaseRow, 0, len(profiles))
	for _, p := range profiles {
		r := CaseRow{Profile: p}
		if pos, ok := byPatient[p.ID]; ok {
			r.Pathway, r.Stage, r.StageDay = pos.Pathway, pos.Stage, pos.StageDay
			if pw, ok := h.d.Plans.Pathways().Pathway(pos.Pathway); ok {
				r.PathwayName = pw.Name
				for _, s := range pw.Stages {
					if s.Key == pos.Stage {
						r.StageName, r.Phase = s.Name, s.Phase
					}
				}
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func phaseName(p string) string {
	switch p {
	case careplan.PhasePre:
		return "院前"
	case careplan.PhaseIn:
		return "院中"
	case careplan.PhasePost:
		return "院后"
	}
	if p == "" {
		return "未入径"
	}
	return p
}

// Dashboard handles GET /admin: the CM's day at a glance. Administrators,
// who read no records, see the organisation overview instead.
// caseloadNames is the caller's caseload with each patient's name by id,
// for rows that carry only a patient id.
func (h *Handler) caseloadNames(c *gin.Context, a auth.Actor) ([]CaseRow, map[string]string, error) {
	rows, err := h.caseload(c, a)
	if err != nil {
		return nil, nil, err
	}
	names := make(map[string]string, len(rows))
	for _, r := range rows {
		names[r.ID] = r.Name
	}
	return rows, names, nil
}

func (h *Handler) Dashboard(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if a.Role == auth.RoleAdmin {
		h.adminHome(c)
		return
	}
	rows, names, err := h.caseloadNames(c, a)
	if err != nil {
		web.Error(c, err)
		return
	}
	alerts, err := h.d.Alerts.Open(ctx(c), a)
	if err != nil {
		web.Error(c, err)
		return
	}
	alerts = sortAlerts(alerts, names)
	inbox, _, err := h.d.Messages.Inbox(ctx(c), a, "", 100)
	if err != nil {
		web.Error(c, err)
		return
	}
	var waitingThreads []messaging.InboxEntry
	var firstResponses []int64
	for _, e := range inbox {
		if e.Waiting {
			waitingThreads = append(waitingThreads, e)
		}
		if e.FirstResponseSeconds != nil {
			firstResponses = append(firstResponses, *e.FirstResponseSeconds)
		}
	}
	slices.SortFunc(waitingThreads, func(x, y messaging.InboxEntry) int { return cmp.Compare(y.WaitingSeconds, x.WaitingSeconds) })
	day := h.d.Now().In(h.d.Zone)
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, h.d.Zone)
	appointments, err := h.d.Appointments.Day(ctx(c), a, from, from.AddDate(0, 0, 1))
	if err != nil {
		web.Error(c, err)
		return
	}
	for i := range appointments {
		if appointments[i].PatientName == "" {
			appointments[i].PatientName = names[appointments[i].PatientID]
		}
	}
	overdue, err := h.overdueFollowups(c, a, names)
	if err != nil {
		web.Error(c, err)
		return
	}
	h.render(c, http.StatusOK, "dashboard.html", h.page(c, "工作台", map[string]any{
		"Overdue": overdue,
		"Rows":    rows, "ByPhase": countBy(rows, func(r CaseRow) (string, string) { return r.Phase, phaseName(r.Phase) }),
		"ByRisk": countBy(rows, func(r CaseRow) (string, string) { return r.RiskLevel, riskName(r.RiskLevel) }),
		"Alerts": alerts, "AlertsBySeverity": countAlerts(alerts), "AlertsEnabled": h.d.Alerts.Enabled(),
		"Waiting": waitingThreads, "Appointments": appointments, "MyKPIs": h.myKPIs(c, a),
		"KPI": map[string]any{
			"Caseload": len(rows), "Waiting": len(waitingThreads),
			"MedianFirstResponse": median(firstResponses), "HasFirstResponse": len(firstResponses) > 0,
		},
	}))
}

func countBy(rows []CaseRow, key func(CaseRow) (string, string)) []Count {
	var out []Count
	for _, r := range rows {
		k, label := key(r)
		i := slices.IndexFunc(out, func(c Count) bool { return c.Key == k })
		if i < 0 {
			out = append(out, Count{Key: k, Label: label})
			i = len(out) - 1
		}
		out[i].N++
	}
	return out
}

var severityOrder = map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3}

// sortAlerts puts critical on top, then the longest-standing first.
func sortAlerts(alerts []AlertRow, names map[string]string) []AlertRow {
	for i := range alerts {
		if alerts[i].PatientName == "" {
			alerts[i].PatientName = names[alerts[i].PatientID]
		}
	}
	slices.SortStableFunc(alerts, func(x, y AlertRow) int {
		if c := cmp.Compare(severityOrder[x.Severity], severityOrder[y.Severity]); c != 0 {
			return c
		}
		return x.RaisedAt.Compare(y.RaisedAt)
	})
	return alerts
}

func countAlerts(alerts []AlertRow) []Count {
	out := []Count{{Key: "critical", Label: "危急"}, {Key: "high", Label: "高"}, {Key: "medium", Label: "中"}, {Key: "low", Label: "低"}}
	for _, a := range alerts {
		if i := slices.IndexFunc(out, func(c Count) bool { return c.Key == a.Severity }); i >= 0 {
			out[i].N++
		}
	}
	return out
}

// median of first-response times, in seconds; 0 when there are none.
func median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sortKeys is the allowlist of the patient list's sort keys.
var sortKeys = map[string]func(x, y CaseRow) int{
	"name":  func(x, y CaseRow) int { return strings.Compare(x.Name, y.Name) },
	"bed":   func(x, y CaseRow) int { return strings.Compare(x.Bed, y.Bed) },
	"risk":  func(x, y CaseRow) int { return cmp.Compare(riskRank(x.RiskLevel), riskRank(y.RiskLevel)) },
	"stage": func(x, y CaseRow) int { return strings.Compare(x.Phase+x.Stage, y.Phase+y.Stage) },
	"new":   func(x, y CaseRow) int { return y.CreatedAt.Compare(x.CreatedAt) },
}

func riskRank(r string) int {
	switch r {
	case patient.RiskHigh:
		return 0
	case patient.RiskMedium:
		return 1
	}
	return 2
}

// FilterCases applies the list's search, filters and sort (pure, for tests).
func FilterCases(rows []CaseRow, q, phase, risk, sortKey string) []CaseRow {
	q = strings.ToLower(strings.TrimSpace(q))
	out := make([]CaseRow, 0, len(rows))
	for _, r := range rows {
		if phase != "" && r.Phase != phase {
			continue
		}
		if risk != "" && r.RiskLevel != risk {
			continue
		}
		if q != "" {
			hay := strings.ToLower(strings.Join([]string{r.Name, r.MRN, r.Bed, r.PhoneMasked, r.PathwayName, r.Pathway, r.StageName}, "\x00"))
			if !strings.Contains(hay, q) {
				continue
			}
		}
		out = append(out, r)
	}
	by, ok := sortKeys[sortKey]
	if !ok {
		by = sortKeys["risk"]
	}
	slices.SortStableFunc(out, by)
	return out
}

// Patients handles GET /admin/patients: search and filter the caseload.
func (h *Handler) Patients(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	rows, err := h.caseload(c, a)
	if err != nil {
		web.Error(c, err)
		return
	}
	q, phase, risk, sortKey := c.Query("q"), c.Query("phase"), c.Query("risk"), c.Query("sort")
	if _, ok := sortKeys[sortKey]; !ok {
		sortKey = "risk"
	}
	h.render(c, http.StatusOK, "patients.html", h.page(c, "患者列表", map[string]any{
		"Rows": FilterCases(rows, q, phase, risk, sortKey), "Total": len(rows),
		"Q": q, "Phase": phase, "Risk": risk, "Sort": sortKey,
		"Phases": countBy(rows, func(r CaseRow) (string, string) { return r.Phase, phaseName(r.Phase) }),
	}))
}

// patientData gathers what the patient page and the printed summary show.
func (h *Handler) patientData(c *gin.Context, window time.Duration) (map[string]any, bool) {
	a, _ := auth.ActorFrom(c)
	g := access.GrantFrom(c)
	profile, err := h.d.Patients.Profile(ctx(c), g.PatientID)
	if err != nil {
		web.Error(c, err)
		return nil, false
	}
	data := map[string]any{"Patient": profile, "PatientID": g.PatientID}
	plan, err := h.d.Plans.Current(ctx(c), g.PatientID)
	switch {
	case err == nil:
		data["Plan"] = plan
		history, err := h.d.Plans.History(ctx(c), g.PatientID, plan.ID)
		if err != nil {
			web.Error(c, err)
			return nil, false
		}
		data["History"] = history
	case errors.Is(err, careplan.ErrNoActivePlan):
	default:
		web.Error(c, err)
		return nil, false
	}
	plans, err := h.d.Plans.Plans(ctx(c), g.PatientID)
	if err != nil {
		web.Error(c, err)
		return nil, false
	}
	var closed []careplan.PlanSummary
	for _, p := range plans {
		if p.Status == careplan.StatusClosed {
			closed = append(closed, p)
		}
	}
	data["ClosedPlans"], data["CloseReasons"] = closed, careplan.CloseReasons
	data["Pathways"] = h.d.Plans.Pathways().All()
	alerts, err := h.d.Alerts.ForPatient(ctx(c), a, g.PatientID)
	if err != nil {
		web.Error(c, err)
		return nil, false
	}
	data["Alerts"] = sortAlerts(alerts, map[string]string{g.PatientID: profile.Name})
	data["AlertsEnabled"] = h.d.Alerts.Enabled()
	data["ResolveActions"] = ResolveActions
	series, err := h.d.Vitals.Series(ctx(c), g.PatientID, h.d.Now().Add(-window))
	if err != nil {
		web.Error(c, err)
		return nil, false
	}
	data["Series"] = series
	if !h.careData(c, g.PatientID, data) {
		return nil, false
	}
	return data, true
}

var windows = map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

// Patient handles GET /admin/patients/:patientID.
func (h *Handler) Patient(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	g := access.GrantFrom(c)
	win := c.DefaultQuery("window", "30d")
	if _, ok := windows[win]; !ok {
		win = "30d"
	}
	data, ok := h.patientData(c, windows[win])
	if !ok {
		return
	}
	page, err := h.d.Messages.Messages(ctx(c), a, g, messaging.Page{Limit: 50, Staff: true})
	if err != nil {
		web.Error(c, err)
		return
	}
	msgs := slices.Clone(page.Items)
	slices.SortFunc(msgs, func(x, y messaging.MessageView) int { return cmp.Compare(x.Seq, y.Seq) })
	quick, err := h.d.Messages.QuickReplies(ctx(c), a)
	if err != nil {
		web.Error(c, err)
		return
	}
	members, err := h.d.Family.Members(ctx(c), g.PatientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	// The patient's own actions are not "access" to their record.
	userID, err := h.d.Patients.UserIDOf(ctx(c), g.PatientID)
	if err != nil {
		web.Error(c, err)
		return
	}
	access, err := h.d.Audit.Access(ctx(c), audit.AccessQuery{PatientID: g.PatientID, ExcludeUserID: userID, Limit: 20})
	if err != nil {
		web.Error(c, err)
		return
	}
	feed, err := h.d.Education.Feed(ctx(c), g.PatientID, false)
	if err != nil {
		web.Error(c, err)
		return
	}
	data["Messages"] = msgs
	data["LastSeq"] = page.LastSeq
	data["QuickReplies"] = quick
	data["Family"] = members
	data["AccessLog"] = accessRows(access)
	data["Feed"] = feed
	data["Articles"] = h.d.Education.Library().All()
	data["Window"] = win
	h.render(c, http.StatusOK, "patient.html", h.page(c, "患者详情", data))
}

// AccessRow is one line of "who viewed this record".
type AccessRow struct {
	At      time.Time
	Who     string
	Summary string
}

func accessRows(events []audit.Event) []AccessRow {
	out := make([]AccessRow, 0, len(events))
	for _, e := range events {
		who := e.ActorKind
		switch {
		case e.ActorRole != "":
			who = roleName(auth.Role(e.ActorRole))
		case e.ActorKind == "user":
			who = "家属"
		}
		out = append(out, AccessRow{At: e.At, Who: who, Summary: audit.Summarize(e.Action, audit.ResourceOf(e.Action))})
	}
	return out
}

// Summary handles GET /admin/patients/:patientID/summary: the printable
// health report (健康报告).
func (h *Handler) Summary(c *gin.Context) {
	data, ok := h.patientData(c, windows["30d"])
	if !ok {
		return
	}
	data["PrintedAt"] = h.d.Now()
	h.render(c, http.StatusOK, "summary.html", h.page(c, "健康报告", data))
}

// PathwaysPage handles GET /admin/pathways.
func (h *Handler) PathwaysPage(c *gin.Context) {
	h.pathwaysPage(c, http.StatusOK, map[string]any{})
}

// Library handles GET /admin/education.
func (h *Handler) Library(c *gin.Context) {
	h.render(c, http.StatusOK, "library.html", h.page(c, "健康教育库", map[string]any{"Articles": h.d.Education.Library().All()}))
}

func (h *Handler) adminHome(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	accounts, err := h.auth.Service().StaffAccounts(ctx(c), a)
	if err != nil {
		web.Error(c, err)
		return
	}
	h.render(c, http.StatusOK, "admin_home.html", h.page(c, "系统管理", map[string]any{
		"Pathways": len(h.d.Plans.Pathways().All()), "Articles": len(h.d.Education.Library().All()), "Staff": len(accounts),
		"Templates": h.templateCount(),
	}))
}
