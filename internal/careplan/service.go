package careplan

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
)

// AlertCounter counts a patient's critical alerts since a time (the alert feature).
type AlertCounter interface {
	CriticalAlerts(ctx context.Context, patientID string, since time.Time) (int, error)
}

// FollowupCounter counts a patient's missed follow-ups since a time (the follow-up feature).
type FollowupCounter interface {
	MissedFollowups(ctx context.Context, patientID string, since time.Time) (int, error)
}

// NoSignals answers zero to both until alerts and follow-up records exist.
type NoSignals struct{}

func (NoSignals) CriticalAlerts(context.Context, string, time.Time) (int, error)  { return 0, nil }
func (NoSignals) MissedFollowups(context.Context, string, time.Time) (int, error) { return 0, nil }

// CaseManager is who looks after a patient, for the plan page.
type CaseManager struct {
	ID         string
	Name       string
	Department string
}

// CareTeam finds a patient's case manager (nil when none is assigned).
type CareTeam interface {
	CaseManagerOf(ctx context.Context, patientID string) (*CaseManager, error)
}

// Service holds the rules of care plans.
type Service struct {
	store     *Store
	lib       atomic.Pointer[Library] // swapped whole by ReplacePathways
	loc       *time.Location
	now       func() time.Time
	alerts    AlertCounter
	followups FollowupCounter
	team      CareTeam
}

// Deps are what the service needs besides its store.
type Deps struct {
	Pathways  *Library
	Location  *time.Location
	Now       func() time.Time
	Alerts    AlertCounter    // nil: NoSignals
	Followups FollowupCounter // nil: NoSignals
	Team      CareTeam        // nil: plans show no case manager
}

// SetAlerts supplies the critical-alert counter after construction: the
// alert feature itself reads the care plan's thresholds, so one of the two
// must be given to the other once both exist.
func (s *Service) SetAlerts(a AlertCounter) { s.alerts = a }

// NewService builds the service.
func NewService(store *Store, d Deps) *Service {
	s := &Service{store: store, loc: d.Location, now: d.Now, alerts: d.Alerts, followups: d.Followups, team: d.Team}
	s.lib.Store(d.Pathways)
	if s.alerts == nil {
		s.alerts = NoSignals{}
	}
	if s.followups == nil {
		s.followups = NoSignals{}
	}
	return s
}

// Pathways returns the loaded pathways.
func (s *Service) Pathways() *Library { return s.lib.Load() }

// ReplacePathways puts lib in place of the running library, in this process
// only (it is not persisted: a restart loads configs/pathways again). Plans
// keep their pathway and stage keys, so every pathway and stage an active
// plan is in must still be in lib; otherwise nothing changes.
func (s *Service) ReplacePathways(ctx context.Context, lib *Library) error {
	inUse, err := s.store.ActiveStages(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for _, ps := range inUse {
		p, ok := lib.Pathway(ps.PathwayKey)
		switch {
		case !ok:
			missing = append(missing, ps.PathwayKey)
		case p.StageIndex(ps.StageKey) < 0:
			missing = append(missing, ps.PathwayKey+"."+ps.StageKey)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return ErrPathwayInUse.WithDetail("in_use", slices.Compact(missing))
	}
	s.lib.Store(lib)
	return nil
}

// who made a change, for the history.
type actorRef struct{ kind, id string }

var system = actorRef{kind: "system"}

func actorOf(a auth.Actor) actorRef { return actorRef{kind: string(a.Kind), id: a.ID} }

// Enrolment is what a CM knows when enrolling a patient.
type Enrolment struct {
	Pathway       string
	Anchors       map[string]string // event → YYYY-MM-DD; enrolment defaults to today
	Comorbidities []string          // nil keeps what is recorded
	// PlannedAdmission marks the admission in Anchors as planned (计划内入院):
	// a readmission is usually the admission of a new plan.
	PlannedAdmission bool
}

// Enrol instantiates a pathway for a patient: tasks with the due dates known
// so far, the stage the patient is in today, and the risk level.
func (s *Service) Enrol(ctx context.Context, a auth.Actor, patientID string, in Enrolment) (Plan, error) {
	p, ok := s.Pathways().Pathway(in.Pathway)
	if !ok {
		return Plan{}, apperr.Invalid("pathway", "unknown_pathway", fmt.Sprintf("没有路径 %q", in.Pathway))
	}
	now := s.now().UTC()
	days := map[string]time.Time{}
	for _, ev := range sortedKeys(in.Anchors) {
		d, err := s.eventDay(p, "anchors."+ev, "anchors."+ev, ev, in.Anchors[ev])
		if err != nil {
			return Plan{}, err
		}
		days[ev] = d
	}
	if _, ok := days[AnchorEnrolment]; !ok {
		days[AnchorEnrolment] = DayOf(now, s.loc)
	}
	if _, ok := days[AnchorAdmission]; in.PlannedAdmission && !ok {
		return Plan{}, apperr.Invalid("planned_admission", "planned_without_admission", "标记计划内入院时请填写入院日期")
	}
	checked := map[string]time.Time{}
	for _, ev := range Anchors {
		if d, ok := days[ev]; ok {
			if err := CheckEventOrder(checked, ev, d); err != nil {
				return Plan{}, err
			}
			checked[ev] = d
		}
	}
	if in.Comorbidities != nil {
		if err := validComorbidities(in.Comorbidities); err != nil {
			return Plan{}, err
		}
	}
	activeKey := patientID + ":" + p.Key
	plan := Plan{ID: database.NewID(), PatientID: patientID, PathwayKey: p.Key, PathwayVersion: p.Version,
		Status: StatusActive, ActiveKey: &activeKey, StageEnteredAt: now, EnrolledBy: a.ID, CreatedAt: now, UpdatedAt: now}
	who := actorOf(a)
	err := s.store.inTx(ctx, func(tx *Store) error {
		if in.Comorbidities != nil {
			if err := tx.SetComorbidities(ctx, patientID, in.Comorbidities, now); err != nil {
				return err
			}
		}
		risk, err := s.scoreRisk(ctx, tx, patientID, p, now)
		if err != nil {
			return err
		}
		plan.RiskLevel, plan.RiskComputed, plan.RiskFactors = risk.Level, risk.Level, strings.Join(risk.Factors, "；")
		if err := tx.CreatePlan(ctx, &plan); err != nil {
			return err
		}
		if err := tx.AddHistory(ctx, s.history(plan, HistoryEnrolment, "", p.Key, "", "入组："+p.Name, who, now)); err != nil {
			return err
		}
		for _, ev := range Anchors {
			d, ok := days[ev]
			if !ok {
				continue
			}
			planned := ev == AnchorAdmission && in.PlannedAdmission
			note := ""
			if planned {
				note = plannedNote
			}
			if err := tx.SetAnchor(ctx, Anchor{PlanID: plan.ID, Anchor: ev, OnDate: FormatDay(d), Planned: planned, RecordedAt: now, RecordedBy: a.ID}); err != nil {
				return err
			}
			if err := tx.AddHistory(ctx, s.history(plan, HistoryEvent, "", ev, FormatDay(d), note, who, now)); err != nil {
				return err
			}
		}
		if err := tx.CreateTasks(ctx, instantiate(p, plan)); err != nil {
			return err
		}
		if _, err := s.sync(ctx, tx, &plan, p, TriggerEnrolment, who, now); err != nil {
			return err
		}
		return s.syncPatientRisk(ctx, tx, patientID)
	})
	if err != nil {
		return Plan{}, fmt.Errorf("enrol %s in %s: %w", patientID, p.Key, err)
	}
	return plan, nil
}

// instantiate creates the plan's tasks and follow-ups, undated; sync dates them.
func instantiate(p *Pathway, plan Plan) []PlanTask {
	var out []PlanTask
	add := func(stage, key, kind, title, owner, channel string) {
		out = append(out, PlanTask{ID: database.NewID(), PlanID: plan.ID, ItemKey: key, PatientID: plan.PatientID, StageKey: stage,
			Kind: kind, Title: title, Owner: owner, Channel: channel, Position: len(out), CreatedAt: plan.CreatedAt, UpdatedAt: plan.CreatedAt})
	}
	for _, st := range p.Stages {
		for _, t := range st.Tasks {
			add(st.Key, t.Key, KindTask, t.Title, t.Owner, "")
		}
		for _, f := range st.Followups {
			add(st.Key, f.Key, KindFollowup, f.Title, OwnerCM, f.Channel)
		}
	}
	return out
}

// eventDay validates an event name and its day ("" is today).
func (s *Service) eventDay(p *Pathway, field, dateField, event, value string) (time.Time, error) {
	if !contains(Anchors, event) {
		return time.Time{}, apperr.Invalid(field, "unknown_event", fmt.Sprintf("未知事件 %q，应为 %s 之一", event, strings.Join(Anchors, "、")))
	}
	if event != AnchorEnrolment && !p.UsesAnchor(event) {
		return time.Time{}, apperr.Invalid(field, "event_not_in_pathway", fmt.Sprintf("路径“%s”不使用事件 %s", p.Name, event))
	}
	if value == "" {
		return DayOf(s.now(), s.loc), nil
	}
	d, err := ParseDay(value)
	if err != nil {
		return time.Time{}, apperr.Invalid(dateField, "invalid_date", "日期格式应为 YYYY-MM-DD")
	}
	return d, nil
}

// Event is an event as staff record it.
type Event struct {
	Name string // one of Anchors
	Date string // YYYY-MM-DD; "" is today
	// Planned: admissions only, planned ahead (计划内入院, e.g. the next
	// chemotherapy cycle); nil keeps what is recorded (unplanned when new),
	// so correcting an admission's date does not change it.
	Planned *bool
}

// plannedNote is the history's reason for a planned admission, so a
// correction between planned and unplanned shows in the plan's history.
const plannedNote = "计划内入院"

// RecordEvent records (or corrects) an event of a plan; the plan re-computes
// its due dates and moves to the stage the event opens. A correction replaces
// the record; an admission keeps whether it was planned unless Planned says.
func (s *Service) RecordEvent(ctx context.Context, a auth.Actor, patientID, planID string, ev Event) (Plan, error) {
	event := ev.Name
	plan, p, err := s.planOf(ctx, s.store, patientID, planID, false)
	if err != nil {
		return Plan{}, err
	}
	day, err := s.eventDay(p, "event", "date", event, ev.Date)
	if err != nil {
		return Plan{}, err
	}
	if ev.Planned != nil && event != AnchorAdmission {
		return Plan{}, ErrPlannedNotAdmission
	}
	now := s.now().UTC()
	err = s.store.inTx(ctx, func(tx *Store) error {
		if plan, p, err = s.planOf(ctx, tx, patientID, planID, true); err != nil {
			return err
		}
		if plan.Status != StatusActive {
			return ErrPlanClosed
		}
		anchors, err := tx.Anchors(ctx, plan.ID)
		if err != nil {
			return err
		}
		recorded, previous, planned := map[string]time.Time{}, "", false
		for _, an := range anchors {
			if an.Anchor == event {
				previous, planned = an.OnDate, an.Planned
				continue
			}
			if d, err := ParseDay(an.OnDate); err == nil {
				recorded[an.Anchor] = d
			}
		}
		if err := CheckEventOrder(recorded, event, day); err != nil {
			return err
		}
		if ev.Planned != nil {
			planned = *ev.Planned
		}
		note := ""
		if planned {
			note = plannedNote
		}
		if err := tx.SetAnchor(ctx, Anchor{PlanID: plan.ID, Anchor: event, OnDate: FormatDay(day), Planned: planned, RecordedAt: now, RecordedBy: a.ID}); err != nil {
			return err
		}
		if err := tx.AddHistory(ctx, s.history(plan, HistoryEvent, previous, event, FormatDay(day), note, actorOf(a), now)); err != nil {
			return err
		}
		_, err = s.sync(ctx, tx, &plan, p, TriggerEvent, actorOf(a), now)
		return err
	})
	return plan, err
}

// Transition moves a plan to a stage by hand; the reason is kept.
func (s *Service) Transition(ctx context.Context, a auth.Actor, patientID, planID, stage, reason string) (Plan, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 200 {
		return Plan{}, apperr.Invalid("reason", "invalid_reason", "请填写调整原因（不超过 200 字）")
	}
	now := s.now().UTC()
	var plan Plan
	err := s.store.inTx(ctx, func(tx *Store) error {
		var p *Pathway
		var err error
		if plan, p, err = s.planOf(ctx, tx, patientID, planID, true); err != nil {
			return err
		}
		idx := p.StageIndex(stage)
		if idx < 0 {
			return apperr.Invalid("stage", "unknown_stage", fmt.Sprintf("路径“%s”没有阶段 %q", p.Name, stage))
		}
		if plan.Status != StatusActive {
			return ErrPlanClosed
		}
		if plan.StageKey == stage {
			return ErrSameStage
		}
		return s.enterStage(ctx, tx, &plan, p, idx, TriggerManual, reason, actorOf(a), now)
	})
	return plan, err
}

// Risk override levels; RiskAuto hands the level back to the rules.
const RiskAuto = "auto"

// SetRisk overrides a plan's risk level (or returns it to the rules) with a reason.
func (s *Service) SetRisk(ctx context.Context, a auth.Actor, patientID, planID, level, reason string) (Plan, error) {
	if level != RiskAuto && !contains(riskLevels, level) {
		return Plan{}, apperr.Invalid("level", "invalid_risk_level", "level 必须是 low、medium、high 或 auto")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 200 {
		return Plan{}, apperr.Invalid("reason", "invalid_reason", "请填写调整原因（不超过 200 字）")
	}
	now := s.now().UTC()
	var plan Plan
	err := s.store.inTx(ctx, func(tx *Store) error {
		var err error
		if plan, _, err = s.planOf(ctx, tx, patientID, planID, true); err != nil {
			return err
		}
		if plan.Status != StatusActive {
			return ErrPlanClosed
		}
		from := plan.RiskLevel
		plan.RiskOverride, plan.RiskLevel = nil, plan.RiskComputed
		if level != RiskAuto {
			plan.RiskOverride, plan.RiskLevel = &level, level
		}
		plan.RiskReason = reason
		if err := tx.UpdatePlan(ctx, plan.ID, map[string]any{"risk_override": plan.RiskOverride, "risk_level": plan.RiskLevel, "risk_reason": reason}); err != nil {
			return err
		}
		if err := tx.AddHistory(ctx, s.history(plan, HistoryRisk, from, plan.RiskLevel, "", reason, actorOf(a), now)); err != nil {
			return err
		}
		return s.syncPatientRisk(ctx, tx, patientID)
	})
	return plan, err
}

// Closure is why a CM closes a plan (结案).
type Closure struct {
	Reason string // one of CloseReasons
	Note   string // required for CloseOther; at most 200 characters
}

// Close ends a plan (结案): it stops advancing, proposing and reminding,
// and the patient may be enrolled in the same pathway again. The reason,
// the note (sealed) and who closed it are kept, with a history entry.
func (s *Service) Close(ctx context.Context, a auth.Actor, patientID, planID string, in Closure) (Plan, error) {
	if !slices.ContainsFunc(CloseReasons, func(r CloseReason) bool { return r.Code == in.Reason }) {
		return Plan{}, apperr.Invalid("reason", "invalid_close_reason", "结案原因应为 goals_met、transferred、died、declined、lost_to_follow_up 或 other")
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > 200 {
		return Plan{}, apperr.Invalid("note", "invalid_note", "结案说明不超过 200 字")
	}
	if in.Reason == CloseOther && note == "" {
		return Plan{}, apperr.Invalid("note", "close_note_required", "结案原因为“其他”时请填写说明")
	}
	now := s.now().UTC()
	var plan Plan
	err := s.store.inTx(ctx, func(tx *Store) error {
		// Without its pathway: a plan whose pathway is no longer shipped
		// can still be closed.
		var err error
		if plan, err = patientPlan(ctx, tx, patientID, planID, true); err != nil {
			return err
		}
		if plan.Status != StatusActive {
			return ErrAlreadyClosed
		}
		plan.Status, plan.ActiveKey, plan.ClosedAt, plan.ClosedBy = StatusClosed, nil, &now, a.ID
		plan.CloseReason, plan.CloseNote, plan.UpdatedAt = in.Reason, note, now
		if err := tx.UpdatePlan(ctx, plan.ID, map[string]any{"status": StatusClosed, "active_key": nil, "closed_at": now,
			"closed_by": a.ID, "close_reason": in.Reason, "close_note": note, "updated_at": now}); err != nil {
			return err
		}
		if err := tx.AddHistory(ctx, s.history(plan, HistoryClosure, plan.StageKey, in.Reason, "", note, actorOf(a), now)); err != nil {
			return err
		}
		if err := outbox.Add(tx.db, TopicPlanClosed, queue.Default, PlanClosed{PatientID: plan.PatientID, PlanID: plan.ID, Reason: in.Reason, At: now}); err != nil {
			return err
		}
		// The patient's level is that of the plans still open; with none
		// left it stays as last assessed.
		return s.syncPatientRisk(ctx, tx, patientID)
	})
	if err != nil {
		return Plan{}, fmt.Errorf("close plan %s: %w", planID, err)
	}
	return plan, nil
}

func validComorbidities(codes []string) error {
	if len(codes) > 30 {
		return apperr.Invalid("comorbidities", "too_many_comorbidities", "合并症最多 30 项")
	}
	for i, c := range codes {
		if _, ok := ComorbidityByCode(c); !ok {
			return apperr.Invalid(fmt.Sprintf("comorbidities[%d]", i), "unknown_comorbidity", fmt.Sprintf("未知的合并症代码 %q", c))
		}
	}
	return nil
}

// SetComorbidities replaces a patient's comorbidities and re-scores the risk
// of their active plans.
func (s *Service) SetComorbidities(ctx context.Context, patientID string, codes []string) ([]string, error) {
	if err := validComorbidities(codes); err != nil {
		return nil, err
	}
	codes = dedupe(codes)
	now := s.now().UTC()
	err := s.store.inTx(ctx, func(tx *Store) error {
		if err := tx.SetComorbidities(ctx, patientID, codes, now); err != nil {
			return err
		}
		plans, err := tx.PlansOf(ctx, patientID, true)
		if err != nil {
			return err
		}
		for i := range plans {
			if p, ok := s.Pathways().Pathway(plans[i].PathwayKey); ok {
				if err := s.refreshRisk(ctx, tx, &plans[i], p, now); err != nil {
					return err
				}
			}
		}
		return s.syncPatientRisk(ctx, tx, patientID)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, x := range list {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// CompleteTask marks a task done. Patients and family may complete only
// patient-owned tasks; staff may complete any.
func (s *Service) CompleteTask(ctx context.Context, a auth.Actor, rel access.Relation, patientID, planID, taskID string) (PlanTask, error) {
	plan, _, err := s.planOf(ctx, s.store, patientID, planID, false)
	if err != nil {
		return PlanTask{}, err
	}
	t, err := s.store.Task(ctx, plan.ID, taskID)
	if err != nil {
		return PlanTask{}, err
	}
	if rel != access.RelationStaff && t.Owner != OwnerPatient {
		return PlanTask{}, ErrTaskNotOwned
	}
	if plan.Status != StatusActive {
		return PlanTask{}, ErrPlanClosed
	}
	if err := s.store.MarkTaskDone(ctx, t.ID, s.now().UTC(), string(a.Kind), a.ID); err != nil {
		return PlanTask{}, fmt.Errorf("complete task %s: %w", t.ID, err)
	}
	return s.store.Task(ctx, plan.ID, taskID)
}

// AdvanceDue moves every active plan whose next stage has arrived, refreshes
// due dates and risk levels, and returns how many plans changed stage. It is
// the periodic job; each plan is its own transaction.
func (s *Service) AdvanceDue(ctx context.Context) (int, error) {
	moved, after := 0, ""
	for {
		ids, err := s.store.ActivePlanIDs(ctx, after, 200)
		if err != nil {
			return moved, fmt.Errorf("scan plans: %w", err)
		}
		if len(ids) == 0 {
			return moved, nil
		}
		for _, id := range ids {
			changed, err := s.refresh(ctx, id)
			if err != nil {
				return moved, err
			}
			if changed {
				moved++
			}
		}
		after = ids[len(ids)-1]
	}
}

func (s *Service) refresh(ctx context.Context, planID string) (bool, error) {
	now := s.now().UTC()
	changed := false
	err := s.store.inTx(ctx, func(tx *Store) error {
		plan, err := tx.Plan(ctx, planID, true)
		if err != nil || plan.Status != StatusActive {
			return err
		}
		p, ok := s.Pathways().Pathway(plan.PathwayKey)
		if !ok {
			return nil // a pathway no longer shipped: the plan stays where it is
		}
		if changed, err = s.sync(ctx, tx, &plan, p, TriggerDay, system, now); err != nil {
			return err
		}
		before := plan.RiskLevel
		if err := s.refreshRisk(ctx, tx, &plan, p, now); err != nil || plan.RiskLevel == before {
			return err
		}
		return s.syncPatientRisk(ctx, tx, plan.PatientID)
	})
	if err != nil {
		return false, fmt.Errorf("refresh plan %s: %w", planID, err)
	}
	return changed, nil
}

// planOf loads a plan of the patient (404 for another patient's) and its pathway.
func (s *Service) planOf(ctx context.Context, st *Store, patientID, planID string, lock bool) (Plan, *Pathway, error) {
	plan, err := patientPlan(ctx, st, patientID, planID, lock)
	if err != nil {
		return Plan{}, nil, err
	}
	p, ok := s.Pathways().Pathway(plan.PathwayKey)
	if !ok {
		return Plan{}, nil, fmt.Errorf("plan %s: pathway %s is not loaded", plan.ID, plan.PathwayKey)
	}
	return plan, p, nil
}

// patientPlan returns the patient's plan planID (not found when it is
// another patient's).
func patientPlan(ctx context.Context, st *Store, patientID, planID string, lock bool) (Plan, error) {
	if len(planID) > 36 {
		return Plan{}, ErrPlanNotFound
	}
	plan, err := st.Plan(ctx, planID, lock)
	if err != nil {
		return Plan{}, err
	}
	if plan.PatientID != patientID {
		return Plan{}, ErrPlanNotFound
	}
	return plan, nil
}

func anchorDates(anchors []Anchor) map[string]AnchorDate {
	out := map[string]AnchorDate{}
	for _, a := range anchors {
		if d, err := ParseDay(a.OnDate); err == nil {
			out[a.Anchor] = AnchorDate{On: d, KnownAt: a.RecordedAt}
		}
	}
	return out
}

// sync re-computes due dates from the recorded events and moves the plan to
// the stage that has arrived. It reports whether the stage changed.
func (s *Service) sync(ctx context.Context, tx *Store, plan *Plan, p *Pathway, trigger string, who actorRef, now time.Time) (bool, error) {
	anchors, err := tx.Anchors(ctx, plan.ID)
	if err != nil {
		return false, err
	}
	stages, items := Schedule(p, anchorDates(anchors))
	tasks, err := tx.Tasks(ctx, plan.ID)
	if err != nil {
		return false, err
	}
	for _, t := range tasks {
		var want *string
		if it, ok := items[t.ItemKey]; ok && it.On != nil {
			d := FormatDay(*it.On)
			want = &d
		}
		if (want == nil) != (t.DueOn == nil) || want != nil && *want != *t.DueOn {
			if err := tx.SetTaskDue(ctx, t.ID, want); err != nil {
				return false, err
			}
		}
	}
	cur := p.StageIndex(plan.StageKey)
	next := NextStage(stages, cur, plan.StageManualAt, now, s.loc)
	if next == cur || next < 0 {
		return false, nil
	}
	return true, s.enterStage(ctx, tx, plan, p, next, trigger, "", who, now)
}

var triggerReasons = map[string]string{
	TriggerEnrolment: "入组时所处阶段",
	TriggerEvent:     "记录事件后自动进入",
	TriggerDay:       "到达阶段开始日期自动进入",
}

// enterStage moves the plan into stage idx, keeps the history and announces
// the change through the outbox in the same transaction.
func (s *Service) enterStage(ctx context.Context, tx *Store, plan *Plan, p *Pathway, idx int, trigger, reason string, who actorRef, now time.Time) error {
	st := p.Stages[idx]
	from := plan.StageKey
	cols := map[string]any{"stage_key": st.Key, "stage_entered_at": now}
	if trigger == TriggerManual {
		cols["stage_manual_at"] = now
		plan.StageManualAt = &now
	} else {
		reason = triggerReasons[trigger]
	}
	if err := tx.UpdatePlan(ctx, plan.ID, cols); err != nil {
		return err
	}
	plan.StageKey, plan.StageEnteredAt = st.Key, now
	if err := tx.AddHistory(ctx, s.history(*plan, HistoryStage, from, st.Key, "", reason, who, now)); err != nil {
		return err
	}
	return outbox.Add(tx.db, TopicStageChanged, queue.Default, StageChanged{
		PatientID: plan.PatientID, PlanID: plan.ID, Pathway: p.Key, From: from, To: st.Key,
		StageName: st.Name, Message: st.Message, Trigger: trigger, At: now,
	})
}

func (s *Service) history(plan Plan, kind, from, to, on, reason string, who actorRef, now time.Time) HistoryEntry {
	return HistoryEntry{PlanID: plan.ID, PatientID: plan.PatientID, Kind: kind, FromValue: from, ToValue: to,
		OnDate: on, Reason: reason, ActorKind: who.kind, ActorID: who.id, At: now}
}

// scoreRisk gathers the inputs of the risk rules for a patient.
func (s *Service) scoreRisk(ctx context.Context, tx *Store, patientID string, p *Pathway, now time.Time) (RiskResult, error) {
	birth, err := tx.BirthDate(ctx, patientID)
	if err != nil {
		return RiskResult{}, err
	}
	codes, err := tx.Comorbidities(ctx, patientID)
	if err != nil {
		return RiskResult{}, err
	}
	alerts, err := s.alerts.CriticalAlerts(ctx, patientID, now.AddDate(0, 0, -30))
	if err != nil {
		return RiskResult{}, fmt.Errorf("count critical alerts: %w", err)
	}
	missed, err := s.followups.MissedFollowups(ctx, patientID, now.AddDate(0, 0, -90))
	if err != nil {
		return RiskResult{}, fmt.Errorf("count missed follow-ups: %w", err)
	}
	return ScoreRisk(RiskInput{BirthDate: birth, Today: DayOf(now, s.loc), Comorbidities: codes,
		CriticalAlerts: alerts, MissedFollowups: missed, Floor: p.RiskFloor}), nil
}

// refreshRisk re-scores a plan; an override stays in force.
func (s *Service) refreshRisk(ctx context.Context, tx *Store, plan *Plan, p *Pathway, now time.Time) error {
	r, err := s.scoreRisk(ctx, tx, plan.PatientID, p, now)
	if err != nil {
		return err
	}
	level := r.Level
	if plan.RiskOverride != nil {
		level = *plan.RiskOverride
	}
	factors := strings.Join(r.Factors, "；")
	if level == plan.RiskLevel && r.Level == plan.RiskComputed && factors == plan.RiskFactors {
		return nil
	}
	if err := tx.UpdatePlan(ctx, plan.ID, map[string]any{"risk_level": level, "risk_computed": r.Level, "risk_factors": factors}); err != nil {
		return err
	}
	if level != plan.RiskLevel {
		if err := tx.AddHistory(ctx, s.history(*plan, HistoryRisk, plan.RiskLevel, level, "", "按规则重新评估："+factors, system, now)); err != nil {
			return err
		}
	}
	plan.RiskLevel, plan.RiskComputed, plan.RiskFactors = level, r.Level, factors
	return nil
}

// syncPatientRisk writes the highest level of the patient's active plans
// onto the patient record.
func (s *Service) syncPatientRisk(ctx context.Context, tx *Store, patientID string) error {
	plans, err := tx.PlansOf(ctx, patientID, true)
	if err != nil || len(plans) == 0 {
		return err
	}
	levels := make([]string, len(plans))
	for i, p := range plans {
		levels[i] = p.RiskLevel
	}
	return tx.SetPatientRisk(ctx, patientID, HighestRisk(levels...))
}

// Position is where an active plan stands, for features that act on the
// stage (education pushes the stage's articles by day).
type Position struct {
	PatientID string
	PlanID    string
	Pathway   string
	Stage     string
	StageDay  int // days since the stage began, 0 on its first day
	Education []EducationRef
}

// Position returns where an active plan stands; false when it is closed or gone.
func (s *Service) Position(ctx context.Context, planID string) (Position, bool, error) {
	plan, err := s.store.Plan(ctx, planID, false)
	if apperr.Is(err, apperr.KindNotFound) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, err
	}
	return s.positionOf(ctx, plan)
}

func (s *Service) positionOf(ctx context.Context, plan Plan) (Position, bool, error) {
	p, ok := s.Pathways().Pathway(plan.PathwayKey)
	idx := -1
	if ok {
		idx = p.StageIndex(plan.StageKey)
	}
	if plan.Status != StatusActive || idx < 0 {
		return Position{}, false, nil
	}
	anchors, err := s.store.Anchors(ctx, plan.ID)
	if err != nil {
		return Position{}, false, err
	}
	stages, _ := Schedule(p, anchorDates(anchors))
	today := DayOf(s.now(), s.loc)
	start := DayOf(plan.StageEnteredAt, s.loc)
	if on := stages[idx].On; on != nil && !on.After(today) {
		start = *on
	}
	st := p.Stages[idx]
	return Position{PatientID: plan.PatientID, PlanID: plan.ID, Pathway: p.Key, Stage: st.Key,
		StageDay: max(DaysBetween(start, today), 0), Education: st.Education}, true, nil
}

// Closed reports whether a plan has been closed (结案); a plan that does
// not exist is not. Reminders of work a plan sent earlier ask it.
func (s *Service) Closed(ctx context.Context, planID string) (bool, error) {
	plan, err := s.store.Plan(ctx, planID, false)
	if apperr.Is(err, apperr.KindNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return plan.Status == StatusClosed, nil
}

// ActivePositions returns where every active plan stands.
func (s *Service) ActivePositions(ctx context.Context) ([]Position, error) {
	return collectActive(ctx, s, s.Position)
}

// collectActive asks of every active plan, 200 ids at a time, and keeps the
// answers that exist.
func collectActive[T any](ctx context.Context, s *Service, of func(context.Context, string) (T, bool, error)) ([]T, error) {
	var out []T
	after := ""
	for {
		ids, err := s.store.ActivePlanIDs(ctx, after, 200)
		if err != nil || len(ids) == 0 {
			return out, err
		}
		for _, id := range ids {
			v, ok, err := of(ctx, id)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, v)
			}
		}
		after = ids[len(ids)-1]
	}
}

// currentStages returns the current stage of each of the patient's active plans.
func (s *Service) currentStages(ctx context.Context, patientID string) ([]Stage, error) {
	plans, err := s.store.PlansOf(ctx, patientID, true)
	if err != nil {
		return nil, err
	}
	var out []Stage
	for _, plan := range plans {
		if p, ok := s.Pathways().Pathway(plan.PathwayKey); ok {
			if i := p.StageIndex(plan.StageKey); i >= 0 {
				out = append(out, p.Stages[i])
			}
		}
	}
	return out, nil
}

// ThresholdOverrides returns the alert threshold overrides of the patient's
// current stages (the stricter value where several plans are active), keyed
// as in ThresholdKeys, e.g. {"weight_gain_kg_3d": 2, "no_report_days": 2}.
// Keys not present keep the alert feature's defaults.
func (s *Service) ThresholdOverrides(ctx context.Context, patientID string) (map[string]float64, error) {
	stages, err := s.currentStages(ctx, patientID)
	if err != nil {
		return nil, err
	}
	sets := make([]map[string]float64, len(stages))
	for i, st := range stages {
		sets[i] = st.Thresholds
	}
	return MergeThresholds(sets...), nil
}

// ReportingSince is when the patient's current expectations began: the
// latest moment one of their active plans entered its current stage (zero
// without an active plan). A "no report for N days" alert counts from here,
// so a stage that has just begun is not already overdue.
func (s *Service) ReportingSince(ctx context.Context, patientID string) (time.Time, error) {
	plans, err := s.store.PlansOf(ctx, patientID, true)
	if err != nil {
		return time.Time{}, err
	}
	var since time.Time
	for _, plan := range plans {
		if plan.StageEnteredAt.After(since) {
			since = plan.StageEnteredAt
		}
	}
	return since, nil
}

// ExpectedReporting returns the vitals the patient's current stages ask for
// and how often (the most frequent where several plans ask for the same type).
func (s *Service) ExpectedReporting(ctx context.Context, patientID string) ([]VitalExpectation, error) {
	stages, err := s.currentStages(ctx, patientID)
	if err != nil {
		return nil, err
	}
	lists := make([][]VitalExpectation, len(stages))
	for i, st := range stages {
		lists[i] = st.Vitals
	}
	return MergeVitals(lists...), nil
}

// Reporting is what a patient's active plans say for the no-report rule:
// the merged threshold overrides and expected vitals of their current
// stages, and when those expectations began (as ThresholdOverrides,
// ExpectedReporting and ReportingSince, for one patient).
type Reporting struct {
	Thresholds map[string]float64
	Vitals     []VitalExpectation
	Since      time.Time
}

// ReportingOf answers ThresholdOverrides, ExpectedReporting and
// ReportingSince for a page of patients with one query. Patients without
// an active plan are absent from the map.
func (s *Service) ReportingOf(ctx context.Context, patientIDs []string) (map[string]Reporting, error) {
	plans, err := s.store.ActivePlansOfPatients(ctx, patientIDs)
	if err != nil {
		return nil, err
	}
	byPatient := map[string][]Plan{}
	for _, plan := range plans {
		byPatient[plan.PatientID] = append(byPatient[plan.PatientID], plan)
	}
	out := make(map[string]Reporting, len(byPatient))
	for id, ps := range byPatient {
		var r Reporting
		var sets []map[string]float64
		var lists [][]VitalExpectation
		for _, plan := range ps {
			if plan.StageEnteredAt.After(r.Since) {
				r.Since = plan.StageEnteredAt
			}
			if p, ok := s.Pathways().Pathway(plan.PathwayKey); ok {
				if i := p.StageIndex(plan.StageKey); i >= 0 {
					sets = append(sets, p.Stages[i].Thresholds)
					lists = append(lists, p.Stages[i].Vitals)
				}
			}
		}
		r.Thresholds, r.Vitals = MergeThresholds(sets...), MergeVitals(lists...)
		out[id] = r
	}
	return out, nil
}

// FollowupSchedule is an active plan's follow-ups from its pathway, with the
// risk level in force, for the follow-up feature to schedule.
type FollowupSchedule struct {
	PatientID string
	PlanID    string
	RiskLevel string
	Items     []ScheduledFollowup
}

// ScheduledFollowup is one pathway follow-up; DueOn (YYYY-MM-DD, hospital
// zone) is nil until its anchor event is recorded.
type ScheduledFollowup struct {
	Key           string
	Title         string
	Channel       string
	DueOn         *string
	Questionnaire string // sent to the patient on the due day; "" for none
}

// FollowupSchedules returns the pathway follow-ups of every active plan.
func (s *Service) FollowupSchedules(ctx context.Context) ([]FollowupSchedule, error) {
	var out []FollowupSchedule
	after := ""
	for {
		ids, err := s.store.ActivePlanIDs(ctx, after, 200)
		if err != nil || len(ids) == 0 {
			return out, err
		}
		for _, id := range ids {
			plan, err := s.store.Plan(ctx, id, false)
			if err != nil {
				return nil, err
			}
			tasks, err := s.store.Tasks(ctx, id)
			if err != nil {
				return nil, err
			}
			fs := FollowupSchedule{PatientID: plan.PatientID, PlanID: plan.ID, RiskLevel: plan.RiskLevel}
			questionnaires := map[string]string{}
			if p, ok := s.Pathways().Pathway(plan.PathwayKey); ok {
				for _, st := range p.Stages {
					for _, f := range st.Followups {
						questionnaires[f.Key] = f.Questionnaire
					}
				}
			}
			for _, t := range tasks {
				if t.Kind == KindFollowup {
					fs.Items = append(fs.Items, ScheduledFollowup{Key: t.ItemKey, Title: t.Title, Channel: t.Channel, DueOn: t.DueOn,
						Questionnaire: questionnaires[t.ItemKey]})
				}
			}
			out = append(out, fs)
		}
		after = ids[len(ids)-1]
	}
}

// StageAppointments are the appointments an active plan's current stage
// proposes, for the appointment feature to put in the CM's queue.
type StageAppointments struct {
	PatientID string
	PlanID    string
	Stage     string
	Items     []ProposedAppointment
}

// ProposedAppointment is one appointment of a stage; DueOn (YYYY-MM-DD,
// hospital zone) is "" while its anchor event is unrecorded.
type ProposedAppointment struct {
	Appointment
	DueOn string
}

// StageAppointments returns what the plan's current stage proposes; false
// when the plan is closed or gone or its stage proposes nothing.
func (s *Service) StageAppointments(ctx context.Context, planID string) (StageAppointments, bool, error) {
	plan, err := s.store.Plan(ctx, planID, false)
	if apperr.Is(err, apperr.KindNotFound) {
		return StageAppointments{}, false, nil
	}
	if err != nil {
		return StageAppointments{}, false, err
	}
	p, ok := s.Pathways().Pathway(plan.PathwayKey)
	idx := -1
	if ok {
		idx = p.StageIndex(plan.StageKey)
	}
	if plan.Status != StatusActive || idx < 0 || len(p.Stages[idx].Appointments) == 0 {
		return StageAppointments{}, false, nil
	}
	anchors, err := s.store.Anchors(ctx, plan.ID)
	if err != nil {
		return StageAppointments{}, false, err
	}
	_, items := Schedule(p, anchorDates(anchors))
	out := StageAppointments{PatientID: plan.PatientID, PlanID: plan.ID, Stage: plan.StageKey}
	for _, a := range p.Stages[idx].Appointments {
		pa := ProposedAppointment{Appointment: a}
		if t := items[a.Key]; t.On != nil {
			pa.DueOn = FormatDay(*t.On)
		}
		out.Items = append(out.Items, pa)
	}
	return out, true, nil
}

// ActiveStageAppointments returns what the current stage of every active
// plan proposes (the periodic catch-up, for an anchor recorded after the
// stage began).
func (s *Service) ActiveStageAppointments(ctx context.Context) ([]StageAppointments, error) {
	return collectActive(ctx, s, s.StageAppointments)
}
