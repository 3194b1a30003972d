package careplan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
)

// Store reads and writes plans, their events, tasks and history.
type Store struct {
	db     *gorm.DB
	sealer Sealer
}

// Sealer encrypts the reasons a CM types (risk override, stage change) at rest (fieldcrypt).
type Sealer interface {
	fieldcrypt.Opener
	Seal(plaintext string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Sealed returns a store that seals the reasons it writes and opens the
// sealed ones it reads; reasons written in the clear (before migration
// 0015, or by a store without a sealer) are read as they are.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, sealer: sealer} }

// inTx runs fn with a store bound to one transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return fn(&Store{db: tx, sealer: s.sealer}) })
}

var (
	sealedRiskReasons    = database.Sealed{Table: "care_plans", Flag: "risk_reason_sealed", Columns: []string{"risk_reason"}}
	sealedHistoryReasons = database.Sealed{Table: "care_plan_history", Flag: "reason_sealed", Columns: []string{"reason"}}
	sealedCloseNotes     = database.Sealed{Table: "care_plans", Flag: "close_note_sealed", Columns: []string{"close_note"}}
)

// seal seals one reason; the flag says whether the stored value is sealed.
func (s *Store) seal(reason string) (string, bool, error) {
	out, sealed, err := fieldcrypt.SealValue(s.sealer, reason)
	if err != nil {
		return "", false, fmt.Errorf("seal plan reason: %w", err)
	}
	return out, sealed, nil
}

// opened returns ps with their risk reasons and closing notes opened.
func (s *Store) opened(ps []Plan) ([]Plan, error) {
	for i := range ps {
		if err := fieldcrypt.OpenFields(s.sealer, &ps[i].RiskReasonSealed, &ps[i].RiskReason); err != nil {
			return nil, fmt.Errorf("open risk reason of plan %s: %w", ps[i].ID, err)
		}
		if err := fieldcrypt.OpenFields(s.sealer, &ps[i].CloseNoteSealed, &ps[i].CloseNote); err != nil {
			return nil, fmt.Errorf("open closing note of plan %s: %w", ps[i].ID, err)
		}
	}
	return ps, nil
}

// Reseal seals up to batch risk reasons, as many closing notes and as many
// history reasons written in the clear and returns how many it sealed (see
// database.Reseal); 0 means done.
func (s *Store) Reseal(ctx context.Context, batch int) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("careplan: reseal needs a sealer")
	}
	total := 0
	for _, c := range []database.Sealed{sealedRiskReasons, sealedCloseNotes, sealedHistoryReasons} {
		n, err := database.Reseal(ctx, s.db, c, s.sealer.Seal, batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// CreatePlan inserts p; a second active plan of the same pathway is ErrAlreadyEnrolled.
func (s *Store) CreatePlan(ctx context.Context, p *Plan) error {
	if err := s.db.WithContext(ctx).Create(p).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrAlreadyEnrolled
		}
		return fmt.Errorf("create plan: %w", err)
	}
	return nil
}

// Plan returns a plan by id; with lock, the row is locked for the
// transaction on MySQL (SQLite transactions already hold the write lock).
func (s *Store) Plan(ctx context.Context, id string, lock bool) (Plan, error) {
	db := s.db.WithContext(ctx)
	if lock && database.IsMySQL(db) {
		db = db.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var p Plan
	err := db.Where("id = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Plan{}, ErrPlanNotFound
	}
	if err != nil {
		return Plan{}, fmt.Errorf("load plan %s: %w", id, err)
	}
	ps, err := s.opened([]Plan{p})
	if err != nil {
		return Plan{}, err
	}
	return ps[0], nil
}

// PlansOf lists a patient's plans, newest first; activeOnly limits to active ones.
func (s *Store) PlansOf(ctx context.Context, patientID string, activeOnly bool) ([]Plan, error) {
	db := s.db.WithContext(ctx).Where("patient_id = ?", patientID)
	if activeOnly {
		db = db.Where("status = ?", StatusActive)
	}
	var out []Plan
	if err := db.Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list plans of %s: %w", patientID, err)
	}
	return s.opened(out)
}

// ActivePlansOfPatients returns the active plans of several patients in one
// query (ix_care_plans_patient), newest first per patient.
func (s *Store) ActivePlansOfPatients(ctx context.Context, patientIDs []string) ([]Plan, error) {
	if len(patientIDs) == 0 {
		return nil, nil
	}
	var out []Plan
	err := s.db.WithContext(ctx).Where("patient_id IN ? AND status = ?", patientIDs, StatusActive).
		Order("patient_id, id DESC").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list active plans of %d patients: %w", len(patientIDs), err)
	}
	return s.opened(out)
}

// ActivePlanIDs pages through active plans by id.
func (s *Store) ActivePlanIDs(ctx context.Context, after string, limit int) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&Plan{}).Where("status = ? AND id > ?", StatusActive, after).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// PathwayStage is a pathway and one of its stages.
type PathwayStage struct {
	PathwayKey string
	StageKey   string
}

// ActiveStages lists the pathways and stages active plans are in.
func (s *Store) ActiveStages(ctx context.Context) ([]PathwayStage, error) {
	var out []PathwayStage
	err := s.db.WithContext(ctx).Model(&Plan{}).Where("status = ?", StatusActive).
		Distinct("pathway_key", "stage_key").Find(&out).Error
	return out, err
}

// UpdatePlan sets columns of a plan; a risk reason or closing note among them is sealed.
func (s *Store) UpdatePlan(ctx context.Context, id string, cols map[string]any) error {
	for _, c := range []database.Sealed{sealedRiskReasons, sealedCloseNotes} {
		if text, ok := cols[c.Columns[0]].(string); ok {
			var err error
			if cols[c.Columns[0]], cols[c.Flag], err = s.seal(text); err != nil {
				return err
			}
		}
	}
	if err := s.db.WithContext(ctx).Model(&Plan{}).Where("id = ?", id).Updates(cols).Error; err != nil {
		return fmt.Errorf("update plan %s: %w", id, err)
	}
	return nil
}

// Anchors returns a plan's recorded events.
func (s *Store) Anchors(ctx context.Context, planID string) ([]Anchor, error) {
	var out []Anchor
	err := s.db.WithContext(ctx).Where("plan_id = ?", planID).Order("on_date, anchor").Find(&out).Error
	return out, err
}

// SetAnchor records an event, replacing an earlier record of the same event.
// (It reads before writing: MySQL reports an update that changes nothing as
// no row affected, which must not look like a missing row.)
func (s *Store) SetAnchor(ctx context.Context, a Anchor) error {
	db := s.db.WithContext(ctx)
	var existing Anchor
	err := db.Where("plan_id = ? AND anchor = ?", a.PlanID, a.Anchor).Take(&existing).Error
	switch {
	case err == nil:
		if err := db.Model(&Anchor{}).Where("id = ?", existing.ID).
			Updates(map[string]any{"on_date": a.OnDate, "planned": a.Planned, "recorded_at": a.RecordedAt, "recorded_by": a.RecordedBy}).Error; err != nil {
			return fmt.Errorf("update anchor: %w", err)
		}
		return nil
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("find anchor: %w", err)
	}
	a.ID = database.NewID()
	if err := db.Create(&a).Error; err != nil {
		return fmt.Errorf("create anchor: %w", err)
	}
	return nil
}

// CreateTasks inserts a plan's tasks.
func (s *Store) CreateTasks(ctx context.Context, tasks []PlanTask) error {
	if len(tasks) == 0 {
		return nil
	}
	if err := s.db.WithContext(ctx).CreateInBatches(tasks, 100).Error; err != nil {
		return fmt.Errorf("create tasks: %w", err)
	}
	return nil
}

// Tasks returns a plan's tasks in pathway order.
func (s *Store) Tasks(ctx context.Context, planID string) ([]PlanTask, error) {
	var out []PlanTask
	err := s.db.WithContext(ctx).Where("plan_id = ?", planID).Order("position").Find(&out).Error
	return out, err
}

// Task returns one task of a plan.
func (s *Store) Task(ctx context.Context, planID, taskID string) (PlanTask, error) {
	var t PlanTask
	err := s.db.WithContext(ctx).Where("id = ? AND plan_id = ?", taskID, planID).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return PlanTask{}, ErrTaskNotFound
	}
	return t, err
}

// SetTaskDue changes a task's due day.
func (s *Store) SetTaskDue(ctx context.Context, id string, due *string) error {
	return s.db.WithContext(ctx).Model(&PlanTask{}).Where("id = ?", id).Update("due_on", due).Error
}

// MarkTaskDone marks a task done once; a second call changes nothing.
func (s *Store) MarkTaskDone(ctx context.Context, id string, at time.Time, byKind, byID string) error {
	return s.db.WithContext(ctx).Model(&PlanTask{}).Where("id = ? AND done_at IS NULL", id).
		Updates(map[string]any{"done_at": at, "done_by_kind": byKind, "done_by_id": byID}).Error
}

// AddHistory appends to a plan's history.
func (s *Store) AddHistory(ctx context.Context, h HistoryEntry) error {
	h.ID = database.NewID()
	var err error
	if h.Reason, h.ReasonSealed, err = s.seal(h.Reason); err != nil {
		return err
	}
	if err := s.db.WithContext(ctx).Create(&h).Error; err != nil {
		return fmt.Errorf("add plan history: %w", err)
	}
	return nil
}

// History returns a plan's history, oldest first.
func (s *Store) History(ctx context.Context, planID string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	if err := s.db.WithContext(ctx).Where("plan_id = ?", planID).Order("at, id").Find(&out).Error; err != nil {
		return nil, err
	}
	for i := range out {
		if err := fieldcrypt.OpenFields(s.sealer, &out[i].ReasonSealed, &out[i].Reason); err != nil {
			return nil, fmt.Errorf("open reason of plan history %s: %w", out[i].ID, err)
		}
	}
	return out, nil
}

// Comorbidities returns a patient's comorbidity codes.
func (s *Store) Comorbidities(ctx context.Context, patientID string) ([]string, error) {
	var codes []string
	err := s.db.WithContext(ctx).Model(&patientComorbidity{}).Where("patient_id = ?", patientID).
		Order("code").Pluck("code", &codes).Error
	return codes, err
}

// SetComorbidities replaces a patient's comorbidity codes.
func (s *Store) SetComorbidities(ctx context.Context, patientID string, codes []string, now time.Time) error {
	db := s.db.WithContext(ctx)
	if err := db.Where("patient_id = ?", patientID).Delete(&patientComorbidity{}).Error; err != nil {
		return fmt.Errorf("clear comorbidities: %w", err)
	}
	for _, c := range codes {
		if err := db.Create(&patientComorbidity{ID: database.NewID(), PatientID: patientID, Code: c, CreatedAt: now}).Error; err != nil {
			return fmt.Errorf("add comorbidity: %w", err)
		}
	}
	return nil
}

// BirthDate reads the patient's date of birth (nil when unknown).
func (s *Store) BirthDate(ctx context.Context, patientID string) (*time.Time, error) {
	var row struct{ BirthDate *time.Time }
	err := s.db.WithContext(ctx).Table("patients").Select("birth_date").Where("id = ?", patientID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrPlanNotFound
	}
	return row.BirthDate, err
}

// SetPatientRisk writes the risk level onto the patient record, where the
// caseload list filters by it.
func (s *Store) SetPatientRisk(ctx context.Context, patientID, level string) error {
	return s.db.WithContext(ctx).Table("patients").Where("id = ?", patientID).
		Updates(map[string]any{"risk_level": level, "updated_at": time.Now().UTC()}).Error
}

// CaseloadQuery filters the staff list of plans.
type CaseloadQuery struct {
	Scope     func(*gorm.DB) *gorm.DB // the staff member's patients (on table patients)
	Pathway   string
	RiskLevel string
	Cursor    string
	Limit     int
}

// Caseload lists active plans of the staff member's patients, newest first.
func (s *Store) Caseload(ctx context.Context, q CaseloadQuery) ([]Plan, error) {
	db := s.db.WithContext(ctx).Model(&Plan{}).Joins("JOIN patients ON patients.id = care_plans.patient_id").
		Scopes(q.Scope).Where("care_plans.status = ?", StatusActive)
	if q.Pathway != "" {
		db = db.Where("care_plans.pathway_key = ?", q.Pathway)
	}
	if q.RiskLevel != "" {
		db = db.Where("care_plans.risk_level = ?", q.RiskLevel)
	}
	if q.Cursor != "" {
		db = db.Where("care_plans.id < ?", q.Cursor)
	}
	var out []Plan
	if err := db.Select("care_plans.*").Order("care_plans.id DESC").Limit(q.Limit).Find(&out).Error; err != nil {
		return nil, err
	}
	return s.opened(out)
}
