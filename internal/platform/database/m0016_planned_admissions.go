package database

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0016PlannedAdmissions: an admission can be recorded as planned (the next
// chemotherapy cycle, a staged operation), so the KPI can report the
// unplanned readmission rate (非计划再入院率) beside the all-cause one.
// Events recorded before stay unplanned: nobody said otherwise.
func m0016PlannedAdmissions() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "0016_planned_admissions",
		Migrate: func(tx *gorm.DB) error {
			return tx.Exec("ALTER TABLE care_plan_anchors ADD COLUMN planned BOOLEAN NOT NULL DEFAULT FALSE").Error
		},
		Rollback: func(tx *gorm.DB) error {
			// Raw SQL: gorm's SQLite migrator cannot drop a column by table name alone.
			return tx.Exec("ALTER TABLE care_plan_anchors DROP COLUMN planned").Error
		},
	}
}
