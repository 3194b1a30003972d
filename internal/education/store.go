package education

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Store reads and writes assignments.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Assign inserts a; false when the patient already has the article.
func (s *Store) Assign(ctx context.Context, a *Assignment) (bool, error) {
	db := s.db.WithContext(ctx)
	var n int64
	if err := db.Model(&Assignment{}).Where("patient_id = ? AND article_key = ?", a.PatientID, a.ArticleKey).Count(&n).Error; err != nil {
		return false, fmt.Errorf("find assignment: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if err := db.Create(a).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) { // a concurrent delivery of the same event won
			return false, nil
		}
		return false, fmt.Errorf("assign article: %w", err)
	}
	return true, nil
}

// ByID returns an assignment of the patient.
func (s *Store) ByID(ctx context.Context, patientID, id string) (Assignment, error) {
	var a Assignment
	err := s.db.WithContext(ctx).Where("id = ? AND patient_id = ?", id, patientID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Assignment{}, ErrAssignmentNotFound
	}
	return a, err
}

// Feed returns a patient's assignments: unopened first, then newest first.
func (s *Store) Feed(ctx context.Context, patientID string, unreadOnly bool) ([]Assignment, error) {
	db := s.db.WithContext(ctx).Where("patient_id = ?", patientID)
	if unreadOnly {
		db = db.Where("opened_at IS NULL")
	}
	var out []Assignment
	err := db.Order("CASE WHEN opened_at IS NULL THEN 0 ELSE 1 END").Order("assigned_at DESC").Order("id DESC").Find(&out).Error
	return out, err
}

// MarkOpened records the first opening.
func (s *Store) MarkOpened(ctx context.Context, id string, at time.Time, by string) error {
	return s.db.WithContext(ctx).Model(&Assignment{}).Where("id = ? AND opened_at IS NULL", id).
		Updates(map[string]any{"opened_at": at, "read_by": by}).Error
}

// MarkFinished records the first finish (and an opening, if none was recorded).
func (s *Store) MarkFinished(ctx context.Context, id string, at time.Time, by string) error {
	if err := s.MarkOpened(ctx, id, at, by); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Model(&Assignment{}).Where("id = ? AND finished_at IS NULL", id).Update("finished_at", at).Error
}
