package database

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0004Observations: self-reported readings, idempotency keys, alerts with
// the readings that caused them, and per-patient alert threshold overrides.
func m0004Observations() *gormigrate.Migration {
	// ix_observations_series serves the rules, the latest reading and lists
	// (by measured time). LocalDay is YYYY-MM-DD in the hospital's zone,
	// computed at insert, so grouping by day is the same SQL on every
	// database; ix_observations_days covers the trend query: one range scan
	// in (day, context) order, no table lookups, no sort.
	type observation struct {
		ID         string    `gorm:"type:varchar(36);primaryKey"`
		PatientID  string    `gorm:"type:varchar(36);not null;index:ix_observations_series,priority:1;index:ix_observations_days,priority:1"`
		Type       string    `gorm:"type:varchar(16);not null;index:ix_observations_series,priority:2;index:ix_observations_days,priority:2"`
		MeasuredAt time.Time `gorm:"not null;index:ix_observations_series,priority:3"`
		LocalDay   string    `gorm:"type:varchar(10);not null;index:ix_observations_days,priority:3"`
		Context    string    `gorm:"type:varchar(16);not null;default:'';index:ix_observations_days,priority:4"`
		Value      *float64  `gorm:"index:ix_observations_days,priority:5"`
		Value2     *float64  `gorm:"index:ix_observations_days,priority:6"`
		Value3     *float64  `gorm:"index:ix_observations_days,priority:7"`
		Code       string    `gorm:"type:varchar(16);not null"`            // LOINC
		Unit       string    `gorm:"type:varchar(16);not null;default:''"` // UCUM, canonical
		OrigValue  *float64  // as reported, before conversion
		OrigUnit   string    `gorm:"type:varchar(16);not null;default:''"`
		Location   string    `gorm:"type:varchar(64);not null;default:''"`
		Symptoms   string    `gorm:"type:varchar(512);not null;default:''"`
		Note       string    `gorm:"type:varchar(1000);not null;default:''"`
		Source     string    `gorm:"type:varchar(16);not null"`
		Device     string    `gorm:"type:varchar(64);not null;default:''"`
		ReportedBy string    `gorm:"type:varchar(36);not null"`
		OnBehalfOf *string   `gorm:"type:varchar(36)"`
		ClientID   string    `gorm:"type:varchar(64);not null;default:''"`
		ReceivedAt time.Time `gorm:"not null"`
		CreatedAt  time.Time
	}
	type idempotencyKey struct {
		ActorID     string    `gorm:"type:varchar(36);primaryKey"`
		IdemKey     string    `gorm:"type:varchar(64);primaryKey"`
		RequestHash string    `gorm:"type:varchar(64);not null"`
		Status      int       `gorm:"not null"`
		Response    []byte    `gorm:"type:mediumblob"`
		CreatedAt   time.Time `gorm:"not null;index:ix_idempotency_keys_created"`
	}
	// The alert indexes end in id: lists page newest first by id (UUIDv7).
	type alert struct {
		ID              string  `gorm:"type:varchar(36);primaryKey;index:ix_alerts_patient,priority:2;index:ix_alerts_status,priority:2"`
		PatientID       string  `gorm:"type:varchar(36);not null;index:ix_alerts_patient,priority:1;uniqueIndex:ux_alerts_open,priority:1"`
		OwnerID         *string `gorm:"type:varchar(36);index:ix_alerts_owner"`
		Kind            string  `gorm:"type:varchar(32);not null"`
		Rule            string  `gorm:"type:varchar(32);not null"`
		Severity        string  `gorm:"type:varchar(16);not null"`
		VitalType       string  `gorm:"type:varchar(16);not null;default:''"`
		Status          string  `gorm:"type:varchar(16);not null;index:ix_alerts_status,priority:1"`
		OpenKey         *string `gorm:"type:varchar(48);uniqueIndex:ux_alerts_open,priority:2"` // = kind while unresolved, NULL after: one open alert per kind
		Summary         string  `gorm:"type:varchar(255);not null"`
		Occurrences     int     `gorm:"not null;default:1"`
		FirstRaisedAt   time.Time
		LastTriggeredAt time.Time
		AcknowledgedAt  *time.Time
		AcknowledgedBy  *string `gorm:"type:varchar(36)"`
		ResolvedAt      *time.Time
		ResolvedBy      *string `gorm:"type:varchar(36)"`
		ActionTaken     string  `gorm:"type:varchar(32);not null;default:''"`
		ResolutionNote  string  `gorm:"type:varchar(1000);not null;default:''"`
		CreatedAt       time.Time
		UpdatedAt       time.Time
	}
	type alertReading struct {
		AlertID   string `gorm:"type:varchar(36);primaryKey"`
		ReadingID string `gorm:"type:varchar(36);primaryKey"`
		CreatedAt time.Time
	}
	type alertThreshold struct {
		PatientID    string  `gorm:"type:varchar(36);primaryKey"`
		ThresholdKey string  `gorm:"type:varchar(32);primaryKey"`
		Value        float64 `gorm:"not null"`
		UpdatedBy    string  `gorm:"type:varchar(36);not null"`
		UpdatedAt    time.Time
	}
	tables := []table{
		{"observations", &observation{}}, {"idempotency_keys", &idempotencyKey{}},
		{"alerts", &alert{}}, {"alert_readings", &alertReading{}}, {"alert_thresholds", &alertThreshold{}},
	}
	return &gormigrate.Migration{
		ID:       "0004_observations",
		Migrate:  func(tx *gorm.DB) error { return createTables(tx, tables...) },
		Rollback: func(tx *gorm.DB) error { return dropTables(tx, tables...) },
	}
}
