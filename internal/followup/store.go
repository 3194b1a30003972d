package followup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

// Store reads and writes follow-ups.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// CreateIfMissing inserts f unless the patient has a follow-up with its item key.
func (s *Store) CreateIfMissing(ctx context.Context, f *Followup) (bool, error) {
	db := s.db.WithContext(ctx)
	var n int64
	if err := db.Model(&Followup{}).Where("patient_id = ? AND item_key = ?", f.PatientID, f.ItemKey).Count(&n).Error; err != nil {
		return false, fmt.Errorf("find follow-up: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if err := db.Create(f).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return false, nil
		}
		return false, fmt.Errorf("create follow-up: %w", err)
	}
	return true, nil
}

// ByID returns a follow-up of the patient.
func (s *Store) ByID(ctx context.Context, patientID, id string) (Followup, error) {
	var f Followup
	err := s.db.WithContext(ctx).Where("id = ? AND patient_id = ?", id, patientID).Take(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Followup{}, ErrNotFound
	}
	if err != nil {
		return Followup{}, fmt.Errorf("load follow-up: %w", err)
	}
	return f, nil
}

// OfPatient returns the patient's follow-ups by window.
func (s *Store) OfPatient(ctx context.Context, patientID string, limit int) ([]Followup, error) {
	var out []Followup
	err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).Order("window_end").Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// LastRoutineDone returns when the plan's newest routine follow-up was made (zero if never).
func (s *Store) LastRoutineDone(ctx context.Context, patientID, planID string) (time.Time, error) {
	var f Followup
	err := s.db.WithContext(ctx).Where("patient_id = ? AND plan_id = ? AND source = ? AND status = ?", patientID, planID, SourceRhythm, StatusDone).
		Order("recorded_at DESC").Take(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && f.RecordedAt == nil {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return *f.RecordedAt, nil
}

// Pending returns the pending follow-ups of the staff member's patients
// whose window has opened by until, soonest closing first.
func (s *Store) Pending(ctx context.Context, actor auth.Actor, until time.Time, escalatedOnly bool, limit int) ([]Followup, error) {
	db := s.db.WithContext(ctx).Table("followups").Select("followups.*").
		Joins("JOIN patients ON patients.id = followups.patient_id").
		Scopes(access.StaffPatients(actor, "patients")).
		Where("followups.status = ? AND followups.window_start < ?", StatusPending, until)
	if escalatedOnly {
		db = db.Where("followups.escalated_at IS NOT NULL")
	}
	var out []Followup
	err := db.Order("followups.window_end").Order("followups.id").Limit(limit).Find(&out).Error
	return out, err
}

// Update changes fields of a pending follow-up; false when it is not pending.
func (s *Store) Update(ctx context.Context, id string, fields map[string]any) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Followup{}).Where("id = ? AND status = ?", id, StatusPending).Updates(fields)
	if res.Error != nil {
		return false, fmt.Errorf("update follow-up %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// PastWindow returns pending follow-ups whose window closed by now and that
// are not flagged, or not escalated, yet.
func (s *Store) PastWindow(ctx context.Context, now time.Time, limit int) ([]Followup, error) {
	var out []Followup
	err := s.db.WithContext(ctx).Where("status = ? AND window_end <= ? AND (overdue_at IS NULL OR escalated_at IS NULL)", StatusPending, now).
		Order("window_end").Limit(limit).Find(&out).Error
	return out, err
}

// Mark sets fields of a pending follow-up where cond holds, with an outbox
// event in the same transaction; false when another scan did it first.
func (s *Store) Mark(ctx context.Context, id, cond string, fields map[string]any, topic string, payload any) (bool, error) {
	done := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Followup{}).Where("id = ? AND status = ?", id, StatusPending).Where(cond).Updates(fields)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		done = true
		return outbox.Add(tx, topic, queue.Default, payload)
	})
	return done, err
}

// MissedFollowups counts the patient's follow-ups that went overdue since
// (careplan's risk score reads it through its FollowupCounter interface).
func (s *Store) MissedFollowups(ctx context.Context, patientID string, since time.Time) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Followup{}).Where("patient_id = ? AND overdue_at IS NOT NULL AND overdue_at >= ?", patientID, since).Count(&n).Error
	return int(n), err
}
