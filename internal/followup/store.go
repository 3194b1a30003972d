package followup

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

// Store reads and writes follow-ups.
type Store struct {
	db     *gorm.DB
	sealer Sealer
}

// Sealer encrypts outcome text at rest (fieldcrypt).
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(sealed string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Sealed returns a store that seals the outcome text it writes and opens
// sealed text on read; rows written unsealed (before migration 0012, or by
// a store without a sealer) are read as they are.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, sealer: sealer} }

// notes are the outcome's free-text columns.
func notes(f *Followup) []*string { return []*string{&f.Symptoms, &f.Problems, &f.NextAction} }

// opened returns fs with their outcome text opened.
func (s *Store) opened(fs []Followup) ([]Followup, error) {
	for i := range fs {
		if err := fieldcrypt.OpenFields(s.sealer, &fs[i].NotesSealed, notes(&fs[i])...); err != nil {
			return nil, fmt.Errorf("open follow-up %s: %w", fs[i].ID, err)
		}
	}
	return fs, nil
}

// sealFields seals the outcome text among an update's fields.
func (s *Store) sealFields(fields map[string]any) error {
	if s.sealer == nil {
		return nil
	}
	sealed := false
	for _, col := range []string{"symptoms", "problems", "next_action"} {
		v, ok := fields[col].(string)
		if !ok {
			continue
		}
		out, err := s.sealer.Seal(v)
		if err != nil {
			return fmt.Errorf("seal follow-up outcome: %w", err)
		}
		fields[col], sealed = out, true
	}
	if sealed {
		fields["notes_sealed"] = true
	}
	return nil
}

// Reseal seals the outcome text of up to batch rows written in the clear
// (before migration 0012) and returns how many it sealed; 0 means done.
func (s *Store) Reseal(ctx context.Context, batch int) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("followup: reseal needs a sealer")
	}
	return database.Reseal(ctx, s.db, database.Sealed{Table: "followups", Flag: "notes_sealed",
		Columns: []string{"symptoms", "problems", "next_action"}}, s.sealer.Seal, batch)
}

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
	fs, err := s.opened([]Followup{f})
	if err != nil {
		return Followup{}, err
	}
	return fs[0], nil
}

// OfPatient returns the patient's follow-ups by window.
func (s *Store) OfPatient(ctx context.Context, patientID string, limit int) ([]Followup, error) {
	var out []Followup
	if err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).Order("window_end").Order("id").Limit(limit).Find(&out).Error; err != nil {
		return nil, err
	}
	return s.opened(out)
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
	if err := db.Order("followups.window_end").Order("followups.id").Limit(limit).Find(&out).Error; err != nil {
		return nil, err
	}
	return s.opened(out)
}

// Update changes fields of a pending follow-up; false when it is not pending.
func (s *Store) Update(ctx context.Context, id string, fields map[string]any) (bool, error) {
	return s.UpdateIn(ctx, id, []string{StatusPending}, fields)
}

// UpdateIn changes fields of a follow-up in one of statuses; false when it
// is in none of them.
func (s *Store) UpdateIn(ctx context.Context, id string, statuses []string, fields map[string]any) (bool, error) {
	if err := s.sealFields(fields); err != nil {
		return false, err
	}
	res := s.db.WithContext(ctx).Model(&Followup{}).Where("id = ? AND status IN ?", id, statuses).Updates(fields)
	if res.Error != nil {
		return false, fmt.Errorf("update follow-up %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// CancelPending cancels the pending follow-ups of a plan and returns how many.
func (s *Store) CancelPending(ctx context.Context, planID string, now time.Time) (int, error) {
	res := s.db.WithContext(ctx).Model(&Followup{}).Where("plan_id = ? AND status = ?", planID, StatusPending).
		Updates(map[string]any{"status": StatusCancelled, "updated_at": now})
	if res.Error != nil {
		return 0, fmt.Errorf("cancel follow-ups of plan %s: %w", planID, res.Error)
	}
	return int(res.RowsAffected), nil
}

// PastWindow returns pending follow-ups whose window closed by now and that
// are not flagged, or not escalated, yet.
func (s *Store) PastWindow(ctx context.Context, now time.Time, limit int) ([]Followup, error) {
	var out []Followup
	err := s.db.WithContext(ctx).Where("status = ? AND window_end <= ? AND (overdue_at IS NULL OR escalated_at IS NULL)", StatusPending, now).
		Order("window_end").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, err
	}
	return s.opened(out)
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
