// Package access is the one authorization policy: may this actor do this
// permission on this patient? Every patient-scoped route is registered
// through Guard with the permission it needs, so no route can forget to ask.
// Denials for patient data answer 404, so a caller cannot learn what exists.
package access

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
)

// Permission is something one may do on a patient's data.
type Permission string

const (
	PatientRead         Permission = "patient.read"         // profile basics
	PatientWrite        Permission = "patient.write"        // profile, risk level, assignment
	PlanRead            Permission = "plan.read"            // care plan, stage, tasks, education
	PlanManage          Permission = "plan.manage"          // enrol, record events, move stage
	PlanTaskDone        Permission = "plan.task_done"       // mark a plan task done (patients: their own tasks only)
	VitalsRead          Permission = "vitals.read"          // readings, trends, alerts of the patient
	VitalsReport        Permission = "vitals.report"        // report a reading
	AppointmentsRead    Permission = "appointments.read"    // list, calendar export
	AppointmentsRespond Permission = "appointments.respond" // confirm, cancel, ask to reschedule
	AppointmentsManage  Permission = "appointments.manage"  // create, edit (staff)
	MessagesRead        Permission = "messages.read"
	MessagesSend        Permission = "messages.send"
	FamilyManage        Permission = "family.manage"  // invite, change scopes, revoke (the patient only)
	ConsentManage       Permission = "consent.manage" // the patient's PIPL consents: the patient in the app, or staff recording what the patient said
	ClinicalManage      Permission = "clinical.manage"
	AuditRead           Permission = "audit.read"
	DataExport          Permission = "data.export" // a copy of all one's data (PIPL right of access and portability): the patient only
)

// Scope is what a family link grants; the patient chooses them per relative.
type Scope string

const (
	ScopeViewPlan         Scope = "view_plan"
	ScopeViewVitals       Scope = "view_vitals"
	ScopeViewAppointments Scope = "view_appointments"
	ScopeMessage          Scope = "message"
	ScopeReport           Scope = "report"
	ScopeReceivePush      Scope = "receive_push"
)

// AllScopes lists every scope, in display order.
var AllScopes = []Scope{ScopeViewPlan, ScopeViewVitals, ScopeViewAppointments, ScopeMessage, ScopeReport, ScopeReceivePush}

// ValidScope reports whether s is a known scope.
func ValidScope(s Scope) bool {
	for _, x := range AllScopes {
		if x == s {
			return true
		}
	}
	return false
}

// anyLink means any active family link suffices.
const anyLink Scope = "*"

// rule says who may hold a permission.
type rule struct {
	patient bool  // the patient themself
	family  Scope // the scope a family link needs; "" = family never
	staff   bool  // staff with the patient in their care
}

var rules = map[Permission]rule{
	PatientRead:         {patient: true, family: anyLink, staff: true},
	PatientWrite:        {staff: true},
	PlanRead:            {patient: true, family: ScopeViewPlan, staff: true},
	PlanManage:          {staff: true},
	PlanTaskDone:        {patient: true, family: ScopeReport, staff: true},
	VitalsRead:          {patient: true, family: ScopeViewVitals, staff: true},
	VitalsReport:        {patient: true, family: ScopeReport},
	AppointmentsRead:    {patient: true, family: ScopeViewAppointments, staff: true},
	AppointmentsRespond: {patient: true, family: ScopeViewAppointments},
	AppointmentsManage:  {staff: true},
	MessagesRead:        {patient: true, family: ScopeMessage, staff: true},
	MessagesSend:        {patient: true, family: ScopeMessage, staff: true},
	FamilyManage:        {patient: true},
	ConsentManage:       {patient: true, staff: true},
	ClinicalManage:      {staff: true},
	AuditRead:           {patient: true, staff: true},
	DataExport:          {patient: true},
}

// Relation is how an allowed actor stands to the patient.
type Relation string

const (
	RelationSelf   Relation = "self"
	RelationFamily Relation = "family"
	RelationStaff  Relation = "staff"
)

// Grant is an allowed access: who the actor is to the patient.
type Grant struct {
	PatientID string
	Relation  Relation
	Scopes    []Scope // family only
}

// Allows says whether the grant's holder also has perm on the same patient,
// so a handler composing several sections (the home screen) decides each
// from one check: the patient and covering staff by the rule, a relative by
// the link's scopes.
func (g Grant) Allows(perm Permission) bool {
	r, ok := rules[perm]
	if !ok {
		return false
	}
	switch g.Relation {
	case RelationSelf:
		return r.patient
	case RelationStaff:
		return r.staff
	case RelationFamily:
		return r.family == anyLink || r.family != "" && hasScope(g.Scopes, r.family)
	default:
		return false
	}
}

// ErrPatientNotFound is the answer to "not yours" as much as to "no such patient".
var ErrPatientNotFound = apperr.NotFound("患者")

// Policy answers access questions from the database on every call, so a
// revoked link or a reassigned patient takes effect on the next request.
type Policy struct {
	db *gorm.DB
}

// NewPolicy returns the policy over db.
func NewPolicy(db *gorm.DB) *Policy { return &Policy{db: db} }

type patientRow struct {
	ID           string
	HospitalID   string
	DepartmentID string
	UserID       *string
	AssignedCMID *string `gorm:"column:assigned_cm_id"`
	CoveringCMID *string `gorm:"column:covering_cm_id"`
}

type linkRow struct {
	Scopes string
}

// Check decides whether a may do perm on patientID. A denial is
// ErrPatientNotFound (404) whatever the reason.
func (p *Policy) Check(ctx context.Context, a auth.Actor, perm Permission, patientID string) (Grant, error) {
	r, ok := rules[perm]
	if !ok {
		return Grant{}, fmt.Errorf("access: unknown permission %q", perm)
	}
	if patientID == "" || len(patientID) > 36 {
		return Grant{}, ErrPatientNotFound
	}
	pt, err := p.loadPatient(ctx, patientID)
	if err != nil {
		return Grant{}, err
	}
	g, needLink, err := decide(a, r, pt)
	if !needLink {
		return g, err
	}
	var link linkRow
	err = p.db.WithContext(ctx).Table("family_links").Select("scopes").
		Where("patient_id = ? AND user_id = ? AND status = ?", pt.ID, a.ID, "active").Take(&link).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Grant{}, ErrPatientNotFound
	}
	if err != nil {
		return Grant{}, fmt.Errorf("access: load family link: %w", err)
	}
	return decideFamily(r, pt, link)
}

// decide is the policy's decision on what is loaded so far: the grant or
// the denial, or needLink when only the caller's family link can tell.
func decide(a auth.Actor, r rule, pt patientRow) (g Grant, needLink bool, err error) {
	switch a.Kind {
	case auth.KindUser:
		if pt.UserID != nil && *pt.UserID == a.ID {
			if r.patient {
				return Grant{PatientID: pt.ID, Relation: RelationSelf}, false, nil
			}
			return Grant{}, false, ErrPatientNotFound
		}
		if r.family == "" {
			return Grant{}, false, ErrPatientNotFound
		}
		return Grant{}, true, nil
	case auth.KindStaff:
		if r.staff && staffCovers(a, pt) {
			return Grant{PatientID: pt.ID, Relation: RelationStaff}, false, nil
		}
		return Grant{}, false, ErrPatientNotFound
	default:
		return Grant{}, false, ErrPatientNotFound
	}
}

// decideFamily decides for a relative with an active link.
func decideFamily(r rule, pt patientRow, link linkRow) (Grant, error) {
	scopes := ParseScopes(link.Scopes)
	if r.family != anyLink && !hasScope(scopes, r.family) {
		return Grant{}, ErrPatientNotFound
	}
	return Grant{PatientID: pt.ID, Relation: RelationFamily, Scopes: scopes}, nil
}

func (p *Policy) loadPatient(ctx context.Context, patientID string) (patientRow, error) {
	var pt patientRow
	err := p.db.WithContext(ctx).Table("patients").
		Select("id, hospital_id, department_id, user_id, assigned_cm_id, covering_cm_id").
		Where("id = ?", patientID).Take(&pt).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return patientRow{}, ErrPatientNotFound
	}
	if err != nil {
		return patientRow{}, fmt.Errorf("access: load patient: %w", err)
	}
	return pt, nil
}

func staffCovers(a auth.Actor, pt patientRow) bool {
	if a.HospitalID != pt.HospitalID {
		return false
	}
	switch a.Role {
	case auth.RoleCM:
		return pt.AssignedCMID != nil && *pt.AssignedCMID == a.ID || pt.CoveringCMID != nil && *pt.CoveringCMID == a.ID
	case auth.RoleLead:
		return a.DepartmentID != "" && a.DepartmentID == pt.DepartmentID
	default:
		// Admins configure the service; reading clinical records is not their job (least privilege).
		return false
	}
}

// StaffPatients restricts a query on the patients table to the staff
// member's patients: their caseload for a CM, their department for a lead,
// none for an admin or a non-staff actor.
func StaffPatients(a auth.Actor, table string) func(*gorm.DB) *gorm.DB {
	col := func(c string) string { return table + "." + c }
	return func(db *gorm.DB) *gorm.DB {
		if a.Kind != auth.KindStaff {
			return db.Where("1 = 0")
		}
		db = db.Where(col("hospital_id")+" = ?", a.HospitalID)
		switch a.Role {
		case auth.RoleCM:
			return db.Where(db.Session(&gorm.Session{NewDB: true}).
				Where(col("assigned_cm_id")+" = ?", a.ID).Or(col("covering_cm_id")+" = ?", a.ID))
		case auth.RoleLead:
			if a.DepartmentID == "" {
				return db.Where("1 = 0")
			}
			return db.Where(col("department_id")+" = ?", a.DepartmentID)
		default:
			return db.Where("1 = 0")
		}
	}
}

// ParseScopes reads a stored comma-separated scope list, dropping unknown ones.
func ParseScopes(s string) []Scope {
	var out []Scope
	for _, part := range strings.Split(s, ",") {
		if sc := Scope(strings.TrimSpace(part)); ValidScope(sc) {
			out = append(out, sc)
		}
	}
	return out
}

// FormatScopes is the stored form of scopes.
func FormatScopes(scopes []Scope) string {
	parts := make([]string, 0, len(scopes))
	for _, s := range scopes {
		parts = append(parts, string(s))
	}
	return strings.Join(parts, ",")
}

func hasScope(scopes []Scope, want Scope) bool {
	for _, s := range scopes {
		if s == want {
			return true
		}
	}
	return false
}

// Team is who holds a permission on a patient directly: the patient's
// WeChat user, family members whose link has the scope it needs, and the
// assigned and covering case managers. (Department leads may also read, but
// they are not members of the team.)
type Team struct {
	PatientID    string
	HospitalID   string
	PatientUser  string   // "" when the patient has no WeChat account
	Family       []string // user ids
	AssignedCMID string
	CoveringCMID string
}

// CareTeam returns the direct holders of perm on patientID, read fresh from
// the database like every other decision.
func (p *Policy) CareTeam(ctx context.Context, perm Permission, patientID string) (Team, error) {
	r, ok := rules[perm]
	if !ok {
		return Team{}, fmt.Errorf("access: unknown permission %q", perm)
	}
	pt, err := p.loadPatient(ctx, patientID)
	if err != nil {
		return Team{}, err
	}
	t := Team{PatientID: pt.ID, HospitalID: pt.HospitalID}
	if r.patient && pt.UserID != nil {
		t.PatientUser = *pt.UserID
	}
	if r.staff {
		if pt.AssignedCMID != nil {
			t.AssignedCMID = *pt.AssignedCMID
		}
		if pt.CoveringCMID != nil {
			t.CoveringCMID = *pt.CoveringCMID
		}
	}
	if r.family == "" {
		return t, nil
	}
	var links []struct {
		UserID string
		Scopes string
	}
	if err := p.db.WithContext(ctx).Table("family_links").Select("user_id, scopes").
		Where("patient_id = ? AND status = ?", pt.ID, "active").Order("created_at").Find(&links).Error; err != nil {
		return Team{}, fmt.Errorf("access: load family links: %w", err)
	}
	for _, l := range links {
		if r.family == anyLink || hasScope(ParseScopes(l.Scopes), r.family) {
			t.Family = append(t.Family, l.UserID)
		}
	}
	return t, nil
}
