package followup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
)

// Plans tells which follow-ups the active care plans call for (the careplan feature).
type Plans interface {
	FollowupSchedules(ctx context.Context) ([]Schedule, error)
}

// Leads finds the department lead a patient's overdue follow-ups go to ("" when none).
type Leads interface {
	LeadOf(ctx context.Context, patientID string) (string, error)
}

// Config tunes follow-ups.
type Config struct {
	EscalateAfter time.Duration // after the window closes, a still-open follow-up goes to the lead
}

// Service holds the rules of follow-ups.
type Service struct {
	store *Store
	plans Plans
	leads Leads
	cfg   Config
	loc   *time.Location
	now   func() time.Time
}

// NewService builds the service.
func NewService(store *Store, plans Plans, leads Leads, cfg Config, loc *time.Location, now func() time.Time) *Service {
	return &Service{store: store, plans: plans, leads: leads, cfg: cfg, loc: loc, now: now}
}

// Sync creates the follow-ups the plans call for that do not exist yet, and
// returns how many it created. It is idempotent.
func (s *Service) Sync(ctx context.Context) (int, error) {
	schedules, err := s.plans.FollowupSchedules(ctx)
	if err != nil {
		return 0, fmt.Errorf("read follow-up schedules: %w", err)
	}
	n := 0
	now := s.now().UTC()
	for _, sc := range schedules {
		last, err := s.store.LastRoutineDone(ctx, sc.PatientID, sc.PlanID)
		if err != nil {
			return n, err
		}
		for _, p := range Plan(sc, last, s.loc) {
			planID := sc.PlanID
			f := Followup{ID: database.NewID(), PatientID: sc.PatientID, PlanID: &planID, ItemKey: p.ItemKey, Source: p.Source,
				Title: p.Title, Channel: p.Channel, WindowStart: p.WindowStart, WindowEnd: p.WindowEnd, Status: StatusPending,
				CreatedAt: now, UpdatedAt: now}
			created, err := s.store.CreateIfMissing(ctx, &f)
			if err != nil {
				return n, err
			}
			if created {
				n++
			}
		}
	}
	return n, nil
}

// PlanClosed cancels the pending follow-ups of a closed plan (the
// careplan.plan_closed event), so none of them turns overdue or is
// escalated; done ones keep their outcome. Delivered twice, it changes
// nothing the second time.
func (s *Service) PlanClosed(ctx context.Context, planID string) (int, error) {
	return s.store.CancelPending(ctx, planID, s.now().UTC())
}

// Scan flags follow-ups whose window has closed and escalates those still
// open EscalateAfter later, each once, with an outbox event.
func (s *Service) Scan(ctx context.Context) (flagged, escalated int, err error) {
	now := s.now().UTC()
	list, err := s.store.PastWindow(ctx, now, 500)
	if err != nil {
		return 0, 0, fmt.Errorf("find overdue follow-ups: %w", err)
	}
	for _, f := range list {
		if f.OverdueAt == nil {
			ok, err := s.store.Mark(ctx, f.ID, "overdue_at IS NULL", map[string]any{"overdue_at": now, "updated_at": now}, TopicOverdue,
				map[string]any{"followup_id": f.ID, "patient_id": f.PatientID, "window_end": f.WindowEnd})
			if err != nil {
				return flagged, escalated, err
			}
			if ok {
				flagged++
			}
		}
		if !Escalate(f, now, s.cfg.EscalateAfter) {
			continue
		}
		lead, err := s.leads.LeadOf(ctx, f.PatientID)
		if err != nil {
			return flagged, escalated, err
		}
		ok, err := s.store.Mark(ctx, f.ID, "escalated_at IS NULL", map[string]any{"escalated_at": now, "escalated_to": lead, "updated_at": now},
			TopicEscalated, map[string]any{"followup_id": f.ID, "patient_id": f.PatientID, "lead_id": lead, "window_end": f.WindowEnd})
		if err != nil {
			return flagged, escalated, err
		}
		if ok {
			escalated++
		}
	}
	return flagged, escalated, nil
}

// List returns the patient's follow-ups.
func (s *Service) List(ctx context.Context, patientID string, limit int) ([]Followup, error) {
	return s.store.OfPatient(ctx, patientID, limit)
}

// Worklist is the staff member's open follow-ups whose window has opened
// (or opens within the week), overdue first; escalatedOnly for a lead's view.
func (s *Service) Worklist(ctx context.Context, actor auth.Actor, escalatedOnly bool, limit int) ([]Followup, error) {
	return s.store.Pending(ctx, actor, s.now().UTC().Add(7*24*time.Hour), escalatedOnly, limit)
}

// Add is a follow-up the CM plans by hand: due on a day, open windowDays more.
func (s *Service) Add(ctx context.Context, patientID, title, channel, dueOn string, windowDays int) (Followup, error) {
	start, end, err := s.window(channel, dueOn, windowDays)
	if err != nil {
		return Followup{}, err
	}
	now := s.now().UTC()
	id := database.NewID()
	f := Followup{ID: id, PatientID: patientID, ItemKey: "manual:" + id, Source: SourceManual, Title: strings.TrimSpace(title),
		Channel: channel, WindowStart: start, WindowEnd: end, Status: StatusPending, CreatedAt: now, UpdatedAt: now}
	if _, err := s.store.CreateIfMissing(ctx, &f); err != nil {
		return Followup{}, err
	}
	return f, nil
}

func (s *Service) window(channel, dueOn string, windowDays int) (time.Time, time.Time, error) {
	if !slices.Contains(Channels, channel) {
		return time.Time{}, time.Time{}, ErrBadChannel
	}
	due, err := ParseDay(dueOn, s.loc)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	today, _ := Window(s.now(), s.now(), s.loc)
	if due.Before(today) {
		return time.Time{}, time.Time{}, ErrDueInPast
	}
	start, end := Window(due, due.AddDate(0, 0, windowDays), s.loc)
	return start, end, nil
}

// Reschedule moves a pending follow-up to a new window; it is no longer overdue.
func (s *Service) Reschedule(ctx context.Context, patientID, id, channel, dueOn string, windowDays int) (Followup, error) {
	f, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Followup{}, err
	}
	switch f.Status {
	case StatusPending:
	case StatusCancelled:
		return Followup{}, ErrCancelled
	default:
		return Followup{}, ErrAlreadyDone
	}
	if channel == "" {
		channel = f.Channel
	}
	start, end, err := s.window(channel, dueOn, windowDays)
	if err != nil {
		return Followup{}, err
	}
	ok, err := s.store.Update(ctx, id, map[string]any{"channel": channel, "window_start": start, "window_end": end,
		"overdue_at": nil, "escalated_at": nil, "escalated_to": "", "updated_at": s.now().UTC()})
	if err != nil {
		return Followup{}, err
	}
	if !ok {
		return Followup{}, ErrAlreadyDone
	}
	return s.store.ByID(ctx, patientID, id)
}

// Outcome is what the CM records about a follow-up.
type Outcome struct {
	Reached    *bool
	Symptoms   string
	Adherence  string
	Problems   string
	NextAction string
}

// Record stores the outcome of a follow-up, once: a pending one, or one
// cancelled when its plan was closed (the call made before the closing, e.g.
// the one that learnt of a death, is still recorded).
func (s *Service) Record(ctx context.Context, actor auth.Actor, patientID, id string, o Outcome) (Followup, error) {
	if o.Reached == nil {
		return Followup{}, ErrReachedNeeded
	}
	if o.Adherence == "" {
		o.Adherence = "unknown"
	}
	if !slices.Contains(Adherences, o.Adherence) {
		return Followup{}, ErrBadAdherence
	}
	f, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Followup{}, err
	}
	if f.Status != StatusPending && f.Status != StatusCancelled {
		return Followup{}, ErrAlreadyDone
	}
	now := s.now().UTC()
	ok, err := s.store.UpdateIn(ctx, id, []string{StatusPending, StatusCancelled}, map[string]any{"status": StatusDone, "reached": *o.Reached, "symptoms": strings.TrimSpace(o.Symptoms),
		"adherence": o.Adherence, "problems": strings.TrimSpace(o.Problems), "next_action": strings.TrimSpace(o.NextAction),
		"recorded_by_id": actor.ID, "recorded_at": now, "updated_at": now})
	if err != nil {
		return Followup{}, err
	}
	if !ok {
		return Followup{}, ErrAlreadyDone
	}
	return s.store.ByID(ctx, patientID, id)
}
