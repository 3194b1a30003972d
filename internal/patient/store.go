package patient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// Store reads and writes patient records.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// ErrNotFound is returned for a missing patient.
var ErrNotFound = apperr.NotFound("患者")

// Create inserts p.
func (s *Store) Create(ctx context.Context, p *Patient) error {
	if err := s.db.WithContext(ctx).Create(p).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return apperr.New(apperr.KindConflict, "patient_exists", "该患者已存在")
		}
		return fmt.Errorf("create patient: %w", err)
	}
	return nil
}

// ByID returns a patient.
func (s *Store) ByID(ctx context.Context, id string) (Patient, error) {
	var p Patient
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Patient{}, ErrNotFound
	}
	return p, err
}

// CareTeam is who looks after a patient, as the alert rules and the care
// plan view show it.
type CareTeam struct {
	AssignedCMID         *string
	AssignedCMName       *string // the assigned case manager's display name (nil: no such staff)
	AssignedCMDepartment *string // the name of their department, if they have one
	CoveringCMID         *string
}

// CareTeamOf reads a patient's case managers, the assigned one's name and
// department in one statement (a report runs it for every reading, the home
// screen for every view).
func (s *Store) CareTeamOf(ctx context.Context, id string) (CareTeam, error) {
	var t CareTeam
	res := s.db.WithContext(ctx).Table("patients").
		Select("patients.assigned_cm_id, patients.covering_cm_id, staff.display_name AS assigned_cm_name, "+
			"departments.name AS assigned_cm_department").
		Joins("LEFT JOIN staff ON staff.id = patients.assigned_cm_id").
		Joins("LEFT JOIN departments ON departments.id = staff.department_id").
		Where("patients.id = ?", id).Limit(1).Scan(&t)
	if res.Error != nil {
		return CareTeam{}, fmt.Errorf("care team of patient: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return CareTeam{}, ErrNotFound
	}
	return t, nil
}

// SealedName is a patient's id and sealed name.
type SealedName struct{ ID, NameEnc string }

// SealedNames reads the sealed names of several patients in one statement.
func (s *Store) SealedNames(ctx context.Context, ids []string) ([]SealedName, error) {
	var rows []SealedName
	if err := s.db.WithContext(ctx).Model(&Patient{}).Select("id, name_enc").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("patient names: %w", err)
	}
	return rows, nil
}

// ByUserID returns the patient record of a WeChat user, if they are a patient.
func (s *Store) ByUserID(ctx context.Context, userID string) (Patient, bool, error) {
	var p Patient
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Patient{}, false, nil
	}
	return p, err == nil, err
}

// LinkUserByPhone links the one unlinked patient record whose phone index
// matches to userID. Nothing is linked when the user already is a patient or
// when the phone matches several unlinked records (a CM must resolve that).
func (s *Store) LinkUserByPhone(ctx context.Context, userID, phoneIndex string) (bool, error) {
	linked := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Patient{}).Where("user_id = ?", userID).Count(&n).Error; err != nil || n > 0 {
			return err
		}
		var ids []string
		if err := tx.Model(&Patient{}).Where("phone_index = ? AND user_id IS NULL AND status = ?", phoneIndex, StatusActive).
			Limit(2).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) != 1 {
			return nil
		}
		res := tx.Model(&Patient{}).Where("id = ? AND user_id IS NULL", ids[0]).Update("user_id", userID)
		linked = res.RowsAffected == 1
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("link patient by phone: %w", err)
	}
	return linked, nil
}

// ListQuery filters a staff member's patient list.
type ListQuery struct {
	Scope      func(*gorm.DB) *gorm.DB // which patients the staff member may see
	PhoneIndex string
	RiskLevel  string
	Cursor     string // the last id of the previous page
	Limit      int
}

// List returns patients newest first (ids are UUIDv7, time-ordered).
func (s *Store) List(ctx context.Context, q ListQuery) ([]Patient, error) {
	db := s.db.WithContext(ctx).Model(&Patient{}).Scopes(q.Scope)
	if q.PhoneIndex != "" {
		db = db.Where("patients.phone_index = ?", q.PhoneIndex)
	}
	if q.RiskLevel != "" {
		db = db.Where("patients.risk_level = ?", q.RiskLevel)
	}
	if q.Cursor != "" {
		db = db.Where("patients.id < ?", q.Cursor)
	}
	var out []Patient
	err := db.Order("patients.id DESC").Limit(q.Limit).Find(&out).Error
	return out, err
}

// SetCoveringCM sets the patient's covering case manager.
func (s *Store) SetCoveringCM(ctx context.Context, id, staffID string, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&Patient{}).Where("id = ?", id).
		Updates(map[string]any{"covering_cm_id": staffID, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("set covering case manager: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// ActiveIDs pages through the ids of patients under case management, in id
// order, after the given id (for background scans).
func (s *Store) ActiveIDs(ctx context.Context, after string, limit int) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&Patient{}).Where("status = ? AND id > ?", StatusActive, after).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("active patients: %w", err)
	}
	return ids, nil
}
