package appointment

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
)

// Proposals tells which appointments the care plans' current stages
// propose (the careplan feature, through app).
type Proposals interface {
	StageProposals(ctx context.Context, planID string) (StageProposals, bool, error)
	ActiveStageProposals(ctx context.Context) ([]StageProposals, error)
}

// StageProposals are the appointments a plan's current stage proposes.
type StageProposals struct {
	PatientID  string
	HospitalID string
	PlanID     string
	Items      []Proposal
}

// Proposal is one appointment of a pathway stage; DueOn (YYYY-MM-DD,
// hospital zone) is "" while its anchor event is unrecorded, At is HH:MM.
type Proposal struct {
	Key, Kind, Title, DueOn, At string
	DurationMinutes             int
	Department, Preparation     string
}

// SetProposals supplies the care plans' proposals after construction.
func (s *Service) SetProposals(p Proposals) { s.stages = p }

// Propose writes the stage's proposals whose day is known and whose time is
// still ahead, each once per plan and key, and returns how many it wrote.
func (s *Service) Propose(ctx context.Context, sp StageProposals) (int, error) {
	now := s.now().UTC()
	n := 0
	for _, p := range sp.Items {
		if _, ok := Kinds[p.Kind]; !ok || p.DueOn == "" {
			continue
		}
		start, end, ok := ProposalTime(p.DueOn, p.At, p.DurationMinutes, s.loc)
		if !ok || !start.After(now) {
			continue // a suggestion for a time gone by helps no one
		}
		key := sp.PlanID + ":" + p.Key
		a := Appointment{ID: database.NewID(), PatientID: sp.PatientID, HospitalID: sp.HospitalID, Kind: p.Kind,
			Title: p.Title, StartsAt: start, EndsAt: end, Department: p.Department, Preparation: p.Preparation,
			Status: StatusProposed, ProposalKey: &key, CreatedByID: SystemActor, CreatedAt: now, UpdatedAt: now}
		created, err := s.store.CreateProposal(ctx, &a)
		if err != nil {
			return n, err
		}
		if created {
			n++
		}
	}
	return n, nil
}

// HandleStageChanged proposes the appointments of the stage a plan has
// entered (the careplan.stage_changed event). It reads where the plan
// stands now, so a late or repeated delivery does the right thing.
func (s *Service) HandleStageChanged(ctx context.Context, payload []byte) error {
	var ev struct {
		PlanID string `json:"plan_id"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil || ev.PlanID == "" {
		return fmt.Errorf("appointment: bad stage_changed payload: %v", err)
	}
	if s.stages == nil {
		return nil
	}
	sp, ok, err := s.stages.StageProposals(ctx, ev.PlanID)
	if err != nil || !ok {
		return err
	}
	_, err = s.Propose(ctx, sp)
	return err
}

// ProposeDue proposes what every active plan's current stage calls for
// (the periodic catch-up) and returns how many it wrote.
func (s *Service) ProposeDue(ctx context.Context) (int, error) {
	if s.stages == nil {
		return 0, nil
	}
	list, err := s.stages.ActiveStageProposals(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stage proposals: %w", err)
	}
	total := 0
	for _, sp := range list {
		n, err := s.Propose(ctx, sp)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Proposals is the CM's queue of pathway proposals for their patients.
func (s *Service) Proposals(ctx context.Context, actor auth.Actor, limit int) ([]Appointment, error) {
	return s.store.Proposals(ctx, actor, limit)
}

// ProposalsOf is one patient's proposals waiting for the CM (the desk's patient page).
func (s *Service) ProposalsOf(ctx context.Context, patientID string) ([]Appointment, error) {
	return s.store.ProposalsOf(ctx, patientID, 20)
}

// Acceptance is what the CM may change when accepting a proposal; nil
// keeps the proposal's value. A new start without an end keeps the length.
type Acceptance struct {
	StartsAt   *time.Time
	EndsAt     *time.Time
	Department *string
	Clinician  *string
	Location   *string
	Directions *string
}

// Accept makes a proposal a scheduled appointment the patient sees, is
// reminded of and confirms; it returns the other appointments it overlaps.
func (s *Service) Accept(ctx context.Context, actor auth.Actor, patientID, id string, in Acceptance) (Appointment, []Overlap, error) {
	a, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Appointment{}, nil, err
	}
	if a.Status != StatusProposed {
		return Appointment{}, nil, ErrNotProposal
	}
	start, end := a.StartsAt, a.EndsAt
	if in.StartsAt != nil {
		start, end = in.StartsAt.UTC(), in.StartsAt.UTC().Add(a.EndsAt.Sub(a.StartsAt))
	}
	if in.EndsAt != nil {
		end = in.EndsAt.UTC()
	}
	now := s.now().UTC()
	if err := CheckTimes(start, end, now); err != nil {
		return Appointment{}, nil, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&a.Department, in.Department)
	set(&a.Clinician, in.Clinician)
	set(&a.Location, in.Location)
	set(&a.Directions, in.Directions)
	a.StartsAt, a.EndsAt = start, end
	overlaps, err := s.overlaps(ctx, a)
	if err != nil {
		return Appointment{}, nil, err
	}
	a, err = s.transition(ctx, a, []string{StatusProposed}, map[string]any{"status": StatusScheduled, "starts_at": start,
		"ends_at": end, "department": a.Department, "clinician": a.Clinician, "location": a.Location, "directions": a.Directions,
		"accepted_at": now, "updated_at": now, "responded_by_kind": string(actor.Kind), "responded_by_id": actor.ID}, ErrNotProposal)
	return a, overlaps, err
}

// Dismiss is the CM's "not needed": the proposal is cancelled with a reason
// and never reaches the patient.
func (s *Service) Dismiss(ctx context.Context, actor auth.Actor, patientID, id, reason string) (Appointment, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Appointment{}, ErrDismissReason
	}
	a, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Appointment{}, err
	}
	if a.Status != StatusProposed {
		return Appointment{}, ErrNotProposal
	}
	now := s.now().UTC()
	return s.transition(ctx, a, []string{StatusProposed}, map[string]any{"status": StatusCancelled, "cancel_reason": reason,
		"cancelled_at": now, "updated_at": now, "responded_by_kind": string(actor.Kind), "responded_by_id": actor.ID}, ErrNotProposal)
}
