package questionnaire

import (
	"context"
	"encoding/json"
	"time"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/idempotency"
)

// Service holds the rules of questionnaires.
type Service struct {
	store *Store
	keys  *idempotency.Store // nil: Idempotency-Key ignored

	schedules Schedules      // nil: no scheduled sending
	loc       *time.Location // the hospital's zone, for due days
	lib       *Library
	now       func() time.Time
}

// Pending lists the pending assignments given since t, for reminders.
func (s *Service) Pending(ctx context.Context, since time.Time) ([]Assignment, error) {
	return s.store.PendingSince(ctx, since)
}

// NewService builds the service.
func NewService(store *Store, lib *Library, now func() time.Time) *Service {
	return &Service{store: store, lib: lib, now: now}
}

// Library returns the loaded questionnaires.
func (s *Service) Library() *Library { return s.lib }

// Assign gives the patient a questionnaire; followupID links it to the
// follow-up that sent it (nil when the CM sends it directly).
func (s *Service) Assign(ctx context.Context, actor auth.Actor, patientID, key string, followupID *string) (Assignment, error) {
	d, ok := s.lib.Get(key)
	if !ok {
		return Assignment{}, ErrUnknownQuestionnaire
	}
	now := s.now().UTC()
	a := Assignment{ID: database.NewID(), PatientID: patientID, Questionnaire: d.Key, Version: d.Version, FollowupID: followupID,
		AssignedByKind: string(actor.Kind), AssignedByID: actor.ID, AssignedAt: now, Status: StatusPending, CreatedAt: now, UpdatedAt: now}
	if err := s.store.Create(ctx, &a); err != nil {
		return Assignment{}, err
	}
	return a, nil
}

// List returns the patient's questionnaires.
func (s *Service) List(ctx context.Context, patientID string, limit int) ([]Assignment, error) {
	return s.store.OfPatient(ctx, patientID, limit)
}

// Get returns one of the patient's questionnaires.
func (s *Service) Get(ctx context.Context, patientID, id string) (Assignment, error) {
	return s.store.ByID(ctx, patientID, id)
}

// Answer checks, scores and stores the answers, once. Nothing is written
// when any answer is refused.
func (s *Service) Answer(ctx context.Context, actor auth.Actor, patientID, id string, raw map[string]json.RawMessage) (Assignment, error) {
	if actor.Kind != auth.KindUser {
		return Assignment{}, ErrAnsweredByRespondents
	}
	if len(raw) == 0 {
		return Assignment{}, ErrAnswersRequired
	}
	a, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Assignment{}, err
	}
	if a.Status != StatusPending {
		return Assignment{}, ErrAlreadyAnswered
	}
	d, ok := s.lib.Get(a.Questionnaire)
	if !ok {
		return Assignment{}, ErrUnknownQuestionnaire
	}
	answers, err := CheckAnswers(d, raw)
	if err != nil {
		return Assignment{}, err
	}
	r := Score(d, answers)
	b, _ := json.Marshal(answers)
	now := s.now().UTC()
	a.Status, a.Answers, a.Score, a.Band, a.Alert = StatusAnswered, string(b), r.Score, r.Band, r.Alert
	a.AnsweredByKind, a.AnsweredByID, a.AnsweredAt, a.UpdatedAt = string(actor.Kind), actor.ID, &now, now
	var alert any
	if r.Alert {
		alert = map[string]any{"assignment_id": a.ID, "patient_id": a.PatientID, "questionnaire": a.Questionnaire, "score": r.Score, "band": r.Band}
	}
	ok, err = s.store.Answer(ctx, a, alert)
	if err != nil {
		return Assignment{}, err
	}
	if !ok {
		return Assignment{}, ErrAlreadyAnswered
	}
	return a, nil
}

// Flagged lists the responses past their threshold of the staff member's patients.
func (s *Service) Flagged(ctx context.Context, actor auth.Actor, limit int) ([]Assignment, error) {
	return s.store.Flagged(ctx, actor, limit)
}
