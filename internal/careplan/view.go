package careplan

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// The read side: what the patient, the family and the CM see of a plan.

// PathwayRef names a pathway.
type PathwayRef struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	Disease string `json:"disease,omitempty"`
}

// EventView is a recorded event. Planned is there for admissions only.
type EventView struct {
	Event      string    `json:"event"`
	Date       string    `json:"date"`
	Planned    *bool     `json:"planned,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Stage states relative to the current stage.
const (
	StagePassed   = "done"
	StageCurrent  = "current"
	StageUpcoming = "upcoming"
)

// StageView is one stage of the journey with its first day once known.
type StageView struct {
	Key      string  `json:"key"`
	Name     string  `json:"name"`
	Phase    string  `json:"phase"`
	StartsOn *string `json:"starts_on"`
	State    string  `json:"state"`
}

// CurrentStageView is the stage the patient is in.
type CurrentStageView struct {
	StageView
	EnteredAt time.Time `json:"entered_at"`
	Day       int       `json:"day"` // days since the stage began, 0 on its first day
}

// Progress sums up how far the plan has come.
type Progress struct {
	TasksTotal  int `json:"tasks_total"`
	TasksDone   int `json:"tasks_done"`
	Percent     int `json:"percent"`
	StageNumber int `json:"stage_number"` // 1-based
	StageCount  int `json:"stage_count"`
}

// TaskView is a task or follow-up with its status today.
type TaskView struct {
	ID      string     `json:"id"`
	Key     string     `json:"key"`
	Stage   string     `json:"stage"`
	Kind    string     `json:"kind"`
	Title   string     `json:"title"`
	Owner   string     `json:"owner"`
	Channel string     `json:"channel,omitempty"`
	DueOn   *string    `json:"due_on"`
	Status  string     `json:"status"`
	DoneAt  *time.Time `json:"done_at,omitempty"`
}

// RiskView is the risk level in force and how it came about.
type RiskView struct {
	Level      string   `json:"level"`
	Computed   string   `json:"computed_level"`
	Overridden bool     `json:"overridden"`
	Reason     string   `json:"reason,omitempty"`
	Factors    []string `json:"factors"`
}

// CaseManagerView tells the patient who their CM is and how to reach them.
type CaseManagerView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Department string `json:"department,omitempty"`
	Contact    string `json:"contact"`
}

// contactHint says how to reach the CM: through the mini-program's messages,
// which reach the CM's desk (no private phone numbers are handed out).
const contactHint = "在小程序“消息”中给个案管理师留言；紧急情况请拨打 120 或到急诊就医"

// PlanView is a whole plan as the patient, the family and the CM see it.
type PlanView struct {
	ID            string             `json:"id"`
	PatientID     string             `json:"patient_id"`
	Status        string             `json:"status"`
	Pathway       PathwayRef         `json:"pathway"`
	EnrolledAt    time.Time          `json:"enrolled_at"`
	Events        []EventView        `json:"events"`
	CurrentStage  CurrentStageView   `json:"current_stage"`
	NextStage     *StageView         `json:"next_stage"`
	Stages        []StageView        `json:"stages"`
	Progress      Progress           `json:"progress"`
	Tasks         []TaskView         `json:"tasks"`
	NextTasks     []TaskView         `json:"next_tasks"`
	Vitals        []VitalExpectation `json:"vitals"`
	Risk          RiskView           `json:"risk"`
	Rhythm        Rhythm             `json:"follow_up_rhythm"`
	CaseManager   *CaseManagerView   `json:"case_manager"`
	Comorbidities []Comorbidity      `json:"comorbidities"`
	ClosedAt      *time.Time         `json:"closed_at,omitempty"`
	Closure       *ClosureView       `json:"closure,omitempty"`
}

// ClosureView is why and by whom a plan was closed (结案). The note and
// who closed it are for staff: ForFamily drops them.
type ClosureView struct {
	Reason     string `json:"reason"`
	ReasonName string `json:"reason_name"`
	Note       string `json:"note,omitempty"`
	ClosedBy   string `json:"closed_by,omitempty"`
}

func closureOf(plan Plan) *ClosureView {
	if plan.Status != StatusClosed {
		return nil
	}
	v := &ClosureView{Reason: plan.CloseReason, Note: plan.CloseNote, ClosedBy: plan.ClosedBy}
	for _, r := range CloseReasons {
		if r.Code == plan.CloseReason {
			v.ReasonName = r.Name
		}
	}
	return v
}

// forFamily is c as a patient or relative sees it: without the CM's note.
func (c *ClosureView) forFamily() *ClosureView {
	if c == nil {
		return nil
	}
	return &ClosureView{Reason: c.Reason, ReasonName: c.ReasonName}
}

// ForFamily is v as a patient or relative sees it: the plan is closed, and
// why, but not the CM's note.
func (v PlanView) ForFamily() PlanView {
	v.Closure = v.Closure.forFamily()
	return v
}

// ForFamily is v as a patient or relative sees it (see PlanView.ForFamily).
func (v PlanSummary) ForFamily() PlanSummary {
	v.Closure = v.Closure.forFamily()
	return v
}

// ForFamily is h as a patient or relative sees it: a closure's note is the CM's.
func (h HistoryView) ForFamily() HistoryView {
	if h.Kind == HistoryClosure {
		h.Reason = ""
	}
	return h
}

// Current returns the patient's most recently enrolled active plan.
func (s *Service) Current(ctx context.Context, patientID string) (PlanView, error) {
	plans, err := s.store.PlansOf(ctx, patientID, true)
	if err != nil {
		return PlanView{}, err
	}
	if len(plans) == 0 {
		return PlanView{}, ErrNoActivePlan
	}
	return s.view(ctx, plans[0])
}

// View returns one plan of the patient.
func (s *Service) View(ctx context.Context, patientID, planID string) (PlanView, error) {
	plan, _, err := s.planOf(ctx, s.store, patientID, planID, false)
	if err != nil {
		return PlanView{}, err
	}
	return s.view(ctx, plan)
}

func (s *Service) view(ctx context.Context, plan Plan) (PlanView, error) {
	p, ok := s.Pathways().Pathway(plan.PathwayKey)
	if !ok {
		return PlanView{}, fmt.Errorf("plan %s: pathway %s is not loaded", plan.ID, plan.PathwayKey)
	}
	anchors, err := s.store.Anchors(ctx, plan.ID)
	if err != nil {
		return PlanView{}, err
	}
	tasks, err := s.store.Tasks(ctx, plan.ID)
	if err != nil {
		return PlanView{}, err
	}
	codes, err := s.store.Comorbidities(ctx, plan.PatientID)
	if err != nil {
		return PlanView{}, err
	}
	today := DayOf(s.now(), s.loc)
	v := PlanView{ID: plan.ID, PatientID: plan.PatientID, Status: plan.Status, EnrolledAt: plan.CreatedAt,
		Pathway: refOf(p), Events: []EventView{}, Stages: []StageView{}, Tasks: []TaskView{}, NextTasks: []TaskView{},
		Vitals: []VitalExpectation{}, Comorbidities: []Comorbidity{},
		Risk: RiskView{Level: plan.RiskLevel, Computed: plan.RiskComputed, Overridden: plan.RiskOverride != nil,
			Reason: plan.RiskReason, Factors: splitFactors(plan.RiskFactors)},
		Rhythm: RhythmFor(plan.RiskLevel), ClosedAt: plan.ClosedAt, Closure: closureOf(plan)}
	for _, a := range anchors {
		ev := EventView{Event: a.Anchor, Date: a.OnDate, RecordedAt: a.RecordedAt}
		if a.Anchor == AnchorAdmission {
			ev.Planned = &a.Planned
		}
		v.Events = append(v.Events, ev)
	}
	stages, _ := Schedule(p, anchorDates(anchors))
	cur := p.StageIndex(plan.StageKey)
	for i, st := range p.Stages {
		sv := StageView{Key: st.Key, Name: st.Name, Phase: st.Phase, State: StageUpcoming}
		if on := stages[i].On; on != nil {
			d := FormatDay(*on)
			sv.StartsOn = &d
		}
		switch {
		case i < cur:
			sv.State = StagePassed
		case i == cur:
			sv.State = StageCurrent
			v.CurrentStage = CurrentStageView{StageView: sv, EnteredAt: plan.StageEnteredAt}
			start := DayOf(plan.StageEnteredAt, s.loc)
			if on := stages[i].On; on != nil && !on.After(today) {
				start = *on
			}
			v.CurrentStage.Day = max(DaysBetween(start, today), 0)
			v.Vitals = append(v.Vitals, st.Vitals...)
		case i == cur+1:
			next := sv
			v.NextStage = &next
		}
		v.Stages = append(v.Stages, sv)
	}
	v.Progress = Progress{StageNumber: cur + 1, StageCount: len(p.Stages), TasksTotal: len(tasks)}
	for _, t := range tasks {
		tv := TaskViewOf(t, today)
		if tv.Status == TaskDone {
			v.Progress.TasksDone++
		} else if tv.DueOn != nil {
			v.NextTasks = append(v.NextTasks, tv)
		}
		v.Tasks = append(v.Tasks, tv)
	}
	if v.Progress.TasksTotal > 0 {
		v.Progress.Percent = 100 * v.Progress.TasksDone / v.Progress.TasksTotal
	}
	sort.SliceStable(v.NextTasks, func(i, j int) bool { return *v.NextTasks[i].DueOn < *v.NextTasks[j].DueOn })
	if len(v.NextTasks) > 3 {
		v.NextTasks = v.NextTasks[:3]
	}
	for _, c := range codes {
		if cm, ok := ComorbidityByCode(c); ok {
			v.Comorbidities = append(v.Comorbidities, cm)
		}
	}
	if s.team != nil {
		cm, err := s.team.CaseManagerOf(ctx, plan.PatientID)
		if err != nil {
			return PlanView{}, fmt.Errorf("case manager of %s: %w", plan.PatientID, err)
		}
		if cm != nil {
			v.CaseManager = &CaseManagerView{ID: cm.ID, Name: cm.Name, Department: cm.Department, Contact: contactHint}
		}
	}
	return v, nil
}

func refOf(p *Pathway) PathwayRef {
	return PathwayRef{Key: p.Key, Name: p.Name, Version: p.Version, Disease: p.Disease}
}

func splitFactors(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "；")
}

// TaskViewOf shows a task as of today.
func TaskViewOf(t PlanTask, today time.Time) TaskView {
	var due *time.Time
	if t.DueOn != nil {
		if d, err := ParseDay(*t.DueOn); err == nil {
			due = &d
		}
	}
	return TaskView{ID: t.ID, Key: t.ItemKey, Stage: t.StageKey, Kind: t.Kind, Title: t.Title, Owner: t.Owner,
		Channel: t.Channel, DueOn: t.DueOn, Status: TaskStatus(t.DoneAt != nil, due, today), DoneAt: t.DoneAt}
}

// Today is the hospital's date now.
func (s *Service) Today() time.Time { return DayOf(s.now(), s.loc) }

// StageRef names a stage.
type StageRef struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Phase string `json:"phase"`
}

// PlanSummary is a line in a patient's list of plans.
type PlanSummary struct {
	ID         string       `json:"id"`
	Status     string       `json:"status"`
	Pathway    PathwayRef   `json:"pathway"`
	Stage      StageRef     `json:"stage"`
	RiskLevel  string       `json:"risk_level"`
	EnrolledAt time.Time    `json:"enrolled_at"`
	ClosedAt   *time.Time   `json:"closed_at,omitempty"`
	Closure    *ClosureView `json:"closure,omitempty"`
}

func (s *Service) summaryOf(plan Plan) PlanSummary {
	sum := PlanSummary{ID: plan.ID, Status: plan.Status, Pathway: PathwayRef{Key: plan.PathwayKey, Version: plan.PathwayVersion},
		Stage: StageRef{Key: plan.StageKey}, RiskLevel: plan.RiskLevel, EnrolledAt: plan.CreatedAt, ClosedAt: plan.ClosedAt,
		Closure: closureOf(plan)}
	if p, ok := s.Pathways().Pathway(plan.PathwayKey); ok {
		sum.Pathway = refOf(p)
		if i := p.StageIndex(plan.StageKey); i >= 0 {
			sum.Stage = StageRef{Key: plan.StageKey, Name: p.Stages[i].Name, Phase: p.Stages[i].Phase}
		}
	}
	return sum
}

// Plans lists a patient's plans, newest first.
func (s *Service) Plans(ctx context.Context, patientID string) ([]PlanSummary, error) {
	plans, err := s.store.PlansOf(ctx, patientID, false)
	if err != nil {
		return nil, err
	}
	out := make([]PlanSummary, 0, len(plans))
	for _, p := range plans {
		out = append(out, s.summaryOf(p))
	}
	return out, nil
}

// HistoryView is one entry of a plan's history.
type HistoryView struct {
	Kind      string    `json:"kind"`
	From      string    `json:"from,omitempty"`
	To        string    `json:"to"`
	Date      string    `json:"date,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ActorKind string    `json:"actor_kind"`
	ActorID   string    `json:"actor_id,omitempty"`
	At        time.Time `json:"at"`
}

// History returns a plan's history, oldest first.
func (s *Service) History(ctx context.Context, patientID, planID string) ([]HistoryView, error) {
	plan, _, err := s.planOf(ctx, s.store, patientID, planID, false)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.History(ctx, plan.ID)
	if err != nil {
		return nil, err
	}
	out := make([]HistoryView, 0, len(rows))
	for _, h := range rows {
		out = append(out, HistoryView{Kind: h.Kind, From: h.FromValue, To: h.ToValue, Date: h.OnDate, Reason: h.Reason,
			ActorKind: h.ActorKind, ActorID: h.ActorID, At: h.At})
	}
	return out, nil
}

// CaseloadItem is one active plan in a staff member's list.
type CaseloadItem struct {
	PlanSummary
	PatientID    string    `json:"patient_id"`
	OverdueTasks int       `json:"overdue_tasks"`
	NextTask     *TaskView `json:"next_task"`
}

// Caseload lists the active plans of a staff member's patients.
func (s *Service) Caseload(ctx context.Context, q CaseloadQuery) ([]CaseloadItem, error) {
	if q.Pathway != "" {
		if _, ok := s.Pathways().Pathway(q.Pathway); !ok {
			return nil, apperr.Invalid("pathway", "unknown_pathway", fmt.Sprintf("没有路径 %q", q.Pathway))
		}
	}
	plans, err := s.store.Caseload(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("caseload: %w", err)
	}
	today := s.Today()
	out := make([]CaseloadItem, 0, len(plans))
	for _, plan := range plans {
		tasks, err := s.store.Tasks(ctx, plan.ID)
		if err != nil {
			return nil, err
		}
		item := CaseloadItem{PlanSummary: s.summaryOf(plan), PatientID: plan.PatientID}
		for _, t := range tasks {
			tv := TaskViewOf(t, today)
			if tv.Status == TaskOverdue {
				item.OverdueTasks++
			}
			if tv.Status != TaskDone && tv.DueOn != nil && (item.NextTask == nil || *tv.DueOn < *item.NextTask.DueOn) {
				next := tv
				item.NextTask = &next
			}
		}
		out = append(out, item)
	}
	return out, nil
}
