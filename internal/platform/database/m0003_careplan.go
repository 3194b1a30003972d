package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0003Careplan: care plans instantiated from pathways, their recorded
// events, tasks and follow-ups, the history of stage and risk changes,
// patients' comorbidities, and education assigned to patients.
// Days are stored as YYYY-MM-DD strings in the hospital's zone.
func m0003Careplan() *gormigrate.Migration {
	type carePlan struct {
		ID             string  `gorm:"type:varchar(36);primaryKey"`
		PatientID      string  `gorm:"type:varchar(36);not null;index:ix_care_plans_patient"`
		PathwayKey     string  `gorm:"type:varchar(64);not null"`
		PathwayVersion int     `gorm:"not null"`
		Status         string  `gorm:"type:varchar(16);not null;index:ix_care_plans_status"`
		ActiveKey      *string `gorm:"type:varchar(110);uniqueIndex:ux_care_plans_active"` // patient:pathway while active, NULL after
		StageKey       string  `gorm:"type:varchar(64);not null"`
		StageEnteredAt time.Time
		StageManualAt  *time.Time
		RiskLevel      string  `gorm:"type:varchar(8);not null"`
		RiskComputed   string  `gorm:"type:varchar(8);not null"`
		RiskOverride   *string `gorm:"type:varchar(8)"`
		RiskReason     string  `gorm:"type:varchar(255);not null;default:''"`
		RiskFactors    string  `gorm:"type:varchar(1024);not null;default:''"`
		EnrolledBy     string  `gorm:"type:varchar(36);not null"`
		CreatedAt      time.Time
		UpdatedAt      time.Time
		ClosedAt       *time.Time
	}
	type carePlanAnchor struct {
		ID         string    `gorm:"type:varchar(36);primaryKey"`
		PlanID     string    `gorm:"type:varchar(36);not null;uniqueIndex:ux_care_plan_anchors,priority:1"`
		Anchor     string    `gorm:"type:varchar(16);not null;uniqueIndex:ux_care_plan_anchors,priority:2"`
		OnDate     string    `gorm:"type:varchar(10);not null"`
		RecordedAt time.Time `gorm:"not null"`
		RecordedBy string    `gorm:"type:varchar(36);not null"`
	}
	type carePlanTask struct {
		ID         string  `gorm:"type:varchar(36);primaryKey"`
		PlanID     string  `gorm:"type:varchar(36);not null;uniqueIndex:ux_care_plan_tasks,priority:1"`
		ItemKey    string  `gorm:"type:varchar(64);not null;uniqueIndex:ux_care_plan_tasks,priority:2"`
		PatientID  string  `gorm:"type:varchar(36);not null;index:ix_care_plan_tasks_patient"`
		StageKey   string  `gorm:"type:varchar(64);not null"`
		Kind       string  `gorm:"type:varchar(16);not null"`
		Title      string  `gorm:"type:varchar(255);not null"`
		Owner      string  `gorm:"type:varchar(16);not null"`
		Channel    string  `gorm:"type:varchar(16);not null;default:''"`
		DueOn      *string `gorm:"type:varchar(10);index:ix_care_plan_tasks_due"`
		Position   int     `gorm:"not null"`
		DoneAt     *time.Time
		DoneByKind string `gorm:"type:varchar(8);not null;default:''"`
		DoneByID   string `gorm:"type:varchar(36);not null;default:''"`
		CreatedAt  time.Time
		UpdatedAt  time.Time
	}
	type carePlanHistory struct {
		ID        string    `gorm:"type:varchar(36);primaryKey"`
		PlanID    string    `gorm:"type:varchar(36);not null;index:ix_care_plan_history_plan,priority:1"`
		PatientID string    `gorm:"type:varchar(36);not null"`
		Kind      string    `gorm:"type:varchar(16);not null"`
		FromValue string    `gorm:"type:varchar(64);not null;default:''"`
		ToValue   string    `gorm:"type:varchar(64);not null;default:''"`
		OnDate    string    `gorm:"type:varchar(10);not null;default:''"`
		Reason    string    `gorm:"type:varchar(255);not null;default:''"`
		ActorKind string    `gorm:"type:varchar(8);not null"`
		ActorID   string    `gorm:"type:varchar(36);not null;default:''"`
		At        time.Time `gorm:"not null;index:ix_care_plan_history_plan,priority:2"`
	}
	type patientComorbidity struct {
		ID        string `gorm:"type:varchar(36);primaryKey"`
		PatientID string `gorm:"type:varchar(36);not null;uniqueIndex:ux_patient_comorbidities,priority:1"`
		Code      string `gorm:"type:varchar(32);not null;uniqueIndex:ux_patient_comorbidities,priority:2"`
		CreatedAt time.Time
	}
	type educationAssignment struct {
		ID         string  `gorm:"type:varchar(36);primaryKey"`
		PatientID  string  `gorm:"type:varchar(36);not null;uniqueIndex:ux_education_assignments,priority:1"`
		ArticleKey string  `gorm:"type:varchar(64);not null;uniqueIndex:ux_education_assignments,priority:2"`
		PlanID     *string `gorm:"type:varchar(36)"`
		StageKey   string  `gorm:"type:varchar(64);not null;default:''"`
		Source     string  `gorm:"type:varchar(16);not null"`
		AssignedBy string  `gorm:"type:varchar(36);not null;default:''"`
		AssignedAt time.Time
		OpenedAt   *time.Time
		FinishedAt *time.Time
		ReadBy     string `gorm:"type:varchar(8);not null;default:''"`
	}
	tables := []table{
		{"care_plans", &carePlan{}}, {"care_plan_anchors", &carePlanAnchor{}}, {"care_plan_tasks", &carePlanTask{}},
		{"care_plan_history", &carePlanHistory{}}, {"patient_comorbidities", &patientComorbidity{}},
		{"education_assignments", &educationAssignment{}},
	}
	return &gormigrate.Migration{
		ID:       "0003_careplan",
		Migrate:  func(tx *gorm.DB) error { return createTables(tx, tables...) },
		Rollback: func(tx *gorm.DB) error { return dropTables(tx, tables...) },
	}
}
