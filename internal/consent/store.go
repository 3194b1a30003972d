package consent

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Store reads and writes consent records.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// WithTx returns a Store that works inside tx.
func (s *Store) WithTx(tx *gorm.DB) *Store { return &Store{db: tx} }

// Create inserts c.
func (s *Store) Create(ctx context.Context, c *Consent) error {
	if err := s.db.WithContext(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("create %s consent: %w", c.Kind, err)
	}
	return nil
}

// ByID returns a patient's consent; ErrNotFound when missing or another patient's.
func (s *Store) ByID(ctx context.Context, patientID, id string) (Consent, error) {
	var c Consent
	err := s.db.WithContext(ctx).Where("id = ? AND patient_id = ?", id, patientID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Consent{}, ErrNotFound
	}
	return c, err
}

// ActiveHealthData returns the patient's health-data consent in force, if any.
func (s *Store) ActiveHealthData(ctx context.Context, patientID string) (Consent, bool, error) {
	return s.first(s.db.WithContext(ctx).
		Where("patient_id = ? AND kind = ? AND withdrawn_at IS NULL", patientID, KindHealthData))
}

// PrivacyPolicy returns the user's acceptance of version, if any.
func (s *Store) PrivacyPolicy(ctx context.Context, userID, version string) (Consent, bool, error) {
	return s.first(s.db.WithContext(ctx).
		Where("user_id = ? AND kind = ? AND version = ?", userID, KindPrivacyPolicy, version))
}

func (s *Store) first(q *gorm.DB) (Consent, bool, error) {
	var c Consent
	err := q.Order("granted_at DESC").Order("id DESC").Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Consent{}, false, nil
	}
	if err != nil {
		return Consent{}, false, fmt.Errorf("load consent: %w", err)
	}
	return c, true, nil
}

// ForPatient lists a patient's consents, newest first.
func (s *Store) ForPatient(ctx context.Context, patientID string) ([]Consent, error) {
	var out []Consent
	err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).Order("id DESC").Limit(500).Find(&out).Error
	return out, err
}

// ForUser lists a user's own consents (privacy-policy acceptances), newest first.
func (s *Store) ForUser(ctx context.Context, userID string) ([]Consent, error) {
	var out []Consent
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Limit(100).Find(&out).Error
	return out, err
}

// Withdraw closes the active consents the query selects.
func (s *Store) withdraw(q *gorm.DB, w Withdrawal) error {
	return q.Model(&Consent{}).Where("withdrawn_at IS NULL").Updates(map[string]any{
		"withdrawn_at": w.At, "withdraw_reason": w.Reason, "withdraw_method": w.Method,
		"withdrawn_by_kind": w.ByKind, "withdrawn_by_id": w.ByID, "updated_at": w.At,
	}).Error
}

// Withdraw closes one consent, if still active.
func (s *Store) Withdraw(ctx context.Context, id string, w Withdrawal) error {
	return s.withdraw(s.db.WithContext(ctx).Where("id = ?", id), w)
}

// WithdrawSharing closes the active sharing consents of the given family links.
func (s *Store) WithdrawSharing(ctx context.Context, linkIDs []string, w Withdrawal) error {
	if len(linkIDs) == 0 {
		return nil
	}
	return s.withdraw(s.db.WithContext(ctx).Where("kind = ? AND family_link_id IN ?", KindFamilySharing, linkIDs), w)
}
