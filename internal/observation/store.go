package observation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
)

// Store reads and writes readings.
type Store struct {
	db     *gorm.DB
	sealer Sealer
}

// Sealer encrypts a reading's free-text note at rest (fieldcrypt).
type Sealer interface {
	fieldcrypt.Opener
	Seal(plaintext string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Sealed returns a store that seals the notes it writes and opens the sealed
// notes it reads; a note written in the clear (before migration 0013, or by
// a store without a sealer) is read as it is.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, sealer: sealer} }

// OpenNotes opens the sealed notes of rs in place (for readers of
// observation rows outside this store, such as the data export).
func OpenNotes(opener fieldcrypt.Opener, rs []Reading) error {
	for i := range rs {
		if err := fieldcrypt.OpenFields(opener, &rs[i].NoteSealed, &rs[i].Note); err != nil {
			return fmt.Errorf("open note of reading %s: %w", rs[i].ID, err)
		}
	}
	return nil
}

func (s *Store) opened(rs []Reading, err error) ([]Reading, error) {
	if err != nil {
		return nil, err
	}
	if err := OpenNotes(s.sealer, rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// Reseal seals up to batch notes written in the clear and returns how many
// it sealed (see database.Reseal).
func (s *Store) Reseal(ctx context.Context, batch int) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("observation: reseal needs a sealer")
	}
	return database.Reseal(ctx, s.db, database.Sealed{Table: "observations", Flag: "note_sealed",
		Columns: []string{"note"}}, s.sealer.Seal, batch)
}

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

// Create inserts r inside tx, its note sealed; r keeps the plain note.
func (s *Store) Create(ctx context.Context, tx *gorm.DB, r *Reading) error {
	row := *r
	if s.sealer != nil && row.Note != "" {
		sealed, err := s.sealer.Seal(row.Note)
		if err != nil {
			return fmt.Errorf("seal reading note: %w", err)
		}
		row.Note, row.NoteSealed = sealed, true
	}
	if err := tx.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("create reading: %w", err)
	}
	r.CreatedAt = row.CreatedAt
	return nil
}

// Around returns the patient's readings of one type measured within window
// of t, oldest first (for the alert rules). db may be a transaction.
func (s *Store) Around(ctx context.Context, db *gorm.DB, patientID, typ string, t time.Time, window time.Duration) ([]Reading, error) {
	out, err := scanReadings(db.WithContext(ctx).Where("patient_id = ? AND type = ? AND measured_at >= ? AND measured_at <= ?",
		patientID, typ, t.Add(-window), t.Add(window)).Order("measured_at, id").Limit(1000))
	if err != nil {
		return nil, fmt.Errorf("readings around %s: %w", t.Format(time.RFC3339), err)
	}
	return s.opened(out, nil)
}

// ByIDs returns the readings with the given ids, oldest first.
func (s *Store) ByIDs(ctx context.Context, ids []string) ([]Reading, error) {
	if len(ids) == 0 {
		return []Reading{}, nil
	}
	out, err := scanReadings(s.db.WithContext(ctx).Where("id IN ?", ids).Order("measured_at, id"))
	return s.opened(out, err)
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
	one, err := s.opened([]Reading{r}, nil)
	if err != nil {
		return Reading{}, false, err
	}
	return one[0], true, nil
}

// LatestOfEach returns the newest reading of each of types (those the
// patient has) in one statement: the newest time per type comes from
// ix_observations_series (a loose index scan), joined back to its rows. (A
// UNION of seven ORDER BY … LIMIT 1 subqueries took MariaDB 35 ms: it
// materialises each derived table.) Two readings of a type at the same
// instant both match; the one with the highest id is kept, as Latest does.
func (s *Store) LatestOfEach(ctx context.Context, patientID string, types []string) ([]Reading, error) {
	var rows []Reading
	if len(types) == 0 {
		return rows, nil
	}
	newest := s.db.Table("observations").Select("type, MAX(measured_at) AS measured_at").
		Where("patient_id = ? AND type IN ?", patientID, types).Group("type")
	err := s.db.WithContext(ctx).Table("observations AS o").Select("o.*").
		Joins("JOIN (?) AS n ON o.type = n.type AND o.measured_at = n.measured_at", newest).
		Where("o.patient_id = ?", patientID).Order("o.type, o.id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("latest readings: %w", err)
	}
	out := rows[:0]
	for i, r := range rows {
		if i == 0 || r.Type != rows[i-1].Type {
			out = append(out, r)
		}
	}
	return s.opened(out, nil)
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
	out, err := scanReadings(db.Order("measured_at DESC, id DESC").Limit(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("list readings: %w", err)
	}
	return s.opened(out, nil)
}

// readingColumns are Reading's columns in scanReadings' order.
const readingColumns = "id, patient_id, type, measured_at, local_day, code, value, value2, value3, unit, orig_value, orig_unit, " +
	"context, location, symptoms, note, note_sealed, source, device, reported_by, on_behalf_of, client_id, received_at, created_at"

// scanReadings runs a query of readings and scans its rows field by field:
// gorm's reflective scan was most of the CPU of a CM's list of twenty and
// of a report's history window.
func scanReadings(db *gorm.DB) ([]Reading, error) {
	return database.ScanAll(db.Model(&Reading{}), readingColumns, func(r *Reading) []any {
		return []any{&r.ID, &r.PatientID, &r.Type, &r.MeasuredAt, &r.LocalDay, &r.Code, &r.Value, &r.Value2, &r.Value3,
			&r.Unit, &r.OrigValue, &r.OrigUnit, &r.Context, &r.Location, &r.Symptoms, &r.Note, &r.NoteSealed, &r.Source,
			&r.Device, &r.ReportedBy, &r.OnBehalfOf, &r.ClientID, &r.ReceivedAt, &r.CreatedAt}
	})
}

// DayRow is one local day's (and context's) aggregate of each component.
type DayRow struct {
	LocalDay string
	Context  string
	N        [3]int64
	Sum      [3]float64
	Min      [3]float64
	Max      [3]float64
}

// Daily aggregates a patient's readings of one type from the local day
// fromDay (YYYY-MM-DD) on, by local day and context. local_day was computed
// in the hospital's zone at insert, so the grouping is the same SQL on
// SQLite and MySQL, and the scan is one range of ix_observations_days,
// which covers every column read. Rows are scanned by hand: a year is
// hundreds of rows of fourteen columns, and reflection would dominate.
func (s *Store) Daily(ctx context.Context, patientID, typ, fromDay string) ([]DayRow, error) {
	rows, err := s.db.WithContext(ctx).Model(&Reading{}).
		Select(`local_day, context,
			COUNT(value), SUM(value), MIN(value), MAX(value),
			COUNT(value2), SUM(value2), MIN(value2), MAX(value2),
			COUNT(value3), SUM(value3), MIN(value3), MAX(value3)`).
		Where("patient_id = ? AND type = ? AND local_day >= ?", patientID, typ, fromDay).
		Group("local_day, context").Order("local_day, context").Rows()
	if err != nil {
		return nil, fmt.Errorf("daily aggregates: %w", err)
	}
	defer rows.Close()
	var out []DayRow
	for rows.Next() {
		var r DayRow
		var sum, lo, hi [3]sql.NullFloat64
		if err := rows.Scan(&r.LocalDay, &r.Context,
			&r.N[0], &sum[0], &lo[0], &hi[0], &r.N[1], &sum[1], &lo[1], &hi[1], &r.N[2], &sum[2], &lo[2], &hi[2]); err != nil {
			return nil, fmt.Errorf("daily aggregates: %w", err)
		}
		for i := range 3 {
			r.Sum[i], r.Min[i], r.Max[i] = sum[i].Float64, lo[i].Float64, hi[i].Float64
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily aggregates: %w", err)
	}
	return out, nil
}

// LastMeasuredOf returns, for several patients and types at once, when each
// patient last measured each type (absent when never): one grouped query
// answered from ix_observations_series (patient_id, type, measured_at).
func (s *Store) LastMeasuredOf(ctx context.Context, patientIDs, types []string) (map[string]map[string]time.Time, error) {
	out := map[string]map[string]time.Time{}
	if len(patientIDs) == 0 || len(types) == 0 {
		return out, nil
	}
	rows, err := s.db.WithContext(ctx).Model(&Reading{}).Select("patient_id, type, MAX(measured_at)").
		Where("patient_id IN ? AND type IN ?", patientIDs, types).Group("patient_id, type").Rows()
	if err != nil {
		return nil, fmt.Errorf("last readings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var patientID, typ string
		var last aggTime
		if err := rows.Scan(&patientID, &typ, &last); err != nil {
			return nil, fmt.Errorf("last readings: %w", err)
		}
		m := out[patientID]
		if m == nil {
			m = map[string]time.Time{}
			out[patientID] = m
		}
		m[typ] = last.t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last readings: %w", err)
	}
	return out, nil
}

// aggTime scans an aggregate of a time column: MySQL returns a time, SQLite
// (no declared type on an aggregate) the text it stored.
type aggTime struct{ t time.Time }

func (a *aggTime) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		a.t = x
		return nil
	case []byte:
		return a.parse(string(x))
	case string:
		return a.parse(x)
	}
	return fmt.Errorf("scan %T as a time", v)
}

func (a *aggTime) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			a.t = t
			return nil
		}
	}
	return fmt.Errorf("parse time %q", s)
}

// LastMeasured returns when the patient last measured a type.
func (s *Store) LastMeasured(ctx context.Context, patientID, typ string) (*time.Time, error) {
	r, ok, err := s.Latest(ctx, patientID, typ)
	if err != nil || !ok {
		return nil, err
	}
	return &r.MeasuredAt, nil
}
