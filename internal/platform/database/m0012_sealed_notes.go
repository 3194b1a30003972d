package database

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0012SealedNotes: follow-up outcome text (symptoms, problems, next action)
// and questionnaire answers sealed at rest, like message text in 0010: a
// flag per row, so rows written before stay readable as they are until
// `carepath reseal` (or a new write) seals them.
func m0012SealedNotes() *gormigrate.Migration {
	columns := [][2]string{{"followups", "notes_sealed"}, {"questionnaire_assignments", "answers_sealed"}}
	return &gormigrate.Migration{
		ID: "0012_sealed_notes",
		Migrate: func(tx *gorm.DB) error {
			for _, c := range columns {
				if err := tx.Exec("ALTER TABLE " + c[0] + " ADD COLUMN " + c[1] + " BOOLEAN NOT NULL DEFAULT FALSE").Error; err != nil {
					return err
				}
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			// Raw SQL: gorm's SQLite migrator cannot drop a column by table name alone.
			for _, c := range columns {
				if err := tx.Exec("ALTER TABLE " + c[0] + " DROP COLUMN " + c[1]).Error; err != nil {
					return err
				}
			}
			return nil
		},
	}
}
