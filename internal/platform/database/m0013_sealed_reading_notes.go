package database

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0013SealedReadingNotes: the free-text note a patient adds to a reading
// ("今天头晕") sealed at rest like follow-up notes in 0012: a flag per row, so
// notes written before stay readable until `carepath reseal` seals them. A
// sealed 500-character note is about 2,000 bytes of base64: on MySQL the
// column grows from varchar(1000) to text (SQLite does not enforce lengths).
func m0013SealedReadingNotes() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "0013_sealed_reading_notes",
		Migrate: func(tx *gorm.DB) error {
			if IsMySQL(tx) {
				// A TEXT default as an expression: MySQL 8 takes no literal one.
				if err := tx.Exec("ALTER TABLE observations MODIFY COLUMN note TEXT NOT NULL DEFAULT ('')").Error; err != nil {
					return err
				}
			}
			return tx.Exec("ALTER TABLE observations ADD COLUMN note_sealed BOOLEAN NOT NULL DEFAULT FALSE").Error
		},
		Rollback: func(tx *gorm.DB) error {
			// Raw SQL: gorm's SQLite migrator cannot drop a column by table name alone.
			return tx.Exec("ALTER TABLE observations DROP COLUMN note_sealed").Error
		},
	}
}
