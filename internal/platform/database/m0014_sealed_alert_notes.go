package database

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0014SealedAlertNotes: the note a CM writes when resolving an alert ("电话
// 随访，已调整降压药") is sealed at rest like reading notes in 0013. A sealed
// 1,000-character note is about 4,000 bytes: on MySQL the column grows from
// varchar(1000) to text.
func m0014SealedAlertNotes() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "0014_sealed_alert_notes",
		Migrate: func(tx *gorm.DB) error {
			if IsMySQL(tx) {
				// A TEXT default as an expression: MySQL 8 takes no literal one.
				if err := tx.Exec("ALTER TABLE alerts MODIFY COLUMN resolution_note TEXT NOT NULL DEFAULT ('')").Error; err != nil {
					return err
				}
			}
			return tx.Exec("ALTER TABLE alerts ADD COLUMN resolution_note_sealed BOOLEAN NOT NULL DEFAULT FALSE").Error
		},
		Rollback: func(tx *gorm.DB) error {
			// Raw SQL: gorm's SQLite migrator cannot drop a column by table name alone.
			return tx.Exec("ALTER TABLE alerts DROP COLUMN resolution_note_sealed").Error
		},
	}
}
