package patient

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
)

// Sealer encrypts and decrypts sensitive fields and computes blind indexes.
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(sealed string) (string, error)
	Index(value string) string
}

// Service holds the rules of patient records.
type Service struct {
	store  *Store
	sealer Sealer
	now    func() time.Time
}

// NewService builds the service.
func NewService(store *Store, sealer Sealer, now func() time.Time) *Service {
	return &Service{store: store, sealer: sealer, now: now}
}

// Store returns the store, for features that read patients through it.
func (s *Service) Store() *Store { return s.store }

// NewPatient is what a case manager knows when registering a patient, possibly
// before the patient ever opens the mini-program.
type NewPatient struct {
	HospitalID   string
	DepartmentID string
	MRN          string
	Name         string
	Phone        string
	IDNumber     string
	Gender       string
	BirthDate    *time.Time
	Bed          string
	AssignedCMID string
	RiskLevel    string
	UserID       string // when the patient already has a WeChat account
}

var (
	phonePattern    = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	idNumberPattern = regexp.MustCompile(`^[0-9]{17}[0-9Xx]$`)
)

// NormalizePhone strips spaces, dashes and a +86 prefix from a mainland mobile number.
func NormalizePhone(p string) string {
	p = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(p))
	p = strings.TrimPrefix(p, "+86")
	return p
}

// Register validates and stores a new patient record.
func (s *Service) Register(ctx context.Context, in NewPatient) (Patient, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Phone = NormalizePhone(in.Phone)
	switch {
	case in.Name == "" || utf8.RuneCountInString(in.Name) > 32:
		return Patient{}, apperr.Invalid("name", "invalid_name", "姓名不能为空且不超过 32 个字")
	case in.Phone != "" && !phonePattern.MatchString(in.Phone):
		return Patient{}, apperr.Invalid("phone", "invalid_phone", "手机号格式不正确，应为 11 位中国大陆手机号")
	case in.IDNumber != "" && !idNumberPattern.MatchString(in.IDNumber):
		return Patient{}, apperr.Invalid("id_number", "invalid_id_number", "身份证号格式不正确")
	case in.Gender != "" && in.Gender != "M" && in.Gender != "F" && in.Gender != "U":
		return Patient{}, apperr.Invalid("gender", "invalid_gender", "性别必须是 M、F 或 U")
	}
	if in.RiskLevel == "" {
		in.RiskLevel = RiskLow
	}
	if in.Gender == "" {
		in.Gender = "U"
	}
	p := Patient{
		ID: database.NewID(), HospitalID: in.HospitalID, DepartmentID: in.DepartmentID, MRN: in.MRN,
		Gender: in.Gender, BirthDate: in.BirthDate, Bed: in.Bed, RiskLevel: in.RiskLevel, Status: StatusActive,
	}
	if in.AssignedCMID != "" {
		p.AssignedCMID = &in.AssignedCMID
	}
	if in.UserID != "" {
		p.UserID = &in.UserID
	}
	var err error
	if p.NameEnc, err = s.sealer.Seal(in.Name); err != nil {
		return Patient{}, fmt.Errorf("seal name: %w", err)
	}
	if in.Phone != "" {
		if p.PhoneEnc, err = s.sealer.Seal(in.Phone); err != nil {
			return Patient{}, fmt.Errorf("seal phone: %w", err)
		}
		idx := s.sealer.Index(in.Phone)
		p.PhoneIndex = &idx
	}
	if in.IDNumber != "" {
		id := strings.ToUpper(in.IDNumber)
		if p.IDNumberEnc, err = s.sealer.Seal(id); err != nil {
			return Patient{}, fmt.Errorf("seal id number: %w", err)
		}
		idx := s.sealer.Index(id)
		p.IDNumberIndex = &idx
	}
	if err := s.store.Create(ctx, &p); err != nil {
		return Patient{}, err
	}
	return p, nil
}

// Profile is a patient record with its sensitive fields opened for display.
type Profile struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Gender       string    `json:"gender"`
	BirthDate    *string   `json:"birth_date,omitempty"`
	MRN          string    `json:"mrn,omitempty"`
	Bed          string    `json:"bed,omitempty"`
	PhoneMasked  string    `json:"phone_masked,omitempty"`
	HospitalID   string    `json:"hospital_id"`
	DepartmentID string    `json:"department_id"`
	AssignedCMID *string   `json:"assigned_cm_id,omitempty"`
	RiskLevel    string    `json:"risk_level"`
	Status       string    `json:"status"`
	Linked       bool      `json:"linked"` // has a WeChat account
	CreatedAt    time.Time `json:"created_at"`
}

// ProfileOf opens p's sealed fields.
func (s *Service) ProfileOf(p Patient) (Profile, error) {
	name, err := s.sealer.Open(p.NameEnc)
	if err != nil {
		return Profile{}, fmt.Errorf("open patient %s name: %w", p.ID, err)
	}
	phone, err := s.sealer.Open(p.PhoneEnc)
	if err != nil {
		return Profile{}, fmt.Errorf("open patient %s phone: %w", p.ID, err)
	}
	pr := Profile{
		ID: p.ID, Name: name, Gender: p.Gender, MRN: p.MRN, Bed: p.Bed, PhoneMasked: MaskPhone(phone),
		HospitalID: p.HospitalID, DepartmentID: p.DepartmentID, AssignedCMID: p.AssignedCMID,
		RiskLevel: p.RiskLevel, Status: p.Status, Linked: p.UserID != nil, CreatedAt: p.CreatedAt,
	}
	if p.BirthDate != nil {
		d := p.BirthDate.Format(time.DateOnly)
		pr.BirthDate = &d
	}
	return pr, nil
}

// Profile returns a patient's profile by id.
func (s *Service) Profile(ctx context.Context, id string) (Profile, error) {
	p, err := s.store.ByID(ctx, id)
	if err != nil {
		return Profile{}, err
	}
	return s.ProfileOf(p)
}

// Names returns the names of several patients in one read (absent ids are
// left out); only the name is opened.
func (s *Service) Names(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.store.SealedNames(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		name, err := s.sealer.Open(r.NameEnc)
		if err != nil {
			return nil, fmt.Errorf("open patient %s name: %w", r.ID, err)
		}
		out[r.ID] = name
	}
	return out, nil
}

// UserIDOf returns the WeChat user of a patient record, "" when the patient
// has none yet (registered by a CM before their first login).
func (s *Service) UserIDOf(ctx context.Context, id string) (string, error) {
	p, err := s.store.ByID(ctx, id)
	if err != nil || p.UserID == nil {
		return "", err
	}
	return *p.UserID, nil
}

// MaskPhone shows the first three and last four digits: 138****0001.
func MaskPhone(phone string) string {
	if len(phone) != 11 {
		if phone == "" {
			return ""
		}
		return "***"
	}
	return phone[:3] + "****" + phone[7:]
}

// Caseload lists the patients a staff member looks after, newest first.
func (s *Service) Caseload(ctx context.Context, a auth.Actor, limit int) ([]Profile, error) {
	rows, err := s.store.List(ctx, ListQuery{Scope: access.StaffPatients(a, "patients"), Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Profile, 0, len(rows))
	for _, p := range rows {
		pr, err := s.ProfileOf(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// Name returns a patient's name, opened for display (the CM inbox).
func (s *Service) Name(ctx context.Context, id string) (string, error) {
	p, err := s.store.ByID(ctx, id)
	if err != nil {
		return "", err
	}
	name, err := s.sealer.Open(p.NameEnc)
	if err != nil {
		return "", fmt.Errorf("open patient %s name: %w", id, err)
	}
	return name, nil
}

// SetCoveringCM makes a case manager cover the patient (a thread transfer).
func (s *Service) SetCoveringCM(ctx context.Context, id, staffID string) error {
	return s.store.SetCoveringCM(ctx, id, staffID, s.now().UTC())
}
