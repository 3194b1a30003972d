package database

import (
	"fmt"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0008Family: family invitations, PIPL consent records, and what family
// links need to be revoked cleanly (who revoked, why, from which invitation)
// and to hold at most one active link per patient and relative.
func m0008Family() *gormigrate.Migration {
	type familyInvitation struct {
		ID               string    `gorm:"type:varchar(36);primaryKey"`
		PatientID        string    `gorm:"type:varchar(36);not null;index:ix_family_invitations_patient,priority:1"`
		Status           string    `gorm:"type:varchar(16);not null;index:ix_family_invitations_patient,priority:2"`
		CodeHash         string    `gorm:"type:varchar(64);not null;uniqueIndex:ux_family_invitations_code"`
		Relationship     string    `gorm:"type:varchar(32);not null"`
		Scopes           string    `gorm:"type:varchar(255);not null"`
		IssuedByKind     string    `gorm:"type:varchar(8);not null"`
		IssuedByID       string    `gorm:"type:varchar(36);not null"`
		ConsentGivenBy   string    `gorm:"type:varchar(16);not null"`
		ConsentMethod    string    `gorm:"type:varchar(16);not null"`
		ConsentGivenAt   time.Time `gorm:"not null"`
		ExpiresAt        time.Time `gorm:"not null"`
		AcceptedAt       *time.Time
		AcceptedByUserID *string `gorm:"type:varchar(36)"`
		LinkID           *string `gorm:"type:varchar(36)"`
		WithdrawnAt      *time.Time
		CreatedAt        time.Time
		UpdatedAt        time.Time
	}
	type consent struct {
		ID              string  `gorm:"type:varchar(36);primaryKey"`
		Kind            string  `gorm:"type:varchar(32);not null;index:ix_consents_user,priority:2;index:ix_consents_patient,priority:2"`
		UserID          *string `gorm:"type:varchar(36);index:ix_consents_user,priority:1"`
		PatientID       *string `gorm:"type:varchar(36);index:ix_consents_patient,priority:1"`
		FamilyLinkID    *string `gorm:"type:varchar(36);index:ix_consents_family_link"`
		Relationship    string  `gorm:"type:varchar(32);not null;default:''"`
		Scopes          string  `gorm:"type:varchar(255);not null;default:''"`
		Version         string  `gorm:"type:varchar(32);not null;default:''"`
		GivenBy         string  `gorm:"type:varchar(16);not null"`
		Method          string  `gorm:"type:varchar(16);not null"`
		RecordedByKind  string  `gorm:"type:varchar(8);not null"`
		RecordedByID    string  `gorm:"type:varchar(36);not null"`
		GrantedAt       time.Time
		WithdrawnAt     *time.Time
		WithdrawReason  string `gorm:"type:varchar(32);not null;default:''"`
		WithdrawMethod  string `gorm:"type:varchar(16);not null;default:''"`
		WithdrawnByKind string `gorm:"type:varchar(8);not null;default:''"`
		WithdrawnByID   string `gorm:"type:varchar(36);not null;default:''"`
		CreatedAt       time.Time
		UpdatedAt       time.Time
	}
	tables := []table{{"family_invitations", &familyInvitation{}}, {"consents", &consent{}}}
	linkColumns := []struct{ name, def string }{
		{"invitation_id", "VARCHAR(36) NULL"},
		// active_key is patient_id:user_id while the link is active and NULL
		// after: a unique index over it allows one active link per pair on both
		// MySQL and SQLite (neither has portable partial indexes).
		{"active_key", "VARCHAR(80) NULL"},
		{"revoked_by_kind", "VARCHAR(8) NOT NULL DEFAULT ''"},
		{"revoked_by_id", "VARCHAR(36) NOT NULL DEFAULT ''"},
		{"revoke_reason", "VARCHAR(32) NOT NULL DEFAULT ''"},
	}
	return &gormigrate.Migration{
		ID: "0008_family",
		Migrate: func(tx *gorm.DB) error {
			if err := createTables(tx, tables...); err != nil {
				return err
			}
			for _, c := range linkColumns {
				if err := tx.Exec(fmt.Sprintf("ALTER TABLE family_links ADD COLUMN %s %s", c.name, c.def)).Error; err != nil {
					return fmt.Errorf("add family_links.%s: %w", c.name, err)
				}
			}
			key := "patient_id || ':' || user_id"
			if IsMySQL(tx) {
				key = "CONCAT(patient_id, ':', user_id)"
			}
			if err := tx.Exec("UPDATE family_links SET active_key = " + key + " WHERE status = 'active'").Error; err != nil {
				return fmt.Errorf("fill family_links.active_key: %w", err)
			}
			if IsMySQL(tx) {
				// Routes such as POST /api/v1/patients/:patientID/family/invitations/:invitationID/withdraw
				// outgrow 64 characters, and MySQL refuses (strict mode) an audit event
				// it cannot hold. SQLite does not enforce lengths.
				if err := tx.Exec("ALTER TABLE audit_events MODIFY action VARCHAR(255) NOT NULL").Error; err != nil {
					return fmt.Errorf("widen audit_events.action: %w", err)
				}
			}
			return tx.Exec("CREATE UNIQUE INDEX ux_family_links_active ON family_links (active_key)").Error
		},
		// Rollback leaves audit_events.action wide: narrowing it could fail on
		// (or cut) events already recorded, and a wider column harms nothing.
		Rollback: func(tx *gorm.DB) error {
			if err := tx.Migrator().DropIndex("family_links", "ux_family_links_active"); err != nil {
				return fmt.Errorf("drop ux_family_links_active: %w", err)
			}
			for i := len(linkColumns) - 1; i >= 0; i-- {
				if err := tx.Exec("ALTER TABLE family_links DROP COLUMN " + linkColumns[i].name).Error; err != nil {
					return fmt.Errorf("drop family_links.%s: %w", linkColumns[i].name, err)
				}
			}
			return dropTables(tx, tables...)
		},
	}
}
