package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0001Foundation: organisations, staff, WeChat users, patients, family links,
// sessions and refresh tokens, and the audit log.
func m0001Foundation() *gormigrate.Migration {
	type hospital struct {
		ID        string `gorm:"type:varchar(36);primaryKey"`
		Code      string `gorm:"type:varchar(32);not null;uniqueIndex"`
		Name      string `gorm:"type:varchar(128);not null"`
		CreatedAt time.Time
		UpdatedAt time.Time
	}
	type department struct {
		ID         string `gorm:"type:varchar(36);primaryKey"`
		HospitalID string `gorm:"type:varchar(36);not null;uniqueIndex:ux_departments_code,priority:1"`
		Code       string `gorm:"type:varchar(32);not null;uniqueIndex:ux_departments_code,priority:2"`
		Name       string `gorm:"type:varchar(128);not null"`
		CreatedAt  time.Time
		UpdatedAt  time.Time
	}
	type staff struct {
		ID           string  `gorm:"type:varchar(36);primaryKey"`
		HospitalID   string  `gorm:"type:varchar(36);not null;index"`
		DepartmentID *string `gorm:"type:varchar(36);index"`
		Username     string  `gorm:"type:varchar(64);not null;uniqueIndex"`
		PasswordHash string  `gorm:"type:varchar(255);not null"`
		DisplayName  string  `gorm:"type:varchar(64);not null"`
		Role         string  `gorm:"type:varchar(16);not null"`
		Status       string  `gorm:"type:varchar(16);not null"`
		FailedLogins int     `gorm:"not null;default:0"`
		LockedUntil  *time.Time
		LastLoginAt  *time.Time
		CreatedAt    time.Time
		UpdatedAt    time.Time
	}
	type user struct {
		ID          string  `gorm:"type:varchar(36);primaryKey"`
		OpenID      *string `gorm:"column:open_id;type:varchar(64);uniqueIndex"`
		UnionID     *string `gorm:"column:union_id;type:varchar(64);index"`
		PhoneEnc    string  `gorm:"type:varchar(255);not null;default:''"`
		PhoneIndex  *string `gorm:"type:varchar(64);index"`
		Status      string  `gorm:"type:varchar(16);not null"`
		LastLoginAt *time.Time
		CreatedAt   time.Time
		UpdatedAt   time.Time
	}
	type patient struct {
		ID            string  `gorm:"type:varchar(36);primaryKey"`
		HospitalID    string  `gorm:"type:varchar(36);not null;index:ix_patients_mrn,priority:1"`
		DepartmentID  string  `gorm:"type:varchar(36);not null;index"`
		UserID        *string `gorm:"type:varchar(36);uniqueIndex"`
		MRN           string  `gorm:"column:mrn;type:varchar(32);not null;default:'';index:ix_patients_mrn,priority:2"`
		NameEnc       string  `gorm:"type:varchar(255);not null"`
		PhoneEnc      string  `gorm:"type:varchar(255);not null;default:''"`
		PhoneIndex    *string `gorm:"type:varchar(64);index"`
		IDNumberEnc   string  `gorm:"column:id_number_enc;type:varchar(255);not null;default:''"`
		IDNumberIndex *string `gorm:"column:id_number_index;type:varchar(64);index"`
		Gender        string  `gorm:"type:varchar(1);not null;default:'U'"`
		BirthDate     *time.Time
		Bed           string  `gorm:"type:varchar(32);not null;default:''"`
		AssignedCMID  *string `gorm:"column:assigned_cm_id;type:varchar(36);index"`
		CoveringCMID  *string `gorm:"column:covering_cm_id;type:varchar(36);index"`
		RiskLevel     string  `gorm:"type:varchar(8);not null;default:'low'"`
		Status        string  `gorm:"type:varchar(16);not null"`
		CreatedAt     time.Time
		UpdatedAt     time.Time
	}
	type familyLink struct {
		ID           string `gorm:"type:varchar(36);primaryKey"`
		PatientID    string `gorm:"type:varchar(36);not null;index"`
		UserID       string `gorm:"type:varchar(36);not null;index"`
		Relationship string `gorm:"type:varchar(32);not null"`
		Scopes       string `gorm:"type:varchar(255);not null"`
		Status       string `gorm:"type:varchar(16);not null"`
		CreatedAt    time.Time
		UpdatedAt    time.Time
		RevokedAt    *time.Time
	}
	type authSession struct {
		ID           string  `gorm:"type:varchar(36);primaryKey"`
		SubjectKind  string  `gorm:"type:varchar(8);not null;index:ix_auth_sessions_subject,priority:1"`
		SubjectID    string  `gorm:"type:varchar(36);not null;index:ix_auth_sessions_subject,priority:2"`
		Kind         string  `gorm:"type:varchar(8);not null"`
		SecretHash   *string `gorm:"type:varchar(64);uniqueIndex"`
		CSRFToken    string  `gorm:"column:csrf_token;type:varchar(64);not null;default:''"`
		IP           string  `gorm:"type:varchar(64);not null;default:''"`
		UserAgent    string  `gorm:"type:varchar(255);not null;default:''"`
		CreatedAt    time.Time
		LastSeenAt   time.Time
		ExpiresAt    time.Time `gorm:"index"`
		RevokedAt    *time.Time
		RevokeReason string `gorm:"type:varchar(32);not null;default:''"`
	}
	type refreshToken struct {
		ID        string `gorm:"type:varchar(36);primaryKey"`
		SessionID string `gorm:"type:varchar(36);not null;index"`
		TokenHash string `gorm:"type:varchar(64);not null;uniqueIndex"`
		ExpiresAt time.Time
		UsedAt    *time.Time
		CreatedAt time.Time
	}
	type auditEvent struct {
		ID         string    `gorm:"type:varchar(36);primaryKey"`
		At         time.Time `gorm:"not null;index"`
		ActorKind  string    `gorm:"type:varchar(8);not null"`
		ActorID    string    `gorm:"type:varchar(36);not null;index"`
		ActorRole  string    `gorm:"type:varchar(16);not null"`
		IP         string    `gorm:"type:varchar(64);not null;default:''"`
		UserAgent  string    `gorm:"type:varchar(255);not null;default:''"`
		RequestID  string    `gorm:"type:varchar(64);not null;default:''"`
		Action     string    `gorm:"type:varchar(64);not null"`
		PatientID  *string   `gorm:"type:varchar(36);index:ix_audit_patient,priority:1"`
		ObjectType string    `gorm:"type:varchar(32);not null;default:''"`
		ObjectID   string    `gorm:"type:varchar(36);not null;default:''"`
		Result     string    `gorm:"type:varchar(16);not null"`
		CreatedAt  time.Time `gorm:"index:ix_audit_patient,priority:2"`
	}
	tables := []table{
		{"hospitals", &hospital{}}, {"departments", &department{}}, {"staff", &staff{}}, {"users", &user{}},
		{"patients", &patient{}}, {"family_links", &familyLink{}}, {"auth_sessions", &authSession{}},
		{"refresh_tokens", &refreshToken{}}, {"audit_events", &auditEvent{}},
	}
	return &gormigrate.Migration{
		ID:       "0001_foundation",
		Migrate:  func(tx *gorm.DB) error { return createTables(tx, tables...) },
		Rollback: func(tx *gorm.DB) error { return dropTables(tx, tables...) },
	}
}
