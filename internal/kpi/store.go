package kpi

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
)

// Store reads the rows KPIs are computed from: each method is one
// set-based query over the scope's patients (a subquery, never a loop).
type Store struct {
	db *gorm.DB
}

// NewStore returns the store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// scope is the subquery of the patient ids a's aggregates cover.
func (s *Store) scope(ctx context.Context, a auth.Actor) *gorm.DB {
	return s.db.WithContext(ctx).Table("patients").Select("patients.id").Scopes(access.AggregatePatients(a, "patients"))
}

// timeliness counts the follow-ups whose window closed in [from, to) and
// those of them recorded before it closed.
func (s *Store) timeliness(ctx context.Context, a auth.Actor, from, to time.Time) (due, timely int, err error) {
	var row struct{ Due, Timely int }
	err = s.db.WithContext(ctx).Table("followups").
		Select("COUNT(*) AS due, COALESCE(SUM(CASE WHEN status = ? AND recorded_at IS NOT NULL AND recorded_at < window_end THEN 1 ELSE 0 END), 0) AS timely", "done").
		// A follow-up cancelled because its plan was closed (结案) before its
		// window ended was never due; one cancelled after it had been missed
		// stays missed (cancelling sets updated_at; nothing changes it after).
		Where("window_end >= ? AND window_end < ? AND NOT (status = ? AND updated_at < window_end) AND patient_id IN (?)",
			from.UTC(), to.UTC(), "cancelled", s.scope(ctx, a)).
		Scan(&row).Error
	if err != nil {
		return 0, 0, fmt.Errorf("kpi: follow-up timeliness: %w", err)
	}
	return row.Due, row.Timely, nil
}

type alertRow struct {
	FirstRaisedAt  time.Time
	AcknowledgedAt *time.Time
	ResolvedAt     *time.Time
}

// alerts are the alerts first raised in [from, to).
func (s *Store) alerts(ctx context.Context, a auth.Actor, from, to time.Time) ([]alertRow, error) {
	var rows []alertRow
	err := s.db.WithContext(ctx).Table("alerts").Select("first_raised_at, acknowledged_at, resolved_at").
		Where("first_raised_at >= ? AND first_raised_at < ? AND patient_id IN (?)", from.UTC(), to.UTC(), s.scope(ctx, a)).
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("kpi: alerts: %w", err)
	}
	return rows, nil
}

// messages are the visible text and image entries of the scope's threads
// created in [from, until): no internal notes, recalls, transfers or
// recalled entries.
func (s *Store) messages(ctx context.Context, a auth.Actor, from, until time.Time) ([]Message, error) {
	var rows []struct {
		ThreadID   string
		Seq        int64
		SenderKind string
		CreatedAt  time.Time
	}
	err := s.db.WithContext(ctx).Table("thread_messages").
		Select("thread_messages.thread_id, thread_messages.seq, thread_messages.sender_kind, thread_messages.created_at").
		Joins("JOIN message_threads ON message_threads.id = thread_messages.thread_id").
		Where("message_threads.patient_id IN (?)", s.scope(ctx, a)).
		Where("thread_messages.kind IN ? AND thread_messages.internal = ? AND thread_messages.recalled_at IS NULL", []string{"text", "image"}, false).
		Where("thread_messages.created_at >= ? AND thread_messages.created_at < ?", from.UTC(), until.UTC()).
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("kpi: messages: %w", err)
	}
	out := make([]Message, len(rows))
	for i, r := range rows {
		out[i] = Message{Thread: r.ThreadID, Seq: r.Seq, FromStaff: r.SenderKind == string(auth.KindStaff), At: r.CreatedAt}
	}
	return out, nil
}

// npsScores are the scores of the NPS questionnaire answered in [from, to).
func (s *Store) npsScores(ctx context.Context, a auth.Actor, questionnaire string, from, to time.Time) ([]float64, error) {
	var scores []float64
	err := s.db.WithContext(ctx).Table("questionnaire_assignments").
		Where("questionnaire = ? AND status = ? AND score IS NOT NULL", questionnaire, "answered").
		Where("answered_at >= ? AND answered_at < ? AND patient_id IN (?)", from.UTC(), to.UTC(), s.scope(ctx, a)).
		Pluck("score", &scores).Error
	if err != nil {
		return nil, fmt.Errorf("kpi: nps: %w", err)
	}
	return scores, nil
}

// caseload counts the scope's active patients with a case manager and
// their distinct case managers.
func (s *Store) caseload(ctx context.Context, a auth.Actor) (patients, cms int, err error) {
	var row struct{ Patients, Cms int }
	err = s.db.WithContext(ctx).Table("patients").
		Select("COUNT(*) AS patients, COUNT(DISTINCT assigned_cm_id) AS cms").
		Where("status = ? AND assigned_cm_id IS NOT NULL", "active").
		Where("id IN (?)", s.scope(ctx, a)).
		Scan(&row).Error
	if err != nil {
		return 0, 0, fmt.Errorf("kpi: caseload: %w", err)
	}
	return row.Patients, row.Cms, nil
}

// anchors are the scope's recorded plan events of one kind on days [from, to).
func (s *Store) anchors(ctx context.Context, a auth.Actor, event, from, to string) ([]Stay, error) {
	var rows []struct {
		PatientID string
		OnDate    string
		Planned   bool
	}
	err := s.db.WithContext(ctx).Table("care_plan_anchors").
		Select("care_plans.patient_id, care_plan_anchors.on_date, care_plan_anchors.planned").
		Joins("JOIN care_plans ON care_plans.id = care_plan_anchors.plan_id").
		Where("care_plan_anchors.anchor = ? AND care_plan_anchors.on_date >= ? AND care_plan_anchors.on_date < ?", event, from, to).
		Where("care_plans.patient_id IN (?)", s.scope(ctx, a)).
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("kpi: %s events: %w", event, err)
	}
	out := make([]Stay, 0, len(rows))
	for _, r := range rows {
		if d, ok := ParseDay(r.OnDate); ok {
			out = append(out, Stay{PatientID: r.PatientID, Day: d, Planned: r.Planned})
		}
	}
	return out, nil
}

type planRow struct {
	ID         string
	PatientID  string
	PathwayKey string
	CreatedAt  time.Time
	ClosedAt   *time.Time
}

type stageRow struct {
	PlanID  string
	ToValue string
	At      time.Time
}

// plans are the scope's care plans open at some time in [from, to), with
// their stage changes before to (oldest first): two queries.
func (s *Store) plans(ctx context.Context, a auth.Actor, from, to time.Time) ([]planRow, []stageRow, error) {
	open := func() *gorm.DB {
		return s.db.WithContext(ctx).Table("care_plans").
			Where("created_at < ? AND (closed_at IS NULL OR closed_at >= ?)", to.UTC(), from.UTC()).
			Where("patient_id IN (?)", s.scope(ctx, a))
	}
	var plans []planRow
	if err := open().Select("id, patient_id, pathway_key, created_at, closed_at").Find(&plans).Error; err != nil {
		return nil, nil, fmt.Errorf("kpi: plans: %w", err)
	}
	var stages []stageRow
	err := s.db.WithContext(ctx).Table("care_plan_history").Select("plan_id, to_value, at").
		Where("kind = ? AND at < ? AND plan_id IN (?)", "stage", to.UTC(), open().Select("id")).
		Order("plan_id, at, id").Find(&stages).Error
	if err != nil {
		return nil, nil, fmt.Errorf("kpi: stage history: %w", err)
	}
	return plans, stages, nil
}

// readings are the scope's readings measured in [from, to).
func (s *Store) readings(ctx context.Context, a auth.Actor, from, to time.Time) ([]readingRow, error) {
	var rows []readingRow
	err := s.db.WithContext(ctx).Table("observations").Select("patient_id, type, measured_at").
		Where("measured_at >= ? AND measured_at < ? AND patient_id IN (?)", from.UTC(), to.UTC(), s.scope(ctx, a)).
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("kpi: readings: %w", err)
	}
	return rows, nil
}

type readingRow struct {
	PatientID  string
	Type       string
	MeasuredAt time.Time
}
