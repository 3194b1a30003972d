package database

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0009QuestionnaireSchedule: a questionnaire sent by a pathway's schedule
// carries schedule_key = plan id ":" follow-up key, unique, so the periodic
// job sends each scheduled questionnaire once however often or however many
// workers run it. NULL for questionnaires the CM sends (both MySQL and
// SQLite allow many NULLs under a unique index).
func m0009QuestionnaireSchedule() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "0009_questionnaire_schedule",
		Migrate: func(tx *gorm.DB) error {
			if err := tx.Exec("ALTER TABLE questionnaire_assignments ADD COLUMN schedule_key VARCHAR(110) NULL").Error; err != nil {
				return err
			}
			return tx.Exec("CREATE UNIQUE INDEX ux_questionnaire_assignments_schedule ON questionnaire_assignments (schedule_key)").Error
		},
		Rollback: func(tx *gorm.DB) error {
			if err := tx.Migrator().DropIndex("questionnaire_assignments", "ux_questionnaire_assignments_schedule"); err != nil {
				return err
			}
			return tx.Exec("ALTER TABLE questionnaire_assignments DROP COLUMN schedule_key").Error
		},
	}
}
