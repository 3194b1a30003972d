package observation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Store reads and writes readings.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// DB is the store's handle, for services that open transactions.
func (s *Store) DB() *gorm.DB { return s.db }

// LockPatient serialises a patient's reports inside tx, so that the rules
// of each report see every earlier one and two reports cannot both open the
// same alert. The patients row is locked, never read (SQLite's writer lock
// serialises anyway).
func (s *Store) LockPatient(ctx context.Context, tx *gorm.DB, patientID string) error {
	var id string
	err := tx.WithContext(ctx).Table("patients").Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("id = ?", patientID).Select("id").Take(&id).Error
	if err != nil {
		return fmt.Errorf("lock patient: %w", err)
	}
	return nil
}

// Create inserts r inside tx.
func (s *Store) Create(ctx context.Context, tx *gorm.DB, r *Reading) error {
	if err := tx.WithContext(ctx).Create(r).Error; err != nil {
		return fmt.Errorf("create reading: %w", err)
	}
	return nil
}

// Around returns the patient's readings of one type measured within window
// of t, oldest first (for the alert rules). db may be a transaction.
func (s *Store) Around(ctx context.Context, db *gorm.DB, patientID, typ string, t time.Time, window time.Duration) ([]Reading, error) {
	var out []Reading
	err := db.WithContext(ctx).Where("patient_id = ? AND type = ? AND measured_at >= ? AND measured_at <= ?",
		patientID, typ, t.Add(-window), t.Add(window)).Order("measured_at, id").Limit(1000).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("readings around %s: %w", t.Format(time.RFC3339), err)
	}
	return out, nil
}

// ByIDs returns the readings with the given ids, oldest first.
func (s *Store) ByIDs(ctx context.Context, ids []string) ([]Reading, error) {
	var out []Reading
	if len(ids) == 0 {
		return out, nil
	}
	err := s.db.WithContext(ctx).Where("id IN ?", ids).Order("measured_at, id").Find(&out).Error
	return out, err
}

// Latest returns the newest reading of a type.
func (s *Store) Latest(ctx context.Context, patientID, typ string) (Reading, bool, error) {
	var r Reading
	err := s.db.WithContext(ctx).Where("patient_id = ? AND type = ?", patientID, typ).
		Order("measured_at DESC, id DESC").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Reading{}, false, nil
	}
	if err != nil {
		return Reading{}, false, fmt.Errorf("latest reading: %w", err)
	}
	return r, true, nil
}

// ListQuery selects one page of a patient's readings, newest first.
type ListQuery struct {
	PatientID string
	Type      string // empty = every type
	Before    *time.Time
	BeforeID  string
	Limit     int
}

// List returns readings by measured time, newest first.
func (s *Store) List(ctx context.Context, q ListQuery) ([]Reading, error) {
	db := s.db.WithContext(ctx).Where("patient_id = ?", q.PatientID)
	if q.Type != "" {
		db = db.Where("type = ?", q.Type)
	}
	if q.Before != nil {
		db = db.Where("measured_at < ? OR (measured_at = ? AND id < ?)", *q.Before, *q.Before, q.BeforeID)
	}
	var out []Reading
	err := db.Order("measured_at DESC, id DESC").Limit(q.Limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list readings: %w", err)
	}
	return out, nil
}

// DayRow is one local day's (and context's) aggregate of each component.
type DayRow struct {
	LocalDay         string
	Context          string
	N1, N2, N3       int64
	Sum1, Sum2, Sum3 *float64
	Min1, Min2, Min3 *float64
	Max1, Max2, Max3 *float64
}

// Daily aggregates a patient's readings of one type measured since from, by
// local day and context. local_day was computed in the hospital's zone at
// insert, so the grouping is the same SQL on SQLite and MySQL, and the scan
// is one range of ix_observations_series.
func (s *Store) Daily(ctx context.Context, patientID, typ string, from time.Time) ([]DayRow, error) {
	var rows []DayRow
	err := s.db.WithContext(ctx).Model(&Reading{}).
		Select(`local_day, context,
			COUNT(value) AS n1, SUM(value) AS sum1, MIN(value) AS min1, MAX(value) AS max1,
			COUNT(value2) AS n2, SUM(value2) AS sum2, MIN(value2) AS min2, MAX(value2) AS max2,
			COUNT(value3) AS n3, SUM(value3) AS sum3, MIN(value3) AS min3, MAX(value3) AS max3`).
		Where("patient_id = ? AND type = ? AND measured_at >= ?", patientID, typ, from).
		Group("local_day, context").Order("local_day, context").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("daily aggregates: %w", err)
	}
	return rows, nil
}

// LastMeasured returns when the patient last measured a type.
func (s *Store) LastMeasured(ctx context.Context, patientID, typ string) (*time.Time, error) {
	r, ok, err := s.Latest(ctx, patientID, typ)
	if err != nil || !ok {
		return nil, err
	}
	return &r.MeasuredAt, nil
}
