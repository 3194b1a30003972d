package app

import (
	"context"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/patient"
)

// accessLogDirectory names the people in a patient's access log, across
// the patient, accounts and family features.
type accessLogDirectory struct {
	patients *patient.Service
	accounts *auth.Store
	family   *family.Store
}

func (d accessLogDirectory) PatientUserID(ctx context.Context, patientID string) (string, error) {
	return d.patients.UserIDOf(ctx, patientID)
}

func (d accessLogDirectory) StaffName(ctx context.Context, staffID string) (string, error) {
	st, err := d.accounts.StaffByID(ctx, staffID)
	return st.DisplayName, err
}

func (d accessLogDirectory) Relationship(ctx context.Context, patientID, userID string) (string, bool, error) {
	return d.family.Relationship(ctx, patientID, userID)
}
