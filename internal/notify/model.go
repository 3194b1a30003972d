// Package notify reaches a patient (and the relatives they allow) who has
// closed the mini-program: WeChat subscription messages (订阅消息) with the
// credits each user granted, quiet hours, a daily cap and priorities, a push
// log the case manager can read, and an in-app notification centre so that
// nothing depends on a push arriving.
//
// Any feature asks for a push by writing a Request to the outbox topic
// TopicRequest in the transaction of its own change (see Add). The text of a
// push comes from the template registry, never from the feature: it says that
// something is waiting, never a diagnosis, a reading or a message body. This
// package must not log openids, names, tokens or message contents.
package notify

import (
	"errors"
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Topics and task types.
const (
	// TopicRequest is the outbox topic a feature writes to ask for a push
	// (payload: Request).
	TopicRequest = "notify.request"
	// TaskSend sends one planned push (payload: sendTask).
	TaskSend = "notify.send"
	// TaskDailyReminders asks every ReminderSource for the day's reminders.
	TaskDailyReminders = "notify.daily_reminders"
)

// Kinds of push; each has a template in the registry.
const (
	KindStageBegins         = "stage_begins"
	KindAppointmentReminder = "appointment_reminder"
	KindCMMessage           = "cm_message"
	KindQuestionnaireDue    = "questionnaire_due"
	KindEducationReady      = "education_ready"
	KindReadingAttention    = "reading_attention"
	// KindReportingReminder: the plan expects readings the patient has not
	// reported for some days (at most one a patient a day).
	KindReportingReminder = "reporting_reminder"
)

// Request asks for one push about one patient. It is the contract of
// TopicRequest:
//
//   - Kind: a kind of the template registry (e.g. appointment_reminder).
//   - PatientID: whose care this is about; the in-app notification goes on
//     their notification centre.
//   - Recipients: user ids to push to; empty means the patient and every
//     relative with an active link holding receive_push, and the relatives only
//     while the patient's health-data consent is active.
//   - DedupeKey: the event, e.g. "appointment:<id>:day-before"; one push per
//     dedupe key and recipient, ever (at most 128 characters).
//   - Urgent: ignores quiet hours and the daily cap (a reading needing attention).
//   - At: when the thing happens or happened (the template's time keyword).
//   - NotBefore: the earliest send, for reminders planned ahead; zero means now.
//   - Data: extra values the template may use (stage_name); never health details.
type Request struct {
	Kind       string            `json:"kind"`
	PatientID  string            `json:"patient_id"`
	Recipients []string          `json:"recipients,omitempty"`
	DedupeKey  string            `json:"dedupe_key"`
	Urgent     bool              `json:"urgent,omitempty"`
	At         time.Time         `json:"at"`
	NotBefore  time.Time         `json:"not_before,omitzero"`
	Data       map[string]string `json:"data,omitempty"`
	// PlanID is the care plan the push speaks of; closed (结案) before the
	// push goes out (it may wait for the quiet hours to end), it is skipped.
	PlanID string `json:"plan_id,omitempty"`
}

// Subscription results, as wx.requestSubscribeMessage answers them, plus
// "cancelled" when the user turns a template off in settings.
const (
	ResultAccept    = "accept"
	ResultReject    = "reject"
	ResultBan       = "ban"
	ResultFilter    = "filter"
	ResultCancelled = "cancelled"
)

// Subscription is what one user allowed for one template.
type Subscription struct {
	ID         string
	UserID     string
	TemplateID string
	Quota      int  // one-time credits left
	LongTerm   bool // a long-term template currently allowed
	Status     string
	Accepted   int
	Refused    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (Subscription) TableName() string { return "push_subscriptions" }

// Push statuses. Final ones are never sent again.
const (
	StatusQueued      = "queued"      // planned, waiting for its time
	StatusRetrying    = "retrying"    // a transient failure; asynq retries
	StatusSent        = "sent"        // WeChat accepted it
	StatusNoQuota     = "no_quota"    // no credit left (or 43101)
	StatusCapped      = "capped"      // the patient's daily cap was reached
	StatusFailed      = "failed"      // refused for good (47003, 40003, 41030, retries spent)
	StatusSkipped     = "skipped"     // the recipient may no longer receive it, or has no openid
	StatusDeferred    = "deferred"    // WeChat's daily limit (45009): tried again next morning
	StatusSending     = "sending"     // claimed (with its credit) before WeChat is called; a send killed mid-way leaves it here
	StatusInterrupted = "interrupted" // killed between the claim and WeChat's answer: WeChat may have it, never sent again
	recipientSelf     = "patient"     // the patient's own account
	recipientFamily   = "family"      // a relative with receive_push
	recipientNamed    = "named"       // a user the request named
	outcomeRetry      = "retry"       // attempt outcome of a transient failure
	outcomeDeferred   = "deferred"    // attempt outcome of 45009
	maxDedupeKeyLen   = 128
)

// Final reports whether a push in status s is settled.
func Final(s string) bool {
	switch s {
	case StatusQueued, StatusRetrying, StatusDeferred, StatusSending:
		return false
	}
	return true
}

// Push is one push to one recipient: the push log.
type Push struct {
	ID          string
	DedupeKey   string
	UserID      string
	PatientID   string
	Kind        string
	TemplateID  string
	Recipient   string
	Urgent      bool
	Payload     string // the Request as JSON: ids, times and template values only
	Status      string
	ErrCode     int
	Attempts    int
	ScheduledAt time.Time
	SentAt      *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (Push) TableName() string { return "push_log" }

// Attempt is one try at sending a push.
type Attempt struct {
	ID      string
	PushID  string
	Outcome string
	ErrCode int
	At      time.Time
}

func (Attempt) TableName() string { return "push_attempts" }

// Notification is one entry of a patient's in-app notification centre.
type Notification struct {
	ID        string
	PatientID string
	DedupeKey string
	Kind      string
	Title     string
	Page      string
	ReadAt    *time.Time
	CreatedAt time.Time
}

func (Notification) TableName() string { return "notifications" }

// Errors.
var (
	ErrUnknownTemplate = apperr.Invalid("template_id", "unknown_template", "未知的订阅消息模板")
	ErrNotWeChatUser   = apperr.New(apperr.KindForbidden, "wechat_user_only", "仅微信用户可订阅消息")
	ErrBadSignature    = apperr.New(apperr.KindForbidden, "bad_signature", "签名校验失败")
	errBadRequest      = errors.New("notify: invalid request")
)
