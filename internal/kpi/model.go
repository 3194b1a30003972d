// Package kpi is the case-management KPIs of the CM dashboard and the admin
// desk: follow-up timeliness, data completeness, alert time-to-acknowledge,
// first response time in messaging, NPS, active patients per CM, and 30-day
// readmission, unplanned (非计划再入院率) and all-cause. Each KPI's definition (numerator, denominator, window,
// exclusions, time zone) is written next to the code that computes it.
//
// Common to all:
//   - Period: [from, to) between two local midnights in the hospital's zone
//     (Asia/Shanghai by default); the API takes from and to as dates, to
//     exclusive. Times are stored in UTC and compared as instants.
//   - Scope: the patients the caller's aggregates cover (access.AggregatePatients:
//     a CM's assigned caseload, a lead's department, an admin's hospital),
//     as the patients are assigned now.
//   - Every figure is computed by a fixed number of set-based queries per
//     report (none per patient), and only numbers leave the package: no
//     patient id, name or reading is ever in a Report.
//   - A rate or a median with nothing to measure is null, not 0.
package kpi

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Rate is a ratio as a percentage rounded to one decimal; Percent is nil
// when the denominator is 0.
type Rate struct {
	Numerator   int      `json:"numerator"`
	Denominator int      `json:"denominator"`
	Percent     *float64 `json:"percent"`
}

// Durations summarises waiting times in minutes (one decimal).
type Durations struct {
	Count         int      `json:"count"`   // measured (acknowledged, answered)
	Pending       int      `json:"pending"` // still waiting at the end of the period: not in the median
	MedianMinutes *float64 `json:"median_minutes"`
	P90Minutes    *float64 `json:"p90_minutes"`
}

// NPSResult is the Net Promoter Score of the period's answers.
type NPSResult struct {
	Responses  int      `json:"responses"`
	Promoters  int      `json:"promoters"`
	Detractors int      `json:"detractors"`
	Score      *float64 `json:"score"` // −100…100
}

// Caseload is active patients per case manager.
type Caseload struct {
	ActivePatients int      `json:"active_patients"`
	CaseManagers   int      `json:"case_managers"`
	PerCM          *float64 `json:"per_cm"`
}

// Report is every KPI of one scope over one period.
type Report struct {
	Scope            string    `json:"scope"` // caseload | department | organisation
	From             string    `json:"from"`  // YYYY-MM-DD, inclusive
	To               string    `json:"to"`    // YYYY-MM-DD, exclusive
	Timeliness       Rate      `json:"followup_timeliness"`
	Completeness     Rate      `json:"data_completeness"`
	AlertAcknowledge Durations `json:"alert_acknowledge"`
	FirstResponse    Durations `json:"first_response"`
	NPS              NPSResult `json:"nps"`
	ActivePerCM      Caseload  `json:"active_patients_per_cm"`
	// All-cause: any admission within 30 days of a discharge, planned ones
	// (the next chemotherapy cycle) included.
	Readmission30Days Rate `json:"readmission_30d"`
	// Unplanned (非计划再入院率): admissions recorded as planned (计划内入院)
	// left out of the numerator; same denominator as the all-cause rate.
	UnplannedReadmission30Days Rate `json:"unplanned_readmission_30d"`
}

// Period is [From, To) between local midnights.
type Period struct {
	From, To time.Time
}

// MaxDays is the longest period a report covers.
const MaxDays = 366

// Errors clients branch on.
var (
	ErrBadFrom    = apperr.Invalid("from", "invalid_date", "开始日期格式应为 YYYY-MM-DD")
	ErrBadTo      = apperr.Invalid("to", "invalid_date", "结束日期格式应为 YYYY-MM-DD")
	ErrRange      = apperr.Invalid("to", "invalid_range", "开始日期必须早于结束日期")
	ErrRangeLong  = apperr.Invalid("to", "range_too_long", "统计区间不能超过 366 天")
	ErrNoKPIScope = apperr.New(apperr.KindForbidden, "kpi_not_allowed", "您的账号没有可查看的统计范围")
)
