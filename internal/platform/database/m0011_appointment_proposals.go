package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0011AppointmentProposals: an appointment a pathway stage proposes to the
// CM (status proposed) carries proposal_key = plan id ":" appointment key,
// unique, so a repeated or retried stage event, or the periodic catch-up on
// several workers, proposes it once. NULL for appointments the CM books
// (both MySQL and SQLite allow many NULLs under a unique index).
func m0011AppointmentProposals() *gormigrate.Migration {
	type acceptance struct {
		AcceptedAt *time.Time
	}
	return &gormigrate.Migration{
		ID: "0011_appointment_proposals",
		Migrate: func(tx *gorm.DB) error {
			if err := tx.Exec("ALTER TABLE appointments ADD COLUMN proposal_key VARCHAR(110) NULL").Error; err != nil {
				return err
			}
			// gorm's own type for a nullable time on each driver, as in m0007.
			if err := tx.Table("appointments").Migrator().AddColumn(&acceptance{}, "AcceptedAt"); err != nil {
				return err
			}
			return tx.Exec("CREATE UNIQUE INDEX ux_appointments_proposal ON appointments (proposal_key)").Error
		},
		Rollback: func(tx *gorm.DB) error {
			if err := tx.Migrator().DropIndex("appointments", "ux_appointments_proposal"); err != nil {
				return err
			}
			if err := tx.Table("appointments").Migrator().DropColumn(&acceptance{}, "AcceptedAt"); err != nil {
				return err
			}
			return tx.Exec("ALTER TABLE appointments DROP COLUMN proposal_key").Error
		},
	}
}
