// Package questionnaire is follow-up questionnaires: definitions as data
// (configs/questionnaires/*.yaml: items of type single or multiple choice,
// scale, number or text, and scoring rules), assigned to a patient by the
// CM or by a follow-up, answered once by the patient (or a relative holding
// the report scope) in the mini-program, validated item by item, scored by
// pure functions, and shown to the CM with the score and band.
//
// A score past the questionnaire's alert threshold writes a
// questionnaire.alert outbox event in the answering transaction, for the
// alert feature to raise to the CM:
//
//	topic:   "questionnaire.alert"
//	payload: {"assignment_id", "patient_id", "questionnaire", "score", "band"}
//
// Answers are health data: they are never logged, and they are sealed at
// rest (Store.Sealed); scores and bands stay in the clear for KPIs and alerts.
package questionnaire

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Assignment statuses.
const (
	StatusPending  = "pending"
	StatusAnswered = "answered"
)

// Assignment is a questionnaire given to a patient, and its answers once given.
type Assignment struct {
	ID             string
	PatientID      string
	Questionnaire  string
	Version        int
	FollowupID     *string
	ScheduleKey    *string // plan id:follow-up key when a pathway's schedule sent it
	AssignedByKind string
	AssignedByID   string
	AssignedAt     time.Time
	Status         string
	Answers        string // JSON
	AnswersSealed  bool   // Answers is sealed (fieldcrypt) in the row; the store opens it on read
	Score          *float64
	Band           string
	Alert          bool
	AnsweredByKind string
	AnsweredByID   string
	AnsweredAt     *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (Assignment) TableName() string { return "questionnaire_assignments" }

// TopicAlert announces a score past its questionnaire's threshold.
const TopicAlert = "questionnaire.alert"

// Errors clients branch on.
var (
	ErrNotFound              = apperr.NotFound("问卷")
	ErrUnknownQuestionnaire  = apperr.Invalid("questionnaire", "unknown_questionnaire", "没有该问卷")
	ErrAlreadyAnswered       = apperr.New(apperr.KindConflict, "questionnaire_already_answered", "该问卷已经填写过")
	ErrAnswersRequired       = apperr.Invalid("answers", "answers_required", "请填写问卷")
	ErrAnsweredByRespondents = apperr.New(apperr.KindForbidden, "respondents_only", "问卷只能由患者本人或家属填写")
)
