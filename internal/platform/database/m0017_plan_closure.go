package database

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0017PlanClosure: a CM closes a plan (结案) with a reason code and an
// optional note, sealed at rest like the other reasons a CM types (0015),
// and who closed it. Plans closed before (none were: nothing closed a plan)
// and open plans keep empty values. A sealed 200-character note is about
// 1,100 bytes of base64: TEXT, whose default MySQL 8 takes only as an
// expression.
func m0017PlanClosure() *gormigrate.Migration {
	columns := func(tx *gorm.DB) [][2]string {
		note := "TEXT NOT NULL DEFAULT ''"
		if IsMySQL(tx) {
			note = "TEXT NOT NULL DEFAULT ('')"
		}
		return [][2]string{
			{"close_reason", "VARCHAR(32) NOT NULL DEFAULT ''"},
			{"close_note", note},
			{"close_note_sealed", "BOOLEAN NOT NULL DEFAULT FALSE"},
			{"closed_by", "VARCHAR(36) NOT NULL DEFAULT ''"},
		}
	}
	return &gormigrate.Migration{
		ID: "0017_plan_closure",
		Migrate: func(tx *gorm.DB) error {
			for _, c := range columns(tx) {
				// On MySQL each ALTER commits by itself: a run stopped half-way is run again from the start.
				if tx.Migrator().HasColumn("care_plans", c[0]) {
					continue
				}
				if err := tx.Exec("ALTER TABLE care_plans ADD COLUMN " + c[0] + " " + c[1]).Error; err != nil {
					return err
				}
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			// Raw SQL: gorm's SQLite migrator cannot drop a column by table name alone.
			for _, c := range columns(tx) {
				if err := tx.Exec("ALTER TABLE care_plans DROP COLUMN " + c[0]).Error; err != nil {
					return err
				}
			}
			return nil
		},
	}
}
