package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0007Appointments: appointments and the reminders sent for them,
// case-manager follow-ups with their recorded outcomes, and questionnaires
// assigned to patients with their answers and scores.
func m0007Appointments() *gormigrate.Migration {
	type appointment struct {
		ID          string    `gorm:"type:varchar(36);primaryKey"`
		PatientID   string    `gorm:"type:varchar(36);not null;index:ix_appointments_patient,priority:1"`
		HospitalID  string    `gorm:"type:varchar(36);not null"`
		Kind        string    `gorm:"type:varchar(24);not null"`
		Title       string    `gorm:"type:varchar(128);not null"`
		StartsAt    time.Time `gorm:"not null;index:ix_appointments_patient,priority:2;index:ix_appointments_starts"`
		EndsAt      time.Time `gorm:"not null"`
		Department  string    `gorm:"type:varchar(64);not null;default:''"`
		Clinician   string    `gorm:"type:varchar(64);not null;default:''"`
		Location    string    `gorm:"type:varchar(128);not null;default:''"`
		Directions  string    `gorm:"type:text"`
		Preparation string    `gorm:"type:text"`
		Status      string    `gorm:"type:varchar(24);not null;index:ix_appointments_status"`
		// The patient's side: why they cancelled, or when they would rather come.
		CancelReason    string  `gorm:"type:varchar(255);not null;default:''"`
		RescheduleNote  string  `gorm:"type:varchar(255);not null;default:''"`
		PreferredTimes  string  `gorm:"type:text"` // JSON array of RFC 3339 instants
		RespondedByKind string  `gorm:"type:varchar(8);not null;default:''"`
		RespondedByID   string  `gorm:"type:varchar(36);not null;default:''"`
		SourceTaskID    *string `gorm:"type:varchar(36)"`
		CreatedByID     string  `gorm:"type:varchar(36);not null"`
		RequestedAt     *time.Time
		ConfirmedAt     *time.Time
		CancelledAt     *time.Time
		CreatedAt       time.Time `gorm:"not null"`
		UpdatedAt       time.Time `gorm:"not null"`
	}
	type appointmentReminder struct {
		ID            string    `gorm:"type:varchar(36);primaryKey"`
		AppointmentID string    `gorm:"type:varchar(36);not null;uniqueIndex:ux_appointment_reminders_slot,priority:1"`
		Slot          string    `gorm:"type:varchar(16);not null;uniqueIndex:ux_appointment_reminders_slot,priority:2"`
		StartsAt      time.Time `gorm:"not null;uniqueIndex:ux_appointment_reminders_slot,priority:3"` // a moved appointment is reminded again
		SendAt        time.Time `gorm:"not null"`
		CreatedAt     time.Time `gorm:"not null"`
	}
	type followup struct {
		ID        string  `gorm:"type:varchar(36);primaryKey"`
		PatientID string  `gorm:"type:varchar(36);not null;uniqueIndex:ux_followups_item,priority:1;index:ix_followups_patient_due,priority:1"`
		PlanID    *string `gorm:"type:varchar(36)"`
		// ItemKey is the pathway follow-up key, rhythm:<n> for the risk
		// level's rhythm, or manual:<id> for one the CM adds.
		ItemKey      string    `gorm:"type:varchar(96);not null;uniqueIndex:ux_followups_item,priority:2"`
		Source       string    `gorm:"type:varchar(16);not null"`
		Title        string    `gorm:"type:varchar(128);not null"`
		Channel      string    `gorm:"type:varchar(16);not null"`
		WindowStart  time.Time `gorm:"not null"`
		WindowEnd    time.Time `gorm:"not null;index:ix_followups_patient_due,priority:2;index:ix_followups_due"`
		Status       string    `gorm:"type:varchar(16);not null;index:ix_followups_status"`
		OverdueAt    *time.Time
		EscalatedAt  *time.Time
		EscalatedTo  string `gorm:"type:varchar(36);not null;default:''"`
		Reached      *bool
		Symptoms     string `gorm:"type:text"`
		Adherence    string `gorm:"type:varchar(16);not null;default:''"`
		Problems     string `gorm:"type:text"`
		NextAction   string `gorm:"type:text"`
		RecordedByID string `gorm:"type:varchar(36);not null;default:''"`
		RecordedAt   *time.Time
		CreatedAt    time.Time `gorm:"not null"`
		UpdatedAt    time.Time `gorm:"not null"`
	}
	type questionnaireAssignment struct {
		ID             string    `gorm:"type:varchar(36);primaryKey"`
		PatientID      string    `gorm:"type:varchar(36);not null;index:ix_questionnaire_assignments_patient,priority:1"`
		Questionnaire  string    `gorm:"type:varchar(64);not null"`
		Version        int       `gorm:"not null"`
		FollowupID     *string   `gorm:"type:varchar(36);index:ix_questionnaire_assignments_followup"`
		AssignedByKind string    `gorm:"type:varchar(8);not null"`
		AssignedByID   string    `gorm:"type:varchar(36);not null"`
		AssignedAt     time.Time `gorm:"not null;index:ix_questionnaire_assignments_patient,priority:2"`
		Status         string    `gorm:"type:varchar(16);not null"`
		Answers        string    `gorm:"type:text"` // JSON: item key → value
		Score          *float64
		Band           string `gorm:"type:varchar(32);not null;default:''"`
		Alert          bool   `gorm:"not null;default:false;index:ix_questionnaire_assignments_alert"`
		AnsweredByKind string `gorm:"type:varchar(8);not null;default:''"`
		AnsweredByID   string `gorm:"type:varchar(36);not null;default:''"`
		AnsweredAt     *time.Time
		CreatedAt      time.Time `gorm:"not null"`
		UpdatedAt      time.Time `gorm:"not null"`
	}
	tables := []table{
		{"appointments", &appointment{}}, {"appointment_reminders", &appointmentReminder{}},
		{"followups", &followup{}}, {"questionnaire_assignments", &questionnaireAssignment{}},
	}
	return &gormigrate.Migration{
		ID:       "0007_appointments",
		Migrate:  func(tx *gorm.DB) error { return createTables(tx, tables...) },
		Rollback: func(tx *gorm.DB) error { return dropTables(tx, tables...) },
	}
}
