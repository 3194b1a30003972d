// Package audit keeps the append-only record of who read or changed which
// patient's data, when, from where, and with what result. The application
// only ever inserts into it; nothing here updates or deletes an event.
package audit

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/database"
)

// Results of an audited action.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
	ResultError  = "error"
)

// Event is one audited action.
type Event struct {
	ID         string
	At         time.Time
	ActorKind  string
	ActorID    string
	ActorRole  string
	IP         string
	UserAgent  string
	RequestID  string
	Action     string // e.g. "GET /api/v1/patients/:patientID"
	PatientID  *string
	ObjectType string
	ObjectID   string
	Result     string
	CreatedAt  time.Time
}

func (Event) TableName() string { return "audit_events" }

// Store writes and searches audit events.
type Store struct {
	db  *gorm.DB
	now func() time.Time
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB, now func() time.Time) *Store { return &Store{db: db, now: now} }

// Record appends e. Audit must not be lost silently: an error is returned for
// the caller to log; the caller decides whether the request still succeeds.
func (s *Store) Record(ctx context.Context, e Event) error {
	now := s.now().UTC()
	if e.ID == "" {
		e.ID = database.NewID()
	}
	if e.At.IsZero() {
		e.At = now
	}
	e.CreatedAt = now
	if len(e.UserAgent) > 255 {
		e.UserAgent = e.UserAgent[:255]
	}
	if len(e.Action) > 255 { // a route template; never longer in practice, but an event must not be lost for it
		e.Action = e.Action[:255]
	}
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// ForPatient lists the newest events about a patient.
func (s *Store) ForPatient(ctx context.Context, patientID string, limit int) ([]Event, error) {
	var events []Event
	err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).
		Order("created_at DESC").Order("id DESC").Limit(limit).Find(&events).Error
	return events, err
}

// AccessQuery selects the events a patient's access log shows.
type AccessQuery struct {
	PatientID     string
	ExcludeUserID string // the patient's own account: their own actions are not "access"
	Cursor        string // the last id of the previous page
	Limit         int
}

// Access lists successful actions on a patient's data by others (staff and
// family), newest first.
func (s *Store) Access(ctx context.Context, q AccessQuery) ([]Event, error) {
	db := s.db.WithContext(ctx).Where("patient_id = ? AND result = ?", q.PatientID, ResultOK)
	if q.ExcludeUserID != "" {
		db = db.Where("NOT (actor_kind = ? AND actor_id = ?)", "user", q.ExcludeUserID)
	}
	if q.Cursor != "" {
		db = db.Where("id < ?", q.Cursor)
	}
	var events []Event
	err := db.Order("id DESC").Limit(q.Limit).Find(&events).Error
	return events, err
}
