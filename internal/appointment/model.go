// Package appointment is a patient's appointments: pre-admission booking
// (入院预约), revisits (复诊), examinations (检查), treatments, follow-up
// visits, MDT and tele-consultations. The case manager creates and edits
// them; the patient (and family holding the view_appointments scope) lists
// upcoming and past ones, confirms, cancels with a reason or asks to
// reschedule with preferred times, which lands in the CM's request queue.
// Overlaps for one patient are warned about, never refused. Upcoming
// appointments export as an iCalendar file (RFC 5545).
//
// Reminders: a periodic unique job (TaskRemind) writes, once per appointment,
// slot and start time, a notify.request outbox event in the same
// transaction as the appointment_reminders row that makes it unique. The
// notification pipeline (a separate package) consumes it. The contract:
//
//	topic:   "notify.request"
//	payload: {
//	  "kind":       "appointment_reminder",
//	  "patient_id": "<patient id>",
//	  "dedupe_key": "appointment_reminder:<appointment id>:<slot>:<start unix seconds>",
//	  "at":         "<RFC 3339 UTC start of the appointment (the card's time)>",
//	  "not_before": "<RFC 3339 UTC instant of the slot>",
//	  "data": {"appointment_id", "slot" (day_before | morning), "kind",
//	           "starts_at" (RFC 3339), "department", "location"}
//	}
//
// The data carries no clinical detail beyond what the patient was told when
// booked; the consumer decides which template and recipients (patient,
// family with receive_push) apply. Slots: the day before at 18:00 and the
// morning of the day at 07:00, in the hospital's zone; a slot already past
// when the appointment is booked is sent at once if it still makes sense.
//
// Proposals: a pathway stage may propose appointments (configs/pathways,
// a stage's appointments). When a plan enters the stage (the
// careplan.stage_changed event, and an hourly catch-up for a day that
// becomes known later) each is written once per plan and key (the unique
// proposal_key) with status proposed at its suggested time, if that time is
// still ahead. A proposal is the CM's alone: it is not in the patient's or
// family's lists, calendar or reminders, and nothing is pushed, until the CM
// accepts it (optionally at another time or place; it becomes scheduled) or
// dismisses it (cancelled, with a reason).
//
// It must not read other features' tables, and it never logs names or
// free text the patient wrote.
package appointment

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Kinds of appointment.
const (
	KindPreAdmission     = "pre_admission"    // 入院预约
	KindRevisit          = "revisit"          // 复诊
	KindExamination      = "examination"      // 检查
	KindTreatment        = "treatment"        // 治疗
	KindFollowupVisit    = "followup_visit"   // 随访门诊
	KindMDT              = "mdt"              // 多学科会诊
	KindTeleconsultation = "teleconsultation" // 远程会诊
)

// Kinds lists the kinds with their Chinese names.
var Kinds = map[string]string{
	KindPreAdmission: "入院预约", KindRevisit: "复诊", KindExamination: "检查", KindTreatment: "治疗",
	KindFollowupVisit: "随访门诊", KindMDT: "多学科会诊", KindTeleconsultation: "远程会诊",
}

// Statuses.
const (
	StatusProposed            = "proposed" // a pathway's suggestion, for the CM only
	StatusScheduled           = "scheduled"
	StatusConfirmed           = "confirmed"
	StatusRescheduleRequested = "reschedule_requested"
	StatusCancelled           = "cancelled"
	StatusCompleted           = "completed"
	StatusNoShow              = "no_show"
)

// Active reports whether an appointment with status s is still going to happen.
func Active(s string) bool {
	return s == StatusScheduled || s == StatusConfirmed || s == StatusRescheduleRequested
}

// Appointment is one booked visit.
type Appointment struct {
	ID             string
	PatientID      string
	HospitalID     string
	Kind           string
	Title          string
	StartsAt       time.Time
	EndsAt         time.Time
	Department     string
	Clinician      string
	Location       string
	Directions     string
	Preparation    string
	Status         string
	CancelReason   string
	RescheduleNote string
	// CancelReasonSealed, RescheduleNoteSealed: the free text is sealed at
	// rest (migration 0015); text written before is read as it is.
	CancelReasonSealed   bool
	RescheduleNoteSealed bool
	PreferredTimes       string // JSON array of instants
	RespondedByKind      string
	RespondedByID        string
	SourceTaskID         *string
	ProposalKey          *string // plan id ":" pathway appointment key, for a proposal
	CreatedByID          string
	RequestedAt          *time.Time
	ConfirmedAt          *time.Time
	CancelledAt          *time.Time
	AcceptedAt           *time.Time // when the CM accepted a proposal
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// PatientSees reports whether the patient (and family) see a: what the CM
// booked, and a pathway's proposal once the CM accepted it.
func (a Appointment) PatientSees() bool { return a.ProposalKey == nil || a.AcceptedAt != nil }

func (Appointment) TableName() string { return "appointments" }

// Reminder is one reminder written for an appointment's slot and start.
type Reminder struct {
	ID            string
	AppointmentID string
	Slot          string
	StartsAt      time.Time
	SendAt        time.Time
	CreatedAt     time.Time
}

func (Reminder) TableName() string { return "appointment_reminders" }

// Reminder slots.
const (
	SlotDayBefore = "day_before"
	SlotMorning   = "morning"
)

// TaskRemind is the periodic job that writes due reminders.
const TaskRemind = "appointment.remind"

// TaskPropose is the periodic catch-up that proposes the appointments of
// the plans' current stages whose day became known after the stage began.
const TaskPropose = "appointment.propose"

// SystemActor is CreatedByID of an appointment a pathway proposed.
const SystemActor = "system"

// TopicNotify is the notification pipeline's request topic.
const TopicNotify = "notify.request"

// Errors clients branch on.
var (
	ErrNotFound        = apperr.NotFound("预约")
	ErrInPast          = apperr.New(apperr.KindUnprocessable, "appointment_in_past", "预约时间不能早于当前时间").WithDetail("field", "starts_at")
	ErrEndBeforeStart  = apperr.Invalid("ends_at", "ends_before_start", "结束时间必须晚于开始时间")
	ErrTooLong         = apperr.Invalid("ends_at", "appointment_too_long", "单次预约不能超过12小时")
	ErrReasonRequired  = apperr.Invalid("reason", "cancel_reason_required", "取消预约需要填写原因")
	ErrClosed          = apperr.New(apperr.KindConflict, "appointment_closed", "该预约已结束或已取消，不能再修改")
	ErrNotRespondable  = apperr.New(apperr.KindConflict, "appointment_status_conflict", "当前状态下不能进行此操作")
	ErrPreferredTimes  = apperr.Invalid("preferred_times", "preferred_times_invalid", "请提供1–3个未来的期望时间")
	ErrOutcomeTooEarly = apperr.New(apperr.KindUnprocessable, "appointment_not_started", "预约开始前不能标记为已完成或爽约").WithDetail("field", "status")
	ErrBadStatus       = apperr.Invalid("status", "invalid_status", "状态只能是 completed、no_show 或 cancelled")
	ErrBadKind         = apperr.Invalid("kind", "invalid_kind", "预约类型无效")
	ErrDismissReason   = apperr.Invalid("reason", "dismiss_reason_required", "不采纳预约建议需要填写原因")
	ErrNotProposal     = apperr.New(apperr.KindConflict, "appointment_not_proposed", "该预约不是待处理的路径建议，不能采纳或不采纳")
	ErrStillProposed   = apperr.New(apperr.KindConflict, "appointment_proposed", "该预约尚为路径建议，请先采纳或不采纳")
)
