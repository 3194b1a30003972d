package appointment

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

// Store reads and writes appointments and their reminders.
type Store struct {
	db     *gorm.DB
	sealer Sealer
}

// Sealer encrypts the reasons patients, family and staff type at rest (fieldcrypt).
type Sealer interface {
	fieldcrypt.Opener
	Seal(plaintext string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Sealed returns a store that seals the cancel reasons and reschedule notes
// it writes and opens the sealed ones it reads; text written in the clear
// (before migration 0015, or by a store without a sealer) is read as it is.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, sealer: sealer} }

// in returns the store bound to tx, sealing as s does.
func (s *Store) in(tx *gorm.DB) *Store { return &Store{db: tx, sealer: s.sealer} }

// sealedText are the free-text columns, each with the flag that says it is
// sealed: a flag each, as they are written at different times.
var sealedText = []database.Sealed{
	{Table: "appointments", Flag: "cancel_reason_sealed", Columns: []string{"cancel_reason"}},
	{Table: "appointments", Flag: "reschedule_note_sealed", Columns: []string{"reschedule_note"}},
}

// sealFields seals the free text among an update's fields and sets its flag.
func (s *Store) sealFields(fields map[string]any) error {
	for _, c := range sealedText {
		v, ok := fields[c.Columns[0]].(string)
		if !ok {
			continue
		}
		var err error
		if fields[c.Columns[0]], fields[c.Flag], err = fieldcrypt.SealValue(s.sealer, v); err != nil {
			return fmt.Errorf("seal appointment %s: %w", c.Columns[0], err)
		}
	}
	return nil
}

// opened returns as with their free text opened.
func (s *Store) opened(as []Appointment, err error) ([]Appointment, error) {
	if err != nil {
		return nil, err
	}
	for i := range as {
		a := &as[i]
		if err := fieldcrypt.OpenFields(s.sealer, &a.CancelReasonSealed, &a.CancelReason); err != nil {
			return nil, fmt.Errorf("open cancel reason of appointment %s: %w", a.ID, err)
		}
		if err := fieldcrypt.OpenFields(s.sealer, &a.RescheduleNoteSealed, &a.RescheduleNote); err != nil {
			return nil, fmt.Errorf("open reschedule note of appointment %s: %w", a.ID, err)
		}
	}
	return as, nil
}

// Reseal seals up to batch cancel reasons and as many reschedule notes
// written in the clear and returns how many it sealed (see
// database.Reseal); 0 means done.
func (s *Store) Reseal(ctx context.Context, batch int) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("appointment: reseal needs a sealer")
	}
	total := 0
	for _, c := range sealedText {
		n, err := database.Reseal(ctx, s.db, c, s.sealer.Seal, batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Create inserts a.
func (s *Store) Create(ctx context.Context, a *Appointment) error {
	if err := s.db.WithContext(ctx).Create(a).Error; err != nil {
		return fmt.Errorf("create appointment: %w", err)
	}
	return nil
}

// UpdateIf changes fields of an appointment still in one of the statuses;
// false when it was not (a concurrent change won).
func (s *Store) UpdateIf(ctx context.Context, id string, statuses []string, fields map[string]any) (bool, error) {
	if err := s.sealFields(fields); err != nil {
		return false, err
	}
	res := s.db.WithContext(ctx).Model(&Appointment{}).Where("id = ? AND status IN ?", id, statuses).Updates(fields)
	if res.Error != nil {
		return false, fmt.Errorf("update appointment %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ByID returns an appointment of the patient.
func (s *Store) ByID(ctx context.Context, patientID, id string) (Appointment, error) {
	var a Appointment
	err := s.db.WithContext(ctx).Where("id = ? AND patient_id = ?", id, patientID).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Appointment{}, ErrNotFound
	}
	if err != nil {
		return Appointment{}, fmt.Errorf("load appointment: %w", err)
	}
	as, err := s.opened([]Appointment{a}, nil)
	if err != nil {
		return Appointment{}, err
	}
	return as[0], nil
}

// Between returns the patient's appointments that end after from and start before to.
func (s *Store) Between(ctx context.Context, patientID string, from, to time.Time) ([]Appointment, error) {
	var out []Appointment
	err := s.db.WithContext(ctx).Where("patient_id = ? AND ends_at > ? AND starts_at < ?", patientID, from, to).
		Order("starts_at").Find(&out).Error
	return s.opened(out, err)
}

// PatientSeesSQL is Appointment.PatientSees in SQL: proposals are the CM's
// queue, not the patient's list, until accepted.
const PatientSeesSQL = "(proposal_key IS NULL OR accepted_at IS NOT NULL)"

// Upcoming returns the patient's appointments not yet ended, soonest first.
func (s *Store) Upcoming(ctx context.Context, patientID string, now time.Time, limit int) ([]Appointment, error) {
	var out []Appointment
	err := s.db.WithContext(ctx).Where("patient_id = ? AND ends_at > ?", patientID, now).Where(PatientSeesSQL).
		Order("starts_at").Order("id").Limit(limit).Find(&out).Error
	return s.opened(out, err)
}

// Past returns the patient's ended appointments, newest first.
func (s *Store) Past(ctx context.Context, patientID string, now time.Time, limit int) ([]Appointment, error) {
	var out []Appointment
	err := s.db.WithContext(ctx).Where("patient_id = ? AND ends_at <= ?", patientID, now).Where(PatientSeesSQL).
		Order("starts_at DESC").Order("id DESC").Limit(limit).Find(&out).Error
	return s.opened(out, err)
}

// Requests returns the reschedule requests of the staff member's patients, oldest first.
func (s *Store) Requests(ctx context.Context, a auth.Actor, limit int) ([]Appointment, error) {
	return s.queue(ctx, a, StatusRescheduleRequested, "appointments.requested_at", limit)
}

// Proposals returns the pathway proposals of the staff member's patients,
// soonest suggested time first.
func (s *Store) Proposals(ctx context.Context, a auth.Actor, limit int) ([]Appointment, error) {
	return s.queue(ctx, a, StatusProposed, "appointments.starts_at", limit)
}

// ProposalsOf returns the patient's proposals waiting for the CM, soonest first.
func (s *Store) ProposalsOf(ctx context.Context, patientID string, limit int) ([]Appointment, error) {
	var out []Appointment
	err := s.db.WithContext(ctx).Where("patient_id = ? AND status = ?", patientID, StatusProposed).
		Order("starts_at").Order("id").Limit(limit).Find(&out).Error
	return s.opened(out, err)
}

// queue lists the appointments in status of the staff member's patients;
// order is a column name from the callers above, never input.
func (s *Store) queue(ctx context.Context, a auth.Actor, status, order string, limit int) ([]Appointment, error) {
	var out []Appointment
	err := s.db.WithContext(ctx).Table("appointments").Select("appointments.*").
		Joins("JOIN patients ON patients.id = appointments.patient_id").
		Scopes(access.StaffPatients(a, "patients")).
		Where("appointments.status = ?", status).
		Order(order).Order("appointments.id").Limit(limit).Find(&out).Error
	return s.opened(out, err)
}

// CreateProposal inserts a proposal unless one with its key exists; false
// when it did (a repeated event, or another worker's catch-up).
func (s *Store) CreateProposal(ctx context.Context, a *Appointment) (bool, error) {
	db := s.db.WithContext(ctx)
	var n int64
	if err := db.Model(&Appointment{}).Where("proposal_key = ?", a.ProposalKey).Count(&n).Error; err != nil {
		return false, fmt.Errorf("find appointment proposal: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if err := db.Create(a).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return false, nil
		}
		return false, fmt.Errorf("create appointment proposal: %w", err)
	}
	return true, nil
}

// Day returns the active appointments of the staff member's patients
// starting in [from, to), soonest first (the desk's "today").
func (s *Store) Day(ctx context.Context, a auth.Actor, from, to time.Time, limit int) ([]Appointment, error) {
	var out []Appointment
	err := s.db.WithContext(ctx).Table("appointments").Select("appointments.*").
		Joins("JOIN patients ON patients.id = appointments.patient_id").
		Scopes(access.StaffPatients(a, "patients")).
		Where("appointments.status IN ? AND appointments.starts_at >= ? AND appointments.starts_at < ?",
			[]string{StatusScheduled, StatusConfirmed, StatusRescheduleRequested}, from.UTC(), to.UTC()).
		Order("appointments.starts_at").Order("appointments.id").Limit(limit).Find(&out).Error
	return s.opened(out, err)
}

// Remindable returns active appointments starting in (from, to].
func (s *Store) Remindable(ctx context.Context, from, to time.Time) ([]Appointment, error) {
	var out []Appointment
	err := s.db.WithContext(ctx).Where("status IN ? AND starts_at > ? AND starts_at <= ?",
		[]string{StatusScheduled, StatusConfirmed, StatusRescheduleRequested}, from, to).Order("starts_at").Find(&out).Error
	return s.opened(out, err)
}

// WriteReminder records the reminder and its notify.request event in one
// transaction; false when this slot of this start was reminded already.
func (s *Store) WriteReminder(ctx context.Context, r *Reminder, payload any) (bool, error) {
	written := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Reminder{}).Where("appointment_id = ? AND slot = ? AND starts_at = ?", r.AppointmentID, r.Slot, r.StartsAt).
			Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := tx.Create(r).Error; err != nil {
			return err
		}
		written = true
		return outbox.Add(tx, TopicNotify, queue.Default, payload)
	})
	if err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) { // a concurrent run wrote it
			return false, nil
		}
		return false, fmt.Errorf("write reminder: %w", err)
	}
	return written, nil
}
