package admin

import (
	"fmt"
	"html/template"
	"time"

	"github.com/carepath/carepath/internal/auth"
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
