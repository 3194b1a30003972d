package questionnaire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

// Store reads and writes assignments.
type Store struct {
	db     *gorm.DB
	sealer Sealer
}

// Sealer encrypts answers at rest (fieldcrypt).
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(sealed string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Sealed returns a store that seals the answers it writes and opens sealed
// answers on read; rows written unsealed (before migration 0012, or by a
// store without a sealer) are read as they are.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, sealer: sealer} }

// WithDB returns the store over db (a transaction), keeping its sealer.
func (s *Store) WithDB(db *gorm.DB) *Store { return &Store{db: db, sealer: s.sealer} }

// opened returns as with their answers opened.
func (s *Store) opened(as []Assignment) ([]Assignment, error) {
	for i := range as {
		if err := fieldcrypt.OpenFields(s.sealer, &as[i].AnswersSealed, &as[i].Answers); err != nil {
			return nil, fmt.Errorf("open answers of %s: %w", as[i].ID, err)
		}
	}
	return as, nil
}

// sealed returns the answers as stored: sealed when the store has a sealer.
func (s *Store) sealed(answers string) (string, bool, error) {
	out, sealed, err := fieldcrypt.SealValue(s.sealer, answers)
	if err != nil {
		return "", false, fmt.Errorf("seal answers: %w", err)
	}
	return out, sealed, nil
}

// Reseal seals the answers of up to batch rows written in the clear (before
// migration 0012) and returns how many it sealed; 0 means done.
func (s *Store) Reseal(ctx context.Context, batch int) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("questionnaire: reseal needs a sealer")
	}
	return database.Reseal(ctx, s.db, database.Sealed{Table: "questionnaire_assignments", Flag: "answers_sealed",
		Columns: []string{"answers"}}, s.sealer.Seal, batch)
}

// Create inserts a.
func (s *Store) Create(ctx context.Context, a *Assignment) error {
	if err := s.db.WithContext(ctx).Create(a).Error; err != nil {
		return fmt.Errorf("assign questionnaire: %w", err)
	}
	return nil
}

// PendingSince lists the pending assignments given since t (id, patient and
// time only), oldest first.
func (s *Store) PendingSince(ctx context.Context, t time.Time) ([]Assignment, error) {
	var out []Assignment
	err := s.db.WithContext(ctx).Select("id", "patient_id", "questionnaire", "schedule_key", "assigned_at").
		Where("status = ? AND assigned_at >= ?", StatusPending, t).Order("assigned_at").Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list pending questionnaires: %w", err)
	}
	return out, nil
}

// ByID returns an assignment of the patient.
func (s *Store) ByID(ctx context.Context, patientID, id string) (Assignment, error) {
	var a Assignment
	err := s.db.WithContext(ctx).Where("id = ? AND patient_id = ?", id, patientID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Assignment{}, ErrNotFound
	}
	if err != nil {
		return Assignment{}, fmt.Errorf("load questionnaire assignment: %w", err)
	}
	as, err := s.opened([]Assignment{a})
	if err != nil {
		return Assignment{}, err
	}
	return as[0], nil
}

// OfPatient returns the patient's assignments: pending first, then newest first.
func (s *Store) OfPatient(ctx context.Context, patientID string, limit int) ([]Assignment, error) {
	var out []Assignment
	err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).
		Order("CASE WHEN status = 'pending' THEN 0 ELSE 1 END").Order("assigned_at DESC").Order("id DESC").
		Limit(limit).Find(&out).Error
	if err != nil {
		return nil, err
	}
	return s.opened(out)
}

// Answer stores the answers of a pending assignment, and the alert event
// when the score calls for one, in one transaction; false when it was
// answered already.
func (s *Store) Answer(ctx context.Context, a Assignment, alert any) (bool, error) {
	answered := false
	answers, sealed, err := s.sealed(a.Answers)
	if err != nil {
		return false, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Assignment{}).Where("id = ? AND status = ?", a.ID, StatusPending).Updates(map[string]any{
			"status": StatusAnswered, "answers": answers, "answers_sealed": sealed, "score": a.Score, "band": a.Band, "alert": a.Alert,
			"answered_by_kind": a.AnsweredByKind, "answered_by_id": a.AnsweredByID, "answered_at": a.AnsweredAt, "updated_at": a.UpdatedAt,
		})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		answered = true
		if alert != nil {
			return outbox.Add(tx, TopicAlert, queue.Critical, alert)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("answer questionnaire %s: %w", a.ID, err)
	}
	return answered, nil
}

// Flagged returns answered assignments that alerted, of the staff member's patients, newest first.
func (s *Store) Flagged(ctx context.Context, actor auth.Actor, limit int) ([]Assignment, error) {
	var out []Assignment
	err := s.db.WithContext(ctx).Table("questionnaire_assignments").Select("questionnaire_assignments.*").
		Joins("JOIN patients ON patients.id = questionnaire_assignments.patient_id").
		Scopes(access.StaffPatients(actor, "patients")).
		Where("questionnaire_assignments.alert = ?", true).
		Order("questionnaire_assignments.answered_at DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, err
	}
	return s.opened(out)
}
