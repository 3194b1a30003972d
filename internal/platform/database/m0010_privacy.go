package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// AuditMinRetentionDays is the shortest retention the database itself lets
// a purge permit ask for (MLPS 2.0 level 3 asks for at least six months).
const AuditMinRetentionDays = 180

// m0010Privacy: the record of account deactivations, message text sealed at
// rest (a version flag per row, so rows written before stay readable), and the audit log made
// append-only in the database. Triggers refuse every UPDATE of
// audit_events and every DELETE except of events older than a purge permit's
// cutoff; a permit itself is refused unless its cutoff is at least
// AuditMinRetentionDays in the past. The retention job (audit.purge) is the
// only writer of permits: it inserts one, deletes what it covers and removes
// it, in one transaction.
func m0010Privacy() *gormigrate.Migration {
	type accountDeactivation struct {
		ID                   string    `gorm:"type:varchar(36);primaryKey"`
		UserID               string    `gorm:"type:varchar(36);not null;index"`
		PatientID            *string   `gorm:"type:varchar(36);index"`
		Reason               string    `gorm:"type:varchar(255);not null;default:''"`
		LinksRevoked         int       `gorm:"not null;default:0"`
		InvitationsWithdrawn int       `gorm:"not null;default:0"`
		SessionsRevoked      int       `gorm:"not null;default:0"`
		DeactivatedAt        time.Time `gorm:"not null"`
		CreatedAt            time.Time
	}
	type auditPurgePermit struct {
		ID        string    `gorm:"type:varchar(36);primaryKey"`
		BeforeAt  time.Time `gorm:"not null"`
		CreatedAt time.Time
	}
	tables := []table{{"account_deactivations", &accountDeactivation{}}, {"audit_purge_permits", &auditPurgePermit{}}}
	mysql := []string{
		`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_events is append-only'`,
		`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW
			BEGIN
				IF NOT EXISTS (SELECT 1 FROM audit_purge_permits p WHERE OLD.at < p.before_at) THEN
					SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_events is append-only (no purge permit covers this event)';
				END IF;
			END`,
		`CREATE TRIGGER audit_purge_permits_min_retention BEFORE INSERT ON audit_purge_permits FOR EACH ROW
			BEGIN
				IF NEW.before_at > UTC_TIMESTAMP() - INTERVAL 180 DAY THEN
					SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit retention below 180 days';
				END IF;
			END`,
		`CREATE TRIGGER audit_purge_permits_no_update BEFORE UPDATE ON audit_purge_permits FOR EACH ROW
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'purge permits cannot be changed'`,
	}
	// SQLite keeps gorm's times as text ("2006-01-02 15:04:05.999999999-07:00"), which julianday reads.
	sqlite := []string{
		`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
			BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`,
		`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
			WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permits p WHERE julianday(OLD.at) < julianday(p.before_at))
			BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (no purge permit covers this event)'); END`,
		`CREATE TRIGGER audit_purge_permits_min_retention BEFORE INSERT ON audit_purge_permits
			WHEN julianday(NEW.before_at) > julianday('now', '-180 days')
			BEGIN SELECT RAISE(ABORT, 'audit retention below 180 days'); END`,
		`CREATE TRIGGER audit_purge_permits_no_update BEFORE UPDATE ON audit_purge_permits
			BEGIN SELECT RAISE(ABORT, 'purge permits cannot be changed'); END`,
	}
	triggers := []string{"audit_events_no_update", "audit_events_no_delete", "audit_purge_permits_min_retention", "audit_purge_permits_no_update"}
	return &gormigrate.Migration{
		ID: "0010_privacy",
		Migrate: func(tx *gorm.DB) error {
			if err := createTables(tx, tables...); err != nil {
				return err
			}
			// Message text sealed at rest from now on; older rows stay
			// readable as they are (body_sealed = false) until rewritten.
			if err := tx.Exec("ALTER TABLE thread_messages ADD COLUMN body_sealed BOOLEAN NOT NULL DEFAULT FALSE").Error; err != nil {
				return err
			}
			stmts := sqlite
			if IsMySQL(tx) {
				stmts = mysql
			}
			for _, s := range stmts {
				if err := tx.Exec(s).Error; err != nil {
					return err
				}
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			for _, name := range triggers {
				if err := tx.Exec("DROP TRIGGER IF EXISTS " + name).Error; err != nil {
					return err
				}
			}
			// Raw SQL: gorm's SQLite migrator cannot drop a column by table name alone.
			if err := tx.Exec("ALTER TABLE thread_messages DROP COLUMN body_sealed").Error; err != nil {
				return err
			}
			return dropTables(tx, tables...)
		},
	}
}
