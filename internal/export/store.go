package export

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/questionnaire"
)

// Data is everything exported about one patient, as stored.
type Data struct {
	Patient        patient.Patient
	Observations   []observation.Reading
	Plans          []careplan.Plan
	Tasks          []careplan.PlanTask
	Appointments   []appointment.Appointment
	Messages       []messaging.Message
	Questionnaires []questionnaire.Assignment
}

// Store reads a patient's data with one query per kind of record (no query
// per row), read-only, through the features' own model types.
type Store struct{ db *gorm.DB }

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Load reads all of patientID's exportable records in one read transaction,
// so the copy is consistent.
func (s *Store) Load(ctx context.Context, patientID string) (Data, error) {
	var d Data
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", patientID).Take(&d.Patient).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return access.ErrPatientNotFound
			}
			return err
		}
		if err := tx.Where("patient_id = ?", patientID).Order("measured_at").Order("id").Find(&d.Observations).Error; err != nil {
			return fmt.Errorf("observations: %w", err)
		}
		if err := tx.Where("patient_id = ?", patientID).Order("created_at").Order("id").Find(&d.Plans).Error; err != nil {
			return fmt.Errorf("care plans: %w", err)
		}
		if err := tx.Where("patient_id = ?", patientID).Order("plan_id").Order("position").Order("id").Find(&d.Tasks).Error; err != nil {
			return fmt.Errorf("plan tasks: %w", err)
		}
		// A proposal the CM has not accepted is not (yet) the patient's.
		if err := tx.Where("patient_id = ?", patientID).Where(appointment.PatientSeesSQL).Order("starts_at").Order("id").Find(&d.Appointments).Error; err != nil {
			return fmt.Errorf("appointments: %w", err)
		}
		// The patient's side of the thread: what they and their family saw.
		// Staff-only notes, system entries and recalled messages are not theirs.
		threads := tx.Model(&messaging.Thread{}).Select("id").Where("patient_id = ?", patientID)
		if err := tx.Where("thread_id IN (?) AND internal = ? AND kind IN ? AND recalled_at IS NULL", threads, false,
			[]string{messaging.KindText, messaging.KindImage}).Order("created_at").Order("seq").Find(&d.Messages).Error; err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		if err := tx.Where("patient_id = ? AND status = ?", patientID, questionnaire.StatusAnswered).
			Order("answered_at").Order("id").Find(&d.Questionnaires).Error; err != nil {
			return fmt.Errorf("questionnaires: %w", err)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, access.ErrPatientNotFound) {
			return Data{}, err
		}
		return Data{}, fmt.Errorf("load export of patient %s: %w", patientID, err)
	}
	return d, nil
}
