package database

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0015SealedReasons: the reasons people type (a patient's or relative's
// cancel reason and reschedule note, the CM's cancel or dismiss reason, risk
// override and stage change reasons, the reason given for deactivating an
// account) sealed at rest like alert notes in 0014: a flag per column, as an
// appointment's cancel reason and reschedule note are written at different
// times. Text written before stays readable until `carepath reseal` seals
// it. A sealed 255-character reason is about 1,100 bytes of base64: on
// MySQL the columns grow from varchar(255) to text.
func m0015SealedReasons() *gormigrate.Migration {
	columns := [][3]string{
		{"appointments", "cancel_reason", "cancel_reason_sealed"},
		{"appointments", "reschedule_note", "reschedule_note_sealed"},
		{"care_plans", "risk_reason", "risk_reason_sealed"},
		{"care_plan_history", "reason", "reason_sealed"},
		{"account_deactivations", "reason", "reason_sealed"},
	}
	return &gormigrate.Migration{
		ID: "0015_sealed_reasons",
		Migrate: func(tx *gorm.DB) error {
			for _, c := range columns {
				if IsMySQL(tx) {
					if err := tx.Exec("ALTER TABLE " + c[0] + " MODIFY COLUMN " + c[1] + " " + emptyText(tx)).Error; err != nil {
						return err
					}
				}
				if err := addColumn(tx, c[0], c[2], "BOOLEAN NOT NULL DEFAULT FALSE"); err != nil {
					return err
				}
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			for _, c := range columns {
				if err := dropColumn(tx, c[0], c[2]); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
