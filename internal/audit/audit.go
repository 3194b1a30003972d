// Package audit keeps the append-only record of who read or changed which
// patient's data, when, from where, and with what result. The application
// only ever inserts into it; nothing here updates or deletes an event.
package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

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

	// Batching (StartBatching): Record queues the event and a flusher writes
	// the queue in one multi-row INSERT every interval, when it is full, before
	// every read, and on StopBatching (shutdown), so no event is lost on SIGTERM.
	mu      sync.Mutex
	flushMu sync.Mutex // one flush at a time: a reader's flush waits for one in flight
	queue   []Event
	max     int
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	onError func(n int, err error)
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
	s.mu.Lock()
	if s.stop != nil {
		s.queue = append(s.queue, e)
		full := len(s.queue) >= s.max
		s.mu.Unlock()
		if full {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		return nil
	}
	s.mu.Unlock()
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// StartBatching makes Record queue events and write them in batches of up
// to max rows, every interval. A failed batch is retried at the next flush
// (onError is told); StopBatching writes what is queued. Each request then
// pays no commit of its own for its audit event; the events of the last
// interval are at risk only if the process dies without shutting down.
func (s *Store) StartBatching(interval time.Duration, max int, onError func(n int, err error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	s.max, s.onError = max, onError
	s.kick, s.stop, s.stopped = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func(stop, stopped, kick chan struct{}) {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			case <-kick:
			}
			_ = s.Flush(context.Background())
		}
	}(s.stop, s.stopped, s.kick)
}

// StopBatching stops the flusher and writes every queued event; Record
// writes at once afterwards. It returns the error of the last write.
func (s *Store) StopBatching(ctx context.Context) error {
	s.mu.Lock()
	stop, stopped := s.stop, s.stopped
	s.stop = nil // new events are written at once from here on
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	close(stop)
	<-stopped
	return s.Flush(ctx)
}

// Flush writes the queued events now, in one multi-row INSERT per 500.
// On failure they stay queued for the next flush.
func (s *Store) Flush(ctx context.Context) error {
	// Held across the write, so a read that flushes first also waits for a
	// batch the ticker took a moment ago and has not committed yet.
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	batch := s.queue
	s.queue = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := s.db.WithContext(ctx).CreateInBatches(batch, 500).Error; err != nil {
		s.mu.Lock()
		s.queue = append(batch, s.queue...)
		s.mu.Unlock()
		if s.onError != nil {
			s.onError(len(batch), err)
		}
		return fmt.Errorf("flush %d audit events: %w", len(batch), err)
	}
	return nil
}

// ForPatient lists the newest events about a patient.
func (s *Store) ForPatient(ctx context.Context, patientID string, limit int) ([]Event, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
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
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
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

// SearchQuery selects events for the admin page's audit search. Every
// filter is optional; the page is bounded by Limit and a keyset cursor.
type SearchQuery struct {
	PatientID string
	ActorID   string
	Action    string // a prefix of the action, e.g. "GET /api/v1/patients/:patientID/observations"
	From, To  time.Time
	Cursor    string // the last id of the previous page
	Limit     int
	// Within restricts the search to the events the searcher may see
	// (access.AuditEvents over "audit_events"); required.
	Within func(*gorm.DB) *gorm.DB
}

// Search lists events matching q, newest first (ids are time-ordered UUIDv7).
func (s *Store) Search(ctx context.Context, q SearchQuery) ([]Event, error) {
	if q.Within == nil {
		return nil, errors.New("audit search without a scope")
	}
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx).Model(&Event{}).Scopes(q.Within)
	if q.PatientID != "" {
		db = db.Where("patient_id = ?", q.PatientID)
	}
	if q.ActorID != "" {
		db = db.Where("actor_id = ?", q.ActorID)
	}
	if q.Action != "" {
		// A prefix match without LIKE, so no input is ever a wildcard.
		db = db.Where("SUBSTR(action, 1, ?) = ?", utf8.RuneCountInString(q.Action), q.Action)
	}
	if !q.From.IsZero() {
		db = db.Where("at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		db = db.Where("at < ?", q.To.UTC())
	}
	if q.Cursor != "" {
		db = db.Where("id < ?", q.Cursor)
	}
	var events []Event
	if err := db.Order("id DESC").Limit(q.Limit).Find(&events).Error; err != nil {
		return nil, fmt.Errorf("search audit events: %w", err)
	}
	return events, nil
}

// Purge deletes events older than retention, in batches, and returns how
// many went. The database refuses the delete without a purge permit whose
// cutoff is at least 180 days old (migration 0009), so the permit is written,
// used and removed in the same transaction per batch.
func (s *Store) Purge(ctx context.Context, retention time.Duration, batch int) (int64, error) {
	before := s.now().UTC().Add(-retention)
	var total int64
	for {
		var n int64
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			permit := purgePermit{ID: database.NewID(), BeforeAt: before, CreatedAt: s.now().UTC()}
			if err := tx.Create(&permit).Error; err != nil {
				return fmt.Errorf("purge permit: %w", err)
			}
			var ids []string
			if err := tx.Model(&Event{}).Where("at < ?", before).Order("at").Limit(batch).Pluck("id", &ids).Error; err != nil {
				return err
			}
			if len(ids) > 0 {
				res := tx.Where("id IN ?", ids).Delete(&Event{})
				if res.Error != nil {
					return res.Error
				}
				n = res.RowsAffected
			}
			return tx.Delete(&permit).Error
		})
		if err != nil {
			return total, fmt.Errorf("purge audit events before %s: %w", before.Format(time.RFC3339), err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

type purgePermit struct {
	ID        string
	BeforeAt  time.Time
	CreatedAt time.Time
}

func (purgePermit) TableName() string { return "audit_purge_permits" }
