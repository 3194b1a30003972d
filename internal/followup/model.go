// Package followup is the case manager's follow-ups (随访): contacts by
// phone, WeChat, home visit or clinic, each a CM task with a due window.
// The schedule comes from the pathway's followups (through the Plans
// interface, never the care plan tables) and from the risk level's rhythm
// (high monthly, medium quarterly, low yearly) after the pathway's last one.
// The CM records the outcome in a structured form (reached or not,
// symptoms, medication adherence, problems, next action) or reschedules.
//
// A pending follow-up whose window has closed is overdue (随访超时): the
// periodic scan flags it for the CM's list (followup.overdue event) and,
// after followup.escalate_after more, escalates it to the department lead
// (followup.escalated event, payload {"followup_id", "patient_id",
// "lead_id", "window_end"}). Windows are whole days in the hospital's zone:
// a window ends at local midnight, not UTC midnight.
//
// Outcome text is clinical: it is never logged, and it is sealed at rest
// (Store.Sealed) like message text.
package followup

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Channels.
const (
	ChannelPhone     = "phone"
	ChannelWeChat    = "wechat"
	ChannelHomeVisit = "home_visit"
	ChannelClinic    = "clinic"
)

// Channels lists the channels.
var Channels = []string{ChannelPhone, ChannelWeChat, ChannelHomeVisit, ChannelClinic}

// Sources.
const (
	SourcePathway = "pathway"
	SourceRhythm  = "rhythm"
	SourceManual  = "manual"
)

// Statuses. Overdue is not a status: a pending follow-up past its window.
// Cancelled: its care plan was closed (结案) before it was made; it is
// neither overdue nor counted as due.
const (
	StatusPending   = "pending"
	StatusDone      = "done"
	StatusCancelled = "cancelled"
)

// Adherence values of an outcome.
var Adherences = []string{"good", "partial", "poor", "unknown"}

// Followup is one planned contact and, once made, its outcome.
type Followup struct {
	ID           string
	PatientID    string
	PlanID       *string
	ItemKey      string
	Source       string
	Title        string
	Channel      string
	WindowStart  time.Time
	WindowEnd    time.Time // exclusive: local midnight after the window's last day
	Status       string
	OverdueAt    *time.Time
	EscalatedAt  *time.Time
	EscalatedTo  string
	Reached      *bool
	Symptoms     string
	Adherence    string
	Problems     string
	NextAction   string
	NotesSealed  bool // Symptoms, Problems and NextAction are sealed (fieldcrypt) in the row; the store opens them on read
	RecordedByID string
	RecordedAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (Followup) TableName() string { return "followups" }

// Tasks and topics.
const (
	TaskSync        = "followup.sync"      // create follow-ups the plans call for
	TaskScanOverdue = "followup.scan"      // flag overdue and escalate
	TopicOverdue    = "followup.overdue"   // payload {"followup_id", "patient_id", "window_end"}
	TopicEscalated  = "followup.escalated" // payload {"followup_id", "patient_id", "lead_id", "window_end"}
)

// Errors clients branch on.
var (
	ErrNotFound      = apperr.NotFound("随访")
	ErrAlreadyDone   = apperr.New(apperr.KindConflict, "followup_already_recorded", "该随访已记录结果")
	ErrCancelled     = apperr.New(apperr.KindConflict, "followup_cancelled", "护理计划已结案，该随访已取消，不能改期")
	ErrBadChannel    = apperr.Invalid("channel", "invalid_channel", "随访方式只能是 phone、wechat、home_visit 或 clinic")
	ErrBadAdherence  = apperr.Invalid("adherence", "invalid_adherence", "用药依从性只能是 good、partial、poor 或 unknown")
	ErrBadDate       = apperr.Invalid("due_on", "invalid_date", "日期格式应为 YYYY-MM-DD")
	ErrDueInPast     = apperr.New(apperr.KindUnprocessable, "due_in_past", "随访日期不能早于今天").WithDetail("field", "due_on")
	ErrReachedNeeded = apperr.Invalid("reached", "reached_required", "请说明是否联系上患者")
)
