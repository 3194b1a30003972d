package alert

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
)

// Store reads and writes alerts and threshold overrides.
type Store struct {
	db     *gorm.DB
	sealer Sealer
}

// Sealer encrypts the CM's resolution note at rest (fieldcrypt).
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(sealed string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Sealed returns a store that seals the resolution notes it writes and opens
// the sealed ones it reads.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, sealer: sealer} }

// open opens the sealed resolution notes of as in place.
func (s *Store) open(as []Alert) error {
	for i := range as {
		if err := fieldcrypt.OpenFields(s.sealer, &as[i].ResolutionNoteSealed, &as[i].ResolutionNote); err != nil {
			return fmt.Errorf("open resolution note of alert %s: %w", as[i].ID, err)
		}
	}
	return nil
}

// openOne opens a's sealed resolution note.
func (s *Store) openOne(a Alert) (Alert, error) {
	as := []Alert{a}
	err := s.open(as)
	return as[0], err
}

// Reseal seals up to batch resolution notes written in the clear and returns
// how many it sealed (see database.Reseal).
func (s *Store) Reseal(ctx context.Context, batch int) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("alert: reseal needs a sealer")
	}
	return database.Reseal(ctx, s.db, database.Sealed{Table: "alerts", Flag: "resolution_note_sealed",
		Columns: []string{"resolution_note"}}, s.sealer.Seal, batch)
}

// OpenOf returns the unresolved alert of a patient and kind, if any. It
// takes no row or gap lock (two patients' reports must not deadlock on the
// unique index): the caller holds the patient's lock, which serialises every
// writer that opens or folds that patient's alerts, and a CM resolving the
// alert meanwhile is caught by Fold's condition.
func (s *Store) OpenOf(ctx context.Context, tx *gorm.DB, patientID, kind string) (Alert, bool, error) {
	var a Alert
	err := tx.WithContext(ctx).Where("patient_id = ? AND open_key = ?", patientID, kind).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Alert{}, false, nil
	}
	if err != nil {
		return Alert{}, false, fmt.Errorf("open alert: %w", err)
	}
	a, err = s.openOne(a)
	return a, err == nil, err
}

// Create inserts a inside tx with the readings that caused it.
func (s *Store) Create(ctx context.Context, tx *gorm.DB, a *Alert, readingIDs []string) error {
	if err := tx.WithContext(ctx).Create(a).Error; err != nil {
		return fmt.Errorf("create alert: %w", err)
	}
	return s.link(ctx, tx, a.ID, readingIDs, a.CreatedAt)
}

// FoldChange is what one more occurrence changes on an open alert.
type FoldChange struct {
	Rule, Severity, Summary string // set when the new finding is at least as severe
	Reopen                  bool   // an escalation: back to open, acknowledgement cleared
	ReadingIDs              []string
	At                      time.Time
}

// Fold records one more occurrence of an unresolved alert inside tx and
// links the new readings. Only the fields the fold owns are written, so a
// CM's acknowledgement made meanwhile survives (unless Reopen). It reports
// false, changing nothing, when the alert was resolved meanwhile.
func (s *Store) Fold(ctx context.Context, tx *gorm.DB, alertID string, c FoldChange) (bool, error) {
	set := map[string]any{"occurrences": gorm.Expr("occurrences + 1"), "last_triggered_at": c.At, "updated_at": c.At}
	if c.Severity != "" {
		set["rule"], set["severity"], set["summary"] = c.Rule, c.Severity, c.Summary
	}
	if c.Reopen {
		set["status"], set["acknowledged_at"], set["acknowledged_by"] = StatusOpen, nil, nil
	}
	res := tx.WithContext(ctx).Model(&Alert{}).Where("id = ? AND open_key IS NOT NULL", alertID).Updates(set)
	if res.Error != nil {
		return false, fmt.Errorf("fold alert: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	return true, s.link(ctx, tx, alertID, c.ReadingIDs, c.At)
}

// link adds the readings an alert does not list yet.
func (s *Store) link(ctx context.Context, tx *gorm.DB, alertID string, readingIDs []string, at time.Time) error {
	if len(readingIDs) == 0 {
		return nil
	}
	var have []string
	if err := tx.WithContext(ctx).Model(&Reading{}).Where("alert_id = ?", alertID).Pluck("reading_id", &have).Error; err != nil {
		return fmt.Errorf("alert readings: %w", err)
	}
	known := make(map[string]bool, len(have))
	for _, id := range have {
		known[id] = true
	}
	var rows []Reading
	for _, id := range readingIDs {
		if !known[id] {
			known[id] = true
			rows = append(rows, Reading{AlertID: alertID, ReadingID: id, CreatedAt: at})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.WithContext(ctx).Create(&rows).Error; err != nil {
		return fmt.Errorf("link alert readings: %w", err)
	}
	return nil
}

// ByID returns an alert.
func (s *Store) ByID(ctx context.Context, id string) (Alert, error) {
	var a Alert
	if len(id) > 36 {
		return Alert{}, ErrNotFound
	}
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Alert{}, ErrNotFound
	}
	if err != nil {
		return Alert{}, fmt.Errorf("load alert: %w", err)
	}
	return s.openOne(a)
}

// CountCritical counts a patient's critical alerts triggered since a time.
func (s *Store) CountCritical(ctx context.Context, patientID string, since time.Time) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Alert{}).
		Where("patient_id = ? AND severity = ? AND last_triggered_at >= ?", patientID, SeverityCritical, since).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count critical alerts: %w", err)
	}
	return int(n), nil
}

// ReadingIDs lists the readings that caused an alert.
func (s *Store) ReadingIDs(ctx context.Context, alertID string) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&Reading{}).Where("alert_id = ?", alertID).Order("reading_id").Pluck("reading_id", &ids).Error
	return ids, err
}

// ListQuery filters alerts.
type ListQuery struct {
	PatientID string                  // one patient's alerts; or
	Scope     func(*gorm.DB) *gorm.DB // the staff member's patients (access.StaffPatients on "patients")
	Statuses  []string
	Severity  string
	Cursor    string // the last id of the previous page
	Limit     int
}

// List returns alerts newest first (ids are UUIDv7).
func (s *Store) List(ctx context.Context, q ListQuery) ([]Alert, error) {
	db := s.db.WithContext(ctx).Model(&Alert{})
	if q.Scope != nil {
		db = db.Joins("JOIN patients ON patients.id = alerts.patient_id").Scopes(q.Scope)
	}
	if q.PatientID != "" {
		db = db.Where("alerts.patient_id = ?", q.PatientID)
	}
	if len(q.Statuses) > 0 {
		db = db.Where("alerts.status IN ?", q.Statuses)
	}
	if q.Severity != "" {
		db = db.Where("alerts.severity = ?", q.Severity)
	}
	if q.Cursor != "" {
		db = db.Where("alerts.id < ?", q.Cursor)
	}
	var out []Alert
	if err := db.Select("alerts.*").Order("alerts.id DESC").Limit(q.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	if err := s.open(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Acknowledge marks an open alert acknowledged. It reports false when the
// alert was not open (already acknowledged or resolved).
func (s *Store) Acknowledge(ctx context.Context, id, staffID string, now time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Alert{}).Where("id = ? AND status = ?", id, StatusOpen).Updates(map[string]any{
		"status": StatusAcknowledged, "acknowledged_at": now, "acknowledged_by": staffID, "updated_at": now,
	})
	if res.Error != nil {
		return false, fmt.Errorf("acknowledge alert: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Resolve closes an unresolved alert; it frees its kind for a new alert.
func (s *Store) Resolve(ctx context.Context, id, staffID, action, note string, now time.Time) (bool, error) {
	sealed := false
	if s.sealer != nil && note != "" {
		var err error
		if note, err = s.sealer.Seal(note); err != nil {
			return false, fmt.Errorf("seal resolution note: %w", err)
		}
		sealed = true
	}
	res := s.db.WithContext(ctx).Model(&Alert{}).Where("id = ? AND status <> ?", id, StatusResolved).Updates(map[string]any{
		"status": StatusResolved, "open_key": nil, "resolved_at": now, "resolved_by": staffID,
		"action_taken": action, "resolution_note": note, "resolution_note_sealed": sealed, "updated_at": now,
	})
	if res.Error != nil {
		return false, fmt.Errorf("resolve alert: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Overrides returns a patient's threshold overrides.
func (s *Store) Overrides(ctx context.Context, patientID string) ([]Override, error) {
	var rows []Override
	err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).Order("threshold_key").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load threshold overrides: %w", err)
	}
	return rows, nil
}

// OverridesOf loads the per-patient overrides of several patients in one
// query, keyed by patient.
func (s *Store) OverridesOf(ctx context.Context, patientIDs []string) (map[string][]Override, error) {
	out := map[string][]Override{}
	if len(patientIDs) == 0 {
		return out, nil
	}
	var rows []Override
	err := s.db.WithContext(ctx).Where("patient_id IN ?", patientIDs).Order("patient_id, threshold_key").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load threshold overrides: %w", err)
	}
	for _, r := range rows {
		out[r.PatientID] = append(out[r.PatientID], r)
	}
	return out, nil
}

// ReplaceOverrides sets a patient's overrides to exactly o.
func (s *Store) ReplaceOverrides(ctx context.Context, patientID string, o Overrides, by string, now time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("patient_id = ?", patientID).Delete(&Override{}).Error; err != nil {
			return fmt.Errorf("clear threshold overrides: %w", err)
		}
		if len(o) == 0 {
			return nil
		}
		rows := make([]Override, 0, len(o))
		for k, v := range o {
			rows = append(rows, Override{PatientID: patientID, ThresholdKey: k, Value: v, UpdatedBy: by, UpdatedAt: now})
		}
		if err := tx.Create(&rows).Error; err != nil {
			return fmt.Errorf("save threshold overrides: %w", err)
		}
		return nil
	})
}
