package admin

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// auditPageSize bounds one page of the audit search.
const auditPageSize = 50

var errAuditFilter = apperr.Invalid("filter", "invalid_filter", "筛选条件无效：患者和操作者为 ID（最多36位），日期格式为 YYYY-MM-DD")

// AuditPage handles GET /admin/audit: the audit log searched by patient,
// actor, action (a prefix such as "GET /api/v1/patients/:patientID") and a
// date range in the hospital's zone, newest first, 50 a page. For admins and
// department leads (MLPS 2.0 security audit); it shows ids, never names. A
// lead sees their department's patients' and staff's events, an admin the
// hospital's (access.AuditEvents: the KPIs' aggregate scope).
func (h *Handler) AuditPage(c *gin.Context) {
	q, err := h.auditQuery(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	a, _ := auth.ActorFrom(c)
	q.Within = access.AuditEvents(a, "audit_events")
	events, err := h.d.Audit.Search(ctx(c), q)
	if err != nil {
		web.Error(c, err)
		return
	}
	next := ""
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		v := url.Values{}
		for _, k := range []string{"patient", "actor", "action", "from", "to"} {
			if s := c.Query(k); s != "" {
				v.Set(k, s)
			}
		}
		v.Set("cursor", events[len(events)-1].ID)
		next = "/admin/audit?" + v.Encode()
	}
	h.render(c, http.StatusOK, "audit.html", h.page(c, "审计日志", map[string]any{
		"Events": events, "Next": next,
		"Filter": map[string]string{"Patient": c.Query("patient"), "Actor": c.Query("actor"), "Action": c.Query("action"),
			"From": c.Query("from"), "To": c.Query("to")},
	}))
}

func (h *Handler) auditQuery(c *gin.Context) (audit.SearchQuery, error) {
	q := audit.SearchQuery{
		PatientID: strings.TrimSpace(c.Query("patient")), ActorID: strings.TrimSpace(c.Query("actor")),
		Action: strings.TrimSpace(c.Query("action")), Cursor: c.Query("cursor"), Limit: auditPageSize + 1,
	}
	if len(q.PatientID) > 36 || len(q.ActorID) > 36 || len(q.Cursor) > 36 || len(q.Action) > 255 {
		return q, errAuditFilter
	}
	day := func(s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		return time.ParseInLocation(time.DateOnly, s, h.d.Zone)
	}
	var err error
	if q.From, err = day(c.Query("from")); err != nil {
		return q, errAuditFilter
	}
	if q.To, err = day(c.Query("to")); err != nil {
		return q, errAuditFilter
	}
	if !q.To.IsZero() {
		q.To = q.To.AddDate(0, 0, 1) // the whole last day
	}
	return q, nil
}
