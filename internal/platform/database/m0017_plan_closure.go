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
		return [][2]string{
			{"close_reason", "VARCHAR(32) NOT NULL DEFAULT ''"},
			{"close_note", emptyText(tx)},
			{"close_note_sealed", "BOOLEAN NOT NULL DEFAULT FALSE"},
			{"closed_by", "VARCHAR(36) NOT NULL DEFAULT ''"},
		}
	}
	return &gormigrate.Migration{
		ID: "0017_plan_closure",
		Migrate: func(tx *gorm.DB) error {
			for _, c := range columns(tx) {
				if err := addColumn(tx, "care_plans", c[0], c[1]); err != nil {
					return err
				}
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			for _, c := range columns(tx) {
				if err := dropColumn(tx, "care_plans", c[0]); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
