package app

import (
	"context"
	"fmt"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/education"
	"github.com/carepath/carepath/internal/org"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/apperr"
)

// careTeam tells the care plan who a patient's case manager is.
type careTeam struct {
	patients *patient.Store
	accounts *auth.Store
	org      *org.Store
}

func (t careTeam) CaseManagerOf(ctx context.Context, patientID string) (*careplan.CaseManager, error) {
	p, err := t.patients.ByID(ctx, patientID)
	if err != nil {
		return nil, err
	}
	if p.AssignedCMID == nil {
		return nil, nil
	}
	st, err := t.accounts.StaffByID(ctx, *p.AssignedCMID)
	if err != nil {
		return nil, fmt.Errorf("load case manager: %w", err)
	}
	cm := &careplan.CaseManager{ID: st.ID, Name: st.DisplayName}
	if st.DepartmentID != nil {
		d, err := t.org.Department(ctx, *st.DepartmentID)
		if err != nil && !apperr.Is(err, apperr.KindNotFound) {
			return nil, err
		}
		cm.Department = d.Name
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
