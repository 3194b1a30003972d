package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0002Outbox: events written with the change that causes them, relayed to the job queue.
func m0002Outbox() *gormigrate.Migration {
	type outboxEvent struct {
		ID           string    `gorm:"type:varchar(36);primaryKey"`
		Topic        string    `gorm:"type:varchar(64);not null"`
		Payload      []byte    `gorm:"type:blob;not null"`
		Queue        string    `gorm:"type:varchar(16);not null;default:''"`
		CreatedAt    time.Time `gorm:"not null"`
		DispatchedAt *time.Time
		Attempts     int    `gorm:"not null;default:0"`
		LastError    string `gorm:"type:varchar(255);not null;default:''"`
	}
	tables := []table{{"outbox_events", &outboxEvent{}}}
	return &gormigrate.Migration{
		ID: "0002_outbox",
		Migrate: func(tx *gorm.DB) error {
			if err := createTables(tx, tables...); err != nil {
				return err
			}
			// The relay asks for undispatched events oldest first.
			return tx.Exec("CREATE INDEX ix_outbox_pending ON outbox_events (dispatched_at, id)").Error
		},
		Rollback: func(tx *gorm.DB) error { return dropTables(tx, tables...) },
	}
}
