package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0006Notify: subscription-message credits per user and template, the push
// log (one row per event and recipient, so a push goes at most once), every
// attempt at it, and the in-app notification centre.
func m0006Notify() *gormigrate.Migration {
	type pushSubscription struct {
		ID         string    `gorm:"type:varchar(36);primaryKey"`
		UserID     string    `gorm:"type:varchar(36);not null;uniqueIndex:ux_push_subscriptions_user_template,priority:1"`
		TemplateID string    `gorm:"type:varchar(64);not null;uniqueIndex:ux_push_subscriptions_user_template,priority:2"`
		Quota      int       `gorm:"not null;default:0"`
		LongTerm   bool      `gorm:"not null;default:false"`
		Status     string    `gorm:"type:varchar(16);not null"`
		Accepted   int       `gorm:"not null;default:0"`
		Refused    int       `gorm:"not null;default:0"`
		CreatedAt  time.Time `gorm:"not null"`
		UpdatedAt  time.Time `gorm:"not null"`
	}
	type pushLog struct {
		ID          string     `gorm:"type:varchar(36);primaryKey"`
		DedupeKey   string     `gorm:"type:varchar(128);not null;uniqueIndex:ux_push_log_dedupe_recipient,priority:1"`
		UserID      string     `gorm:"type:varchar(36);not null;uniqueIndex:ux_push_log_dedupe_recipient,priority:2"`
		PatientID   string     `gorm:"type:varchar(36);not null;index:ix_push_log_patient_sent,priority:1;index:ix_push_log_patient_created,priority:1"`
		Kind        string     `gorm:"type:varchar(32);not null"`
		TemplateID  string     `gorm:"type:varchar(64);not null"`
		Recipient   string     `gorm:"type:varchar(16);not null"` // patient | family | named
		Urgent      bool       `gorm:"not null;default:false"`
		Payload     string     `gorm:"type:text;not null"`
		Status      string     `gorm:"type:varchar(16);not null;index:ix_push_log_patient_sent,priority:2"`
		ErrCode     int        `gorm:"not null;default:0"`
		Attempts    int        `gorm:"not null;default:0"`
		ScheduledAt time.Time  `gorm:"not null"`
		SentAt      *time.Time `gorm:"index:ix_push_log_patient_sent,priority:3"`
		CreatedAt   time.Time  `gorm:"not null;index:ix_push_log_patient_created,priority:2"`
		UpdatedAt   time.Time  `gorm:"not null"`
	}
	type pushAttempt struct {
		ID      string    `gorm:"type:varchar(36);primaryKey"`
		PushID  string    `gorm:"type:varchar(36);not null;index:ix_push_attempts_push"`
		Outcome string    `gorm:"type:varchar(16);not null"`
		ErrCode int       `gorm:"not null;default:0"`
		At      time.Time `gorm:"not null"`
	}
	type notification struct {
		ID        string `gorm:"type:varchar(36);primaryKey"`
		PatientID string `gorm:"type:varchar(36);not null;uniqueIndex:ux_notifications_patient_dedupe,priority:1;index:ix_notifications_patient_created,priority:1"`
		DedupeKey string `gorm:"type:varchar(128);not null;uniqueIndex:ux_notifications_patient_dedupe,priority:2"`
		Kind      string `gorm:"type:varchar(32);not null"`
		Title     string `gorm:"type:varchar(64);not null"`
		Page      string `gorm:"type:varchar(255);not null"`
		ReadAt    *time.Time
		CreatedAt time.Time `gorm:"not null;index:ix_notifications_patient_created,priority:2"`
	}
	tables := []table{
		{"push_subscriptions", &pushSubscription{}},
		{"push_log", &pushLog{}},
		{"push_attempts", &pushAttempt{}},
		{"notifications", &notification{}},
	}
	return &gormigrate.Migration{
		ID:       "0006_notify",
		Migrate:  func(tx *gorm.DB) error { return createTables(tx, tables...) },
		Rollback: func(tx *gorm.DB) error { return dropTables(tx, tables...) },
	}
}
