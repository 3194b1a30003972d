package appointment

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/idempotency"
)

// Service holds the rules of appointments.
type Service struct {
	store  *Store
	keys   *idempotency.Store // nil: Idempotency-Key ignored
	stages Proposals          // nil: no pathway proposals
	loc    *time.Location
	now    func() time.Time
	host   string // the calendar UID domain
}

// NewService builds the service; host names the UIDs of exported events.
func NewService(store *Store, loc *time.Location, now func() time.Time, host string) *Service {
	if host == "" {
		host = "carepath.local"
	}
	return &Service{store: store, loc: loc, now: now, host: host}
}

// Input is what the CM writes about an appointment.
type Input struct {
	Kind         string
	Title        string
	StartsAt     time.Time
	EndsAt       time.Time
	Department   string
	Clinician    string
	Location     string
	Directions   string
	Preparation  string
	SourceTaskID *string
}

func (in Input) check(now time.Time) error {
	if _, ok := Kinds[in.Kind]; !ok {
		return ErrBadKind
	}
	return CheckTimes(in.StartsAt, in.EndsAt, now)
}

// Create books an appointment for the patient and returns the patient's
// other appointments it overlaps (a warning, not a refusal).
func (s *Service) Create(ctx context.Context, actor auth.Actor, patientID string, in Input) (Appointment, []Overlap, error) {
	now := s.now().UTC()
	if err := in.check(now); err != nil {
		return Appointment{}, nil, err
	}
	a := Appointment{ID: database.NewID(), PatientID: patientID, HospitalID: actor.HospitalID, Status: StatusScheduled,
		CreatedByID: actor.ID, CreatedAt: now, UpdatedAt: now}
	apply(&a, in)
	overlaps, err := s.overlaps(ctx, a)
	if err != nil {
		return Appointment{}, nil, err
	}
	if err := s.store.Create(ctx, &a); err != nil {
		return Appointment{}, nil, err
	}
	return a, overlaps, nil
}

func apply(a *Appointment, in Input) {
	a.Kind, a.Title = in.Kind, strings.TrimSpace(in.Title)
	a.StartsAt, a.EndsAt = in.StartsAt.UTC(), in.EndsAt.UTC()
	a.Department, a.Clinician, a.Location = in.Department, in.Clinician, in.Location
	a.Directions, a.Preparation, a.SourceTaskID = in.Directions, in.Preparation, in.SourceTaskID
}

func (s *Service) overlaps(ctx context.Context, a Appointment) ([]Overlap, error) {
	others, err := s.store.Between(ctx, a.PatientID, a.StartsAt, a.EndsAt)
	if err != nil {
		return nil, fmt.Errorf("find overlapping appointments: %w", err)
	}
	return Overlaps(others, a.ID, a.StartsAt, a.EndsAt), nil
}

// Update is the CM's edit. A new time answers a reschedule request: the
// appointment is scheduled again and the patient confirms it afresh.
func (s *Service) Update(ctx context.Context, patientID, id string, in Input) (Appointment, []Overlap, error) {
	a, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Appointment{}, nil, err
	}
	if a.Status == StatusProposed {
		return Appointment{}, nil, ErrStillProposed
	}
	if !Active(a.Status) {
		return Appointment{}, nil, ErrClosed
	}
	now := s.now().UTC()
	if _, ok := Kinds[in.Kind]; !ok {
		return Appointment{}, nil, ErrBadKind
	}
	moved := !in.StartsAt.Equal(a.StartsAt) || !in.EndsAt.Equal(a.EndsAt)
	if moved {
		if err := CheckTimes(in.StartsAt, in.EndsAt, now); err != nil {
			return Appointment{}, nil, err
		}
	} else if !in.EndsAt.After(in.StartsAt) {
		return Appointment{}, nil, ErrEndBeforeStart
	}
	apply(&a, in)
	if moved {
		a.Status, a.ConfirmedAt, a.RequestedAt, a.PreferredTimes, a.RescheduleNote = StatusScheduled, nil, nil, "", ""
	}
	a.UpdatedAt = now
	overlaps, err := s.overlaps(ctx, a)
	if err != nil {
		return Appointment{}, nil, err
	}
	ok, err := s.store.UpdateIf(ctx, a.ID, []string{StatusScheduled, StatusConfirmed, StatusRescheduleRequested}, map[string]any{
		"kind": a.Kind, "title": a.Title, "starts_at": a.StartsAt, "ends_at": a.EndsAt, "department": a.Department,
		"clinician": a.Clinician, "location": a.Location, "directions": a.Directions, "preparation": a.Preparation,
		"source_task_id": a.SourceTaskID, "status": a.Status, "confirmed_at": a.ConfirmedAt, "requested_at": a.RequestedAt,
		"preferred_times": a.PreferredTimes, "reschedule_note": a.RescheduleNote, "updated_at": a.UpdatedAt,
	})
	if err != nil {
		return Appointment{}, nil, err
	}
	if !ok {
		return Appointment{}, nil, ErrClosed
	}
	return a, overlaps, nil
}

// Close is the CM's record of how it ended: completed, no_show (both once it
// has started) or cancelled (with a reason).
func (s *Service) Close(ctx context.Context, actor auth.Actor, patientID, id, status, reason string) (Appointment, error) {
	a, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Appointment{}, err
	}
	if a.Status == StatusProposed {
		return Appointment{}, ErrStillProposed
	}
	now := s.now().UTC()
	fields := map[string]any{"status": status, "updated_at": now, "responded_by_kind": string(actor.Kind), "responded_by_id": actor.ID}
	switch status {
	case StatusCompleted, StatusNoShow:
		if now.Before(a.StartsAt) {
			return Appointment{}, ErrOutcomeTooEarly
		}
	case StatusCancelled:
		reason = strings.TrimSpace(reason)
		if reason == "" {
			return Appointment{}, ErrReasonRequired
		}
		fields["cancel_reason"], fields["cancelled_at"] = reason, now
	default:
		return Appointment{}, ErrBadStatus
	}
	return s.transition(ctx, a, []string{StatusScheduled, StatusConfirmed, StatusRescheduleRequested}, fields, ErrClosed)
}

func (s *Service) transition(ctx context.Context, a Appointment, from []string, fields map[string]any, conflict error) (Appointment, error) {
	ok, err := s.store.UpdateIf(ctx, a.ID, from, fields)
	if err != nil {
		return Appointment{}, err
	}
	if !ok {
		return Appointment{}, conflict
	}
	return s.store.ByID(ctx, a.PatientID, a.ID)
}

// Confirm is the patient's (or family's) "I will come".
func (s *Service) Confirm(ctx context.Context, actor auth.Actor, patientID, id string) (Appointment, error) {
	a, err := s.patientsOwn(ctx, patientID, id)
	if err != nil {
		return Appointment{}, err
	}
	if a.Status == StatusConfirmed {
		return a, nil // a retry on a weak network
	}
	if a.Status != StatusScheduled || !a.StartsAt.After(s.now()) {
		return Appointment{}, ErrNotRespondable
	}
	now := s.now().UTC()
	return s.transition(ctx, a, []string{StatusScheduled}, map[string]any{"status": StatusConfirmed, "confirmed_at": now,
		"updated_at": now, "responded_by_kind": string(actor.Kind), "responded_by_id": actor.ID}, ErrNotRespondable)
}

// Cancel is the patient's (or family's) cancellation, which needs a reason.
func (s *Service) Cancel(ctx context.Context, actor auth.Actor, patientID, id, reason string) (Appointment, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Appointment{}, ErrReasonRequired
	}
	a, err := s.patientsOwn(ctx, patientID, id)
	if err != nil {
		return Appointment{}, err
	}
	if !Active(a.Status) || !a.StartsAt.After(s.now()) {
		return Appointment{}, ErrNotRespondable
	}
	now := s.now().UTC()
	return s.transition(ctx, a, []string{StatusScheduled, StatusConfirmed, StatusRescheduleRequested}, map[string]any{
		"status": StatusCancelled, "cancel_reason": reason, "cancelled_at": now, "updated_at": now,
		"responded_by_kind": string(actor.Kind), "responded_by_id": actor.ID}, ErrNotRespondable)
}

// RequestReschedule asks the CM for another time: 1–3 preferred future
// times and an optional note. It lands in the CM's request queue.
func (s *Service) RequestReschedule(ctx context.Context, actor auth.Actor, patientID, id string, preferred []time.Time, note string) (Appointment, error) {
	now := s.now().UTC()
	if len(preferred) == 0 || len(preferred) > 3 {
		return Appointment{}, ErrPreferredTimes
	}
	for _, p := range preferred {
		if !p.After(now) {
			return Appointment{}, ErrPreferredTimes
		}
	}
	a, err := s.patientsOwn(ctx, patientID, id)
	if err != nil {
		return Appointment{}, err
	}
	if a.Status != StatusScheduled && a.Status != StatusConfirmed || !a.StartsAt.After(now) {
		return Appointment{}, ErrNotRespondable
	}
	utc := make([]time.Time, len(preferred))
	for i, p := range preferred {
		utc[i] = p.UTC()
	}
	b, _ := json.Marshal(utc)
	return s.transition(ctx, a, []string{StatusScheduled, StatusConfirmed}, map[string]any{
		"status": StatusRescheduleRequested, "preferred_times": string(b), "reschedule_note": strings.TrimSpace(note),
		"requested_at": now, "updated_at": now, "confirmed_at": nil,
		"responded_by_kind": string(actor.Kind), "responded_by_id": actor.ID}, ErrNotRespondable)
}

// List returns the patient's upcoming (soonest first) or past (newest first) appointments.
func (s *Service) List(ctx context.Context, patientID string, past bool, limit int) ([]Appointment, error) {
	if past {
		return s.store.Past(ctx, patientID, s.now().UTC(), limit)
	}
	return s.store.Upcoming(ctx, patientID, s.now().UTC(), limit)
}

// Get returns one appointment of the patient, proposals included (the
// staff's view; see PatientsOwn).
func (s *Service) Get(ctx context.Context, patientID, id string) (Appointment, error) {
	return s.store.ByID(ctx, patientID, id)
}

// PatientsOwn returns an appointment as the patient or family may see it.
func (s *Service) PatientsOwn(ctx context.Context, patientID, id string) (Appointment, error) {
	return s.patientsOwn(ctx, patientID, id)
}

// patientsOwn loads an appointment the patient (or family) may see: a
// proposal the CM has not accepted is not there for them (404).
func (s *Service) patientsOwn(ctx context.Context, patientID, id string) (Appointment, error) {
	a, err := s.store.ByID(ctx, patientID, id)
	if err == nil && !a.PatientSees() {
		return Appointment{}, ErrNotFound
	}
	return a, err
}

// Requests is the CM's queue of reschedule requests from their patients.
func (s *Service) Requests(ctx context.Context, actor auth.Actor, limit int) ([]Appointment, error) {
	return s.store.Requests(ctx, actor, limit)
}

// Day lists the active appointments of the staff member's patients that
// start in [from, to).
func (s *Service) Day(ctx context.Context, actor auth.Actor, from, to time.Time) ([]Appointment, error) {
	return s.store.Day(ctx, actor, from, to, 500)
}

// DeclineReschedule is the CM's "the time stays": the request is cleared and
// the appointment is scheduled again at its time, for the patient to confirm.
// (Accepting is an Update to one of the preferred times.)
func (s *Service) DeclineReschedule(ctx context.Context, actor auth.Actor, patientID, id string) (Appointment, error) {
	a, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Appointment{}, err
	}
	if a.Status != StatusRescheduleRequested {
		return Appointment{}, ErrNotRespondable
	}
	now := s.now().UTC()
	return s.transition(ctx, a, []string{StatusRescheduleRequested}, map[string]any{
		"status": StatusScheduled, "preferred_times": "", "requested_at": nil, "updated_at": now,
		"responded_by_kind": string(actor.Kind), "responded_by_id": actor.ID}, ErrNotRespondable)
}

// Calendar exports the patient's upcoming active appointments.
func (s *Service) Calendar(ctx context.Context, patientID string) ([]byte, error) {
	list, err := s.store.Upcoming(ctx, patientID, s.now().UTC(), 200)
	if err != nil {
		return nil, err
	}
	active := list[:0]
	for _, a := range list {
		if Active(a.Status) {
			active = append(active, a)
		}
	}
	return Calendar(active, s.now(), s.host), nil
}

// NotifyRequest is the payload of a notify.request event, in the shape the
// notification pipeline decodes (notify.Request; see the package doc). It is
// declared here so that appointments need not import the pipeline.
type NotifyRequest struct {
	Kind      string            `json:"kind"`
	PatientID string            `json:"patient_id"`
	DedupeKey string            `json:"dedupe_key"`
	At        time.Time         `json:"at"`         // when the appointment starts (the card's time)
	NotBefore time.Time         `json:"not_before"` // the slot's time
	Data      map[string]string `json:"data"`
}

// RemindDue writes every reminder now calls for, once per appointment, slot
// and start time, and returns how many it wrote.
func (s *Service) RemindDue(ctx context.Context) (int, error) {
	now := s.now().UTC()
	list, err := s.store.Remindable(ctx, now, now.Add(lookahead+24*time.Hour))
	if err != nil {
		return 0, fmt.Errorf("find appointments to remind: %w", err)
	}
	n := 0
	for _, a := range list {
		for _, r := range DueReminders(a, now, s.loc) {
			payload := NotifyRequest{Kind: "appointment_reminder", PatientID: a.PatientID, At: a.StartsAt.UTC(),
				DedupeKey: DedupeKey(a.ID, r.Slot, a.StartsAt), NotBefore: r.SendAt,
				Data: map[string]string{"appointment_id": a.ID, "slot": r.Slot, "kind": a.Kind,
					"starts_at": a.StartsAt.UTC().Format(time.RFC3339), "department": a.Department, "location": a.Location}}
			ok, err := s.store.WriteReminder(ctx, &Reminder{ID: database.NewID(), AppointmentID: a.ID, Slot: r.Slot,
				StartsAt: a.StartsAt, SendAt: r.SendAt, CreatedAt: now}, payload)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
	}
	return n, nil
}
