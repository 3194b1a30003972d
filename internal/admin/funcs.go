package admin

import (
	"cmp"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/appointment"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/patient"
)

func funcs(zone *time.Location, now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"roleName":     roleName,
		"riskName":     riskName,
		"severityName": severityName,
		"waiting":      waiting,
		"chart":        chart,
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(zone).Format("2006-01-02 15:04")
		},
		"clock": func(t time.Time) string { return t.In(zone).Format("15:04") },
		"today": func() string { return now().In(zone).Format("2006-01-02") },
		"sender": func(name, role string) string {
			if name != "" {
				return name
			}
			switch role {
			case "patient":
				return "患者"
			case "family":
				return "家属"
			}
			return roleName(auth.Role(role))
		},
		"taskStatus": func(s string) string {
			switch s {
			case "done":
				return "已完成"
			case "upcoming":
				return "未开始"
			case "due":
				return "待完成"
			case "overdue":
				return "已逾期"
			}
			return s
		},
		"eventName": func(e string) string {
			return cmp.Or(map[string]string{"enrolment": "入组", "admission": "入院", "surgery": "手术", "discharge": "出院"}[e], e)
		},
		"admissionKind": func(planned *bool) string {
			switch {
			case planned == nil:
				return ""
			case *planned:
				return "（计划内入院）"
			}
			return "（非计划入院）"
		},
		"apptKind":   func(k string) string { return cmp.Or(appointment.Kinds[k], k) },
		"apptStatus": apptStatus,
		"alertStatus": func(s string) string {
			switch s {
			case "open":
				return "待处理"
			case "acknowledged":
				return "已确认"
			case "resolved":
				return "已处理"
			}
			return s
		},
		"channel":    func(v string) string { return choiceLabel(channelChoices(), v) },
		"adherence":  func(v string) string { return choiceLabel(adherenceChoices(), v) },
		"scopes":     scopeNames,
		"pushStatus": pushStatus,
		"pushKind":   pushKind,
		"day":        func(t time.Time) string { return t.In(zone).Format("2006-01-02") },
		"lastDay":    func(t time.Time) string { return t.In(zone).AddDate(0, 0, -1).Format("2006-01-02") },
		"localInput": func(t time.Time) string { return t.In(zone).Format("2006-01-02T15:04") },
		"minutes":    func(from, to time.Time) int { return int(to.Sub(from).Minutes()) },
		"rfc3339":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"score": func(f *float64) string {
			if f == nil {
				return "—"
			}
			return strconv.FormatFloat(*f, 'f', -1, 64)
		},
		"yesNo": func(b *bool) string {
			if b == nil {
				return "—"
			}
			if *b {
				return "已联系上"
			}
			return "未联系上"
		},
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"deref": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
	}
}

func roleName(r auth.Role) string {
	switch r {
	case auth.RoleCM:
		return "个案管理师"
	case auth.RoleLead:
		return "护士长"
	case auth.RoleAdmin:
		return "系统管理员"
	}
	return string(r)
}

func riskName(r string) string {
	switch r {
	case patient.RiskHigh:
		return "高危"
	case patient.RiskMedium:
		return "中危"
	}
	return "低危"
}

func severityName(s string) string {
	switch s {
	case "critical":
		return "危急"
	case "high":
		return "高"
	case "medium":
		return "中"
	}
	return "低"
}

// waiting says how long a thread has waited, the way a nurse says it.
func waiting(seconds int64) string {
	switch {
	case seconds < 60:
		return "刚刚"
	case seconds < 3600:
		return fmt.Sprintf("%d 分钟", seconds/60)
	case seconds < 86400:
		return fmt.Sprintf("%d 小时 %d 分钟", seconds/3600, seconds%3600/60)
	}
	return fmt.Sprintf("%d 天 %d 小时", seconds/86400, seconds%86400/3600)
}

func apptStatus(s string) string {
	switch s {
	case appointment.StatusProposed:
		return "路径建议，待采纳"
	case appointment.StatusScheduled:
		return "待确认"
	case appointment.StatusConfirmed:
		return "已确认"
	case appointment.StatusRescheduleRequested:
		return "申请改期"
	case appointment.StatusCancelled:
		return "已取消"
	case appointment.StatusCompleted:
		return "已完成"
	case appointment.StatusNoShow:
		return "爽约"
	}
	return s
}

var scopeLabels = map[string]string{
	"view_plan": "查看计划", "view_vitals": "查看体征", "view_appointments": "查看预约",
	"message": "发消息", "report": "代为上报", "receive_push": "接收提醒",
}

// scopeNames shows a family link's comma-separated scopes in words.
func scopeNames(s string) string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, cmp.Or(scopeLabels[k], k))
		}
	}
	if len(out) == 0 {
		return "无"
	}
	return strings.Join(out, "、")
}

// pushKindLabels name each kind of push in the push log.
var pushKindLabels = map[string]string{
	notify.KindStageBegins:         "阶段开始",
	notify.KindAppointmentReminder: "预约提醒",
	notify.KindCMMessage:           "管理师新消息",
	notify.KindQuestionnaireDue:    "问卷待填写",
	notify.KindEducationReady:      "健康教育",
	notify.KindReadingAttention:    "健康提醒",
	notify.KindReportingReminder:   "上报提醒",
}

// pushKind shows a push kind in words; an unknown kind shows as it is.
func pushKind(kind string) string { return cmp.Or(pushKindLabels[kind], kind) }

func pushStatus(s string) string {
	switch s {
	case "sent":
		return "已发送"
	case "queued", "retrying", "deferred":
		return "待发送"
	case "sending":
		return "发送中"
	case "interrupted":
		return "发送中断，可能已送达"
	case "failed":
		return "发送失败"
	case "no_quota":
		return "未订阅，未发送"
	case "capped":
		return "超出每日上限"
	case "skipped":
		return "未发送"
	}
	return s
}
