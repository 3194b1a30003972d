// Package careplan is the care journey: pathways (SOP templates loaded from
// YAML), the plan instantiated for a patient with concrete due dates, the
// events that anchor those dates (enrolment, admission, surgery, discharge),
// stage transitions (automatic and manual, with history), and the risk level
// that sets the follow-up rhythm. A stage change is announced through the
// outbox as careplan.stage_changed; this package pushes nothing itself.
package careplan

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Plan statuses.
const (
	StatusActive = "active"
	StatusClosed = "closed"
)

// Plan is one patient's instance of a pathway.
type Plan struct {
	ID             string
	PatientID      string
	PathwayKey     string
	PathwayVersion int
	Status         string
	ActiveKey      *string // patient:pathway while active, so a second active enrolment collides
	StageKey       string
	StageEnteredAt time.Time
	StageManualAt  *time.Time
	RiskLevel      string  // in force: the override, else the computed level
	RiskComputed   string  // what the rules say
	RiskOverride   *string // the CM's level, nil when the rules decide
	RiskReason     string
	// RiskReasonSealed: the CM's reason is sealed at rest (migration 0015);
	// reasons written before are read as they are.
	RiskReasonSealed bool
	RiskFactors      string // the rules' reasons, "；"-separated
	EnrolledBy       string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	ClosedAt         *time.Time
	ClosedBy         string // the staff member who closed it (结案)
	CloseReason      string // one of CloseReasons
	CloseNote        string // the CM's note, for staff only
	// CloseNoteSealed: the note is sealed at rest (migration 0017).
	CloseNoteSealed bool
}

func (Plan) TableName() string { return "care_plans" }

// Anchor is a recorded event of a plan.
type Anchor struct {
	ID         string
	PlanID     string
	Anchor     string
	OnDate     string // YYYY-MM-DD, hospital zone
	Planned    bool   // an admission planned ahead (计划内入院): not an unplanned readmission
	RecordedAt time.Time
	RecordedBy string
}

func (Anchor) TableName() string { return "care_plan_anchors" }

// Item kinds.
const (
	KindTask     = "task"
	KindFollowup = "followup"
)

// PlanTask is a task or follow-up of a plan, with its due day once known.
type PlanTask struct {
	ID         string
	PlanID     string
	ItemKey    string
	PatientID  string
	StageKey   string
	Kind       string
	Title      string
	Owner      string
	Channel    string
	DueOn      *string
	Position   int
	DoneAt     *time.Time
	DoneByKind string
	DoneByID   string `gorm:"column:done_by_id"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (PlanTask) TableName() string { return "care_plan_tasks" }

// History kinds.
const (
	HistoryEnrolment = "enrolment"
	HistoryEvent     = "event"
	HistoryStage     = "stage"
	HistoryRisk      = "risk"
	HistoryClosure   = "closure" // to: the close reason code; reason: the CM's note (staff only)
)

// HistoryEntry is one change of a plan, kept for good.
type HistoryEntry struct {
	ID        string
	PlanID    string
	PatientID string
	Kind      string
	FromValue string
	ToValue   string
	OnDate    string
	Reason    string
	// ReasonSealed: the reason is sealed at rest (migration 0015).
	ReasonSealed bool
	ActorKind    string // user | staff | system
	ActorID      string
	At           time.Time
}

func (HistoryEntry) TableName() string { return "care_plan_history" }

type patientComorbidity struct {
	ID        string
	PatientID string
	Code      string
	CreatedAt time.Time
}

func (patientComorbidity) TableName() string { return "patient_comorbidities" }

// TopicStageChanged is the outbox topic of a stage change.
const TopicStageChanged = "careplan.stage_changed"

// TopicPlanClosed is the outbox topic of a plan closed (结案): features that
// planned work from the plan drop what is still pending.
const TopicPlanClosed = "careplan.plan_closed"

// PlanClosed is the payload of TopicPlanClosed.
type PlanClosed struct {
	PatientID string    `json:"patient_id"`
	PlanID    string    `json:"plan_id"`
	Reason    string    `json:"reason"` // one of CloseReasons
	At        time.Time `json:"at"`
}

// TaskAdvance is the periodic task that moves plans whose day has come.
const TaskAdvance = "careplan.advance"

// StageChanged is the payload of TopicStageChanged.
type StageChanged struct {
	PatientID string    `json:"patient_id"`
	PlanID    string    `json:"plan_id"`
	Pathway   string    `json:"pathway"`
	From      string    `json:"from"` // "" when the plan is new
	To        string    `json:"to"`
	StageName string    `json:"stage_name"`
	Message   string    `json:"message"` // the stage's subscription message key
	Trigger   string    `json:"trigger"` // enrolment | event | day | manual
	At        time.Time `json:"at"`
}

// Triggers of a stage change.
const (
	TriggerEnrolment = "enrolment"
	TriggerEvent     = "event"
	TriggerDay       = "day"
	TriggerManual    = "manual"
)

// Close reasons (结案原因).
const (
	CloseGoalsMet    = "goals_met"
	CloseTransferred = "transferred"
	CloseDied        = "died"
	CloseDeclined    = "declined"
	CloseLost        = "lost_to_follow_up"
	CloseOther       = "other"
)

// CloseReason is a reason a CM closes a plan for, with its name on the desk.
type CloseReason struct {
	Code string
	Name string
}

// CloseReasons lists the reasons in the desk's order.
var CloseReasons = []CloseReason{
	{CloseGoalsMet, "目标达成"},
	{CloseTransferred, "转院/转科"},
	{CloseDied, "死亡"},
	{CloseDeclined, "患者拒绝"},
	{CloseLost, "失访"},
	{CloseOther, "其他"},
}

// Errors clients branch on.
var (
	ErrPlanNotFound    = apperr.NotFound("护理计划")
	ErrTaskNotFound    = apperr.NotFound("任务")
	ErrNoActivePlan    = apperr.New(apperr.KindNotFound, "no_active_plan", "该患者目前没有进行中的护理计划")
	ErrAlreadyEnrolled = apperr.New(apperr.KindConflict, "already_enrolled", "该患者已在此路径中，不能重复入组")
	ErrPlanClosed      = apperr.New(apperr.KindUnprocessable, "plan_closed", "护理计划已结束，不能再修改")
	ErrAlreadyClosed   = apperr.New(apperr.KindConflict, "plan_already_closed", "该护理计划已结案，不能重复结案")
	ErrTaskNotOwned    = apperr.New(apperr.KindForbidden, "task_not_patient_owned", "该任务由医护人员完成，患者和家属不能标记")
	ErrSameStage       = apperr.New(apperr.KindUnprocessable, "already_in_stage", "患者已处于该阶段")
	ErrPathwayInUse    = apperr.New(apperr.KindUnprocessable, "pathway_in_use", "有患者正在使用的路径或阶段不能从路径库中移除")
)

// ErrPlannedNotAdmission: only an admission is planned or not; the
// readmission KPI reads the mark on admissions alone.
var ErrPlannedNotAdmission = apperr.Invalid("planned", "planned_not_admission", "只有入院事件可以标记为计划内入院（如化疗周期、分期手术）")
