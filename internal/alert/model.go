// Package alert turns readings into alerts for the patient's case manager.
// Its rules are pure functions of (thresholds, readings, clock, zone) in
// rules.go; thresholds are global defaults, then the pathway's overrides,
// then the CM's per-patient overrides. An alert belongs to the patient's CM,
// lists the readings that caused it, folds repeats into the open alert of
// the same kind, and goes open → acknowledged → resolved. A new alert (or an
// escalation) writes alert.raised to the outbox in the alert's transaction;
// the realtime layer fans it out to connected CM clients. It never logs
// readings or names.
package alert

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Statuses of an alert.
const (
	StatusOpen         = "open"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
)

// Actions a CM may record when resolving an alert.
var Actions = []string{
	"phone_follow_up",      // 电话随访
	"advised_clinic_visit", // 建议门诊就诊
	"advised_emergency",    // 建议急诊或拨打 120
	"medication_adjusted",  // 联系医生调整用药
	"home_visit",           // 上门访视
	"education",            // 健康教育
	"no_action_needed",     // 评估后无需处理（如测量误差）
	"other",
}

// TopicRaised is the outbox topic of a new or escalated alert.
const TopicRaised = "alert.raised"

// Alert is one alert of one patient.
type Alert struct {
	ID              string
	PatientID       string
	OwnerID         *string // the patient's CM when it was raised
	Kind            string
	Rule            string
	Severity        string
	VitalType       string
	Status          string
	OpenKey         *string // = Kind until resolved: the database allows one open alert per patient and kind
	Summary         string
	Occurrences     int
	FirstRaisedAt   time.Time
	LastTriggeredAt time.Time
	AcknowledgedAt  *time.Time
	AcknowledgedBy  *string
	ResolvedAt      *time.Time
	ResolvedBy      *string
	ActionTaken     string
	ResolutionNote  string
	// ResolutionNoteSealed: the note is sealed at rest (migration 0014);
	// notes written before are read as they are.
	ResolutionNoteSealed bool
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

func (Alert) TableName() string { return "alerts" }

// Reading links an alert to a reading that caused it.
type Reading struct {
	AlertID   string
	ReadingID string
	CreatedAt time.Time
}

func (Reading) TableName() string { return "alert_readings" }

// Override is one per-patient threshold set by a CM.
type Override struct {
	PatientID    string
	ThresholdKey string
	Value        float64
	UpdatedBy    string
	UpdatedAt    time.Time
}

func (Override) TableName() string { return "alert_thresholds" }

// RaisedEvent is the payload of alert.raised: identifiers and severity
// only, no names and no values (they stay behind the access policy).
// Recipients are the staff to push it to: the patient's CM and the CM
// covering for them.
type RaisedEvent struct {
	AlertID    string    `json:"alert_id"`
	PatientID  string    `json:"patient_id"`
	OwnerID    string    `json:"owner_id,omitempty"`
	Recipients []string  `json:"recipients,omitempty"`
	Kind       string    `json:"kind"`
	Rule       string    `json:"rule"`
	Severity   string    `json:"severity"`
	Escalated  bool      `json:"escalated"`
	RaisedAt   time.Time `json:"raised_at"`
}

// Errors callers and clients branch on.
var (
	ErrNotFound        = apperr.NotFound("预警")
	ErrResolved        = apperr.New(apperr.KindConflict, "alert_resolved", "该预警已处理完毕，不能再更改")
	errBadStatus       = apperr.Invalid("status", "invalid_status", "status 必须是 active、open、acknowledged、resolved 或 all")
	errBadSeverity     = apperr.Invalid("severity", "invalid_severity", "severity 必须是 critical、high 或 medium")
	errBadCursor       = apperr.Invalid("cursor", "invalid_cursor", "分页游标无效")
	errBadAction       = apperr.Invalid("action_taken", "invalid_action", "action_taken 取值不合法")
	errNoteRequired    = apperr.Invalid("note", "missing_field", "处理预警需要填写处理记录（note）")
	errTooManyOverride = apperr.Invalid("overrides", "too_many", "阈值数量超出上限")
)
