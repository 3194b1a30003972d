package app

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/education"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/kpi"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/questionnaire"
)

// careTeam tells the care plan who a patient's case manager is.
type careTeam struct {
	patients *patient.Store
}

func (t careTeam) CaseManagerOf(ctx context.Context, patientID string) (*careplan.CaseManager, error) {
	team, err := t.patients.CareTeamOf(ctx, patientID)
	if err != nil {
		return nil, err
	}
	if team.AssignedCMID == nil || team.AssignedCMName == nil {
		return nil, nil
	}
	cm := &careplan.CaseManager{ID: *team.AssignedCMID, Name: *team.AssignedCMName}
	if team.AssignedCMDepartment != nil {
		cm.Department = *team.AssignedCMDepartment
	}
	return cm, nil
}

// planPositions tells education where care plans stand.
type planPositions struct{ plans *careplan.Service }

func (p planPositions) Position(ctx context.Context, planID string) (education.Position, bool, error) {
	pos, ok, err := p.plans.Position(ctx, planID)
	return educationPosition(pos), ok, err
}

func (p planPositions) ActivePositions(ctx context.Context) ([]education.Position, error) {
	list, err := p.plans.ActivePositions(ctx)
	out := make([]education.Position, len(list))
	for i, pos := range list {
		out[i] = educationPosition(pos)
	}
	return out, err
}

func educationPosition(pos careplan.Position) education.Position {
	refs := make([]education.Ref, len(pos.Education))
	for i, r := range pos.Education {
		refs[i] = education.Ref{Article: r.Article, Day: r.Day}
	}
	return education.Position{PatientID: pos.PatientID, PlanID: pos.PlanID, Pathway: pos.Pathway, Stage: pos.Stage,
		StageDay: pos.StageDay, Refs: refs}
}

// followupPlans tells follow-ups which ones the care plans call for.
type followupPlans struct{ plans *careplan.Service }

func (p followupPlans) FollowupSchedules(ctx context.Context) ([]followup.Schedule, error) {
	list, err := p.plans.FollowupSchedules(ctx)
	out := make([]followup.Schedule, len(list))
	for i, s := range list {
		items := make([]followup.Item, len(s.Items))
		for j, it := range s.Items {
			items[j] = followup.Item{Key: it.Key, Title: it.Title, Channel: it.Channel}
			if it.DueOn != nil {
				items[j].DueOn = *it.DueOn
			}
		}
		out[i] = followup.Schedule{PatientID: s.PatientID, PlanID: s.PlanID, RiskLevel: s.RiskLevel, Items: items}
	}
	return out, err
}

// departmentLeads finds the lead of a patient's department, where overdue
// follow-ups are escalated.
type departmentLeads struct{ db *gorm.DB }

func (d departmentLeads) LeadOf(ctx context.Context, patientID string) (string, error) {
	var ids []string
	err := d.db.WithContext(ctx).Table("staff").Select("staff.id").
		Joins("JOIN patients ON patients.department_id = staff.department_id AND patients.hospital_id = staff.hospital_id").
		Where("patients.id = ? AND staff.role = ? AND staff.status = ?", patientID, auth.RoleLead, auth.StatusActive).
		Order("staff.id").Limit(1).Pluck("staff.id", &ids).Error
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// pathwayRhythms tells the KPIs which readings a pathway's stage asks for.
// It asks the care plans each time, so a pathway loaded from the desk counts.
type pathwayRhythms struct{ plans *careplan.Service }

func (r pathwayRhythms) StageVitals(pathway, stage string) []kpi.Vital {
	p, ok := r.plans.Pathways().Pathway(pathway)
	if !ok {
		return nil
	}
	i := p.StageIndex(stage)
	if i < 0 {
		return nil
	}
	var out []kpi.Vital
	for _, v := range p.Stages[i].Vitals {
		out = append(out, kpi.Vital{Type: v.Type, EveryDays: v.EveryDays})
	}
	return out
}

// scheduledQuestionnaires tells questionnaires which ones the plans'
// follow-ups send on their due day.
type scheduledQuestionnaires struct{ plans *careplan.Service }

func (s scheduledQuestionnaires) ScheduledQuestionnaires(ctx context.Context) ([]questionnaire.Scheduled, error) {
	list, err := s.plans.FollowupSchedules(ctx)
	var out []questionnaire.Scheduled
	for _, fs := range list {
		for _, it := range fs.Items {
			if it.Questionnaire != "" && it.DueOn != nil {
				out = append(out, questionnaire.Scheduled{PatientID: fs.PatientID, PlanID: fs.PlanID, ItemKey: it.Key,
					Questionnaire: it.Questionnaire, DueOn: *it.DueOn})
			}
		}
	}
	return out, err
}

// checkPathwayQuestionnaires refuses to start when a pathway names a
// questionnaire that is not loaded.
func checkPathwayQuestionnaires(lib *careplan.Library, qs *questionnaire.Library) error {
	for _, p := range lib.All() {
		for _, st := range p.Stages {
			for _, f := range st.Followups {
				if _, ok := qs.Get(f.Questionnaire); f.Questionnaire != "" && !ok {
					return fmt.Errorf("pathway %s: follow-up %s names questionnaire %q, which is not in configs/questionnaires", p.Key, f.Key, f.Questionnaire)
				}
			}
		}
	}
	return nil
}

// stageAppointments tells appointments which ones the plans' current
// stages propose, with the patient's hospital.
type stageAppointments struct {
	plans    *careplan.Service
	patients *patient.Store
}

func (s stageAppointments) StageProposals(ctx context.Context, planID string) (appointment.StageProposals, bool, error) {
	sa, ok, err := s.plans.StageAppointments(ctx, planID)
	if err != nil || !ok {
		return appointment.StageProposals{}, false, err
	}
	out, err := s.proposals(ctx, sa)
	return out, err == nil, err
}

func (s stageAppointments) ActiveStageProposals(ctx context.Context) ([]appointment.StageProposals, error) {
	list, err := s.plans.ActiveStageAppointments(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]appointment.StageProposals, 0, len(list))
	for _, sa := range list {
		sp, err := s.proposals(ctx, sa)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

func (s stageAppointments) proposals(ctx context.Context, sa careplan.StageAppointments) (appointment.StageProposals, error) {
	p, err := s.patients.ByID(ctx, sa.PatientID)
	if err != nil {
		return appointment.StageProposals{}, fmt.Errorf("load patient of plan %s: %w", sa.PlanID, err)
	}
	out := appointment.StageProposals{PatientID: sa.PatientID, HospitalID: p.HospitalID, PlanID: sa.PlanID}
	for _, it := range sa.Items {
		out.Items = append(out.Items, appointment.Proposal{Key: it.Key, Kind: it.Kind, Title: it.Title, DueOn: it.DueOn,
			At: it.At, DurationMinutes: it.DurationMinutes, Department: it.Department, Preparation: it.Preparation})
	}
	return out, nil
}
