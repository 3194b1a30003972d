package questionnaire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

// TaskSendDue is the periodic job that sends the questionnaires pathways
// schedule (a follow-up naming a questionnaire) on their due day.
const TaskSendDue = "questionnaire.send_due"

// TopicNotify is the notification pipeline's request topic; a scheduled
// questionnaire writes a questionnaire_due request (notify.Request's
// contract) in the transaction that assigns it.
const TopicNotify = "notify.request"

// CatchUpDays is how long after its due day a scheduled questionnaire is
// still sent when the job could not run on the day itself (an outage);
// older ones are not sent: the follow-up they belonged to has moved on.
const CatchUpDays = 7

// Scheduled is a questionnaire a plan's follow-up calls for.
type Scheduled struct {
	PatientID     string
	PlanID        string
	ItemKey       string // the pathway follow-up's key
	Questionnaire string
	DueOn         string // YYYY-MM-DD, hospital zone
}

// Schedules lists the scheduled questionnaires of the active plans.
type Schedules interface {
	ScheduledQuestionnaires(ctx context.Context) ([]Scheduled, error)
}

// SetSchedule wires the source of scheduled questionnaires and the
// hospital's zone that due days are in.
func (s *Service) SetSchedule(src Schedules, loc *time.Location) { s.schedules, s.loc = src, loc }

// notifyRequest is notify.Request as the pipeline decodes it.
type notifyRequest struct {
	Kind      string            `json:"kind"`
	PatientID string            `json:"patient_id"`
	DedupeKey string            `json:"dedupe_key"`
	At        time.Time         `json:"at"`
	Data      map[string]string `json:"data"`
}

// SendDue assigns every scheduled questionnaire whose due day has come (up
// to CatchUpDays late) and has not been sent, each with its
// questionnaire_due push request, and returns how many it sent. Running it
// again, or on two workers at once, sends nothing twice: schedule_key is
// unique and the assignment and its request commit together.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	if s.schedules == nil {
		return 0, nil
	}
	list, err := s.schedules.ScheduledQuestionnaires(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	today := now.In(s.loc).Format(time.DateOnly)
	oldest := now.In(s.loc).AddDate(0, 0, -CatchUpDays).Format(time.DateOnly)
	var due []Scheduled
	var keys []string
	for _, sc := range list {
		if sc.Questionnaire == "" || sc.DueOn == "" || sc.DueOn > today || sc.DueOn < oldest {
			continue
		}
		due = append(due, sc)
		keys = append(keys, sc.PlanID+":"+sc.ItemKey)
	}
	if len(due) == 0 {
		return 0, nil
	}
	sent, err := s.store.ScheduleKeys(ctx, keys)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, sc := range due {
		if sent[keys[i]] {
			continue
		}
		d, ok := s.lib.Get(sc.Questionnaire)
		if !ok {
			return n, fmt.Errorf("scheduled questionnaire %q of plan %s: %w", sc.Questionnaire, sc.PlanID, ErrUnknownQuestionnaire)
		}
		at := now.UTC()
		key := keys[i]
		a := Assignment{ID: database.NewID(), PatientID: sc.PatientID, Questionnaire: d.Key, Version: d.Version, ScheduleKey: &key,
			AssignedByKind: "system", AssignedByID: "", AssignedAt: at, Status: StatusPending, CreatedAt: at, UpdatedAt: at}
		req := notifyRequest{Kind: "questionnaire_due", PatientID: sc.PatientID, DedupeKey: "questionnaire:" + a.ID + ":due", At: at,
			Data: map[string]string{"assignment_id": a.ID, "questionnaire": d.Key}}
		ok, err := s.store.CreateScheduled(ctx, &a, req)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// SendDueHandler is the worker's handler of TaskSendDue.
func (s *Service) SendDueHandler() asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		_, err := s.SendDue(ctx)
		return err
	}
}

// ScheduleKeys returns which of keys have been sent.
func (s *Store) ScheduleKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	var got []string
	if err := s.db.WithContext(ctx).Model(&Assignment{}).Where("schedule_key IN ?", keys).Pluck("schedule_key", &got).Error; err != nil {
		return nil, fmt.Errorf("sent scheduled questionnaires: %w", err)
	}
	out := make(map[string]bool, len(got))
	for _, k := range got {
		out[k] = true
	}
	return out, nil
}

// CreateScheduled stores a scheduled assignment and its push request in one
// transaction; false when another run sent it first.
func (s *Store) CreateScheduled(ctx context.Context, a *Assignment, req any) (bool, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		return outbox.Add(tx, TopicNotify, queue.Default, req)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("send scheduled questionnaire: %w", err)
	}
	return true, nil
}
