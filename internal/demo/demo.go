// Package demo loads the demonstration hospital used by the embedded default,
// the README and tests: a hospital with two departments, staff cm1, cm2,
// lead1 and admin, patients patient1… whose WeChat codes test-patientN log
// them in, two family members, one patient not yet on WeChat, the consents
// all of that rests on, and one pending family invitation.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/org"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/database"
)

// InvitationCode is the code of patient2's pending invitation (for 老伴, her
// husband): open GET /api/v1/family/invitations/DEMOINVITEPATIENTTWOAAAAAA
// as any new WeChat user. It is fixed so the demo can be tried by hand.
const InvitationCode = "DEMOINVITEPATIENTTWOAAAAAA"

// Deps are the stores and services the seed writes through.
type Deps struct {
	Org      *org.Store
	Auth     *auth.Service
	Accounts *auth.Store
	Patients *patient.Service
	Family   *family.Store
	Consents *consent.Store
	Versions consent.Config
	Now      func() time.Time
}

// Summary tells what was created, for the start-up banner and tests.
type Summary struct {
	HospitalID  string
	Departments map[string]string // code → id
	Staff       map[string]string // username → id
	Patients    map[string]string // patientN → patient id
	Users       map[string]string // openid → user id
	Invitation  string            // id of patient2's pending invitation (code InvitationCode)
}

type demoPatient struct {
	key, name, phone, gender, dept, cm, risk, mrn, bed string
	birth                                              string
	onWeChat                                           bool
	healthConsent                                      bool
}

var patients = []demoPatient{
	{"patient1", "张建国", "13800000001", "M", "ORTHO", "cm1", patient.RiskMedium, "ZY2026001", "12-1", "1956-03-14", true, true},
	{"patient2", "李秀英", "13800000002", "F", "ORTHO", "cm1", patient.RiskLow, "ZY2026002", "12-3", "1961-08-02", true, true},
	{"patient3", "王志强", "13800000003", "M", "CARDIO", "cm2", patient.RiskHigh, "ZY2026003", "8-5", "1949-11-20", true, true},
	{"patient4", "刘桂兰", "13800000004", "F", "CARDIO", "cm2", patient.RiskMedium, "ZY2026004", "8-7", "1958-01-09", true, true},
	{"patient5", "陈明", "13800000005", "M", "ORTHO", "cm1", patient.RiskLow, "ZY2026005", "", "1972-05-30", true, false},
	{"patient6", "赵丽华", "13800000006", "F", "CARDIO", "cm2", patient.RiskLow, "ZY2026006", "", "1966-12-12", true, true},
	// patient5 has not yet given the separate consent to process health data,
	// so cannot invite family until he does (POST /patients/:id/consents).
	// Registered by a CM before first opening the mini-program: binding the
	// phone 13800000007 (getPhoneNumber code phone-13800000007) links the record.
	{"patient7", "孙伟", "13800000007", "M", "ORTHO", "cm1", patient.RiskLow, "ZY2026007", "", "1970-07-07", false, false},
}

// Seed creates the demo data. It expects an empty database.
func Seed(ctx context.Context, d Deps, password string) (Summary, error) {
	sum := Summary{Departments: map[string]string{}, Staff: map[string]string{}, Patients: map[string]string{}, Users: map[string]string{}}
	h, err := d.Org.EnsureHospital(ctx, "DEMO", "CarePath 演示医院")
	if err != nil {
		return Summary{}, err
	}
	sum.HospitalID = h.ID
	for _, dep := range []struct{ code, name string }{{"ORTHO", "骨科"}, {"CARDIO", "心血管内科"}} {
		dd, err := d.Org.EnsureDepartment(ctx, h.ID, dep.code, dep.name)
		if err != nil {
			return Summary{}, err
		}
		sum.Departments[dep.code] = dd.ID
	}
	for _, st := range []struct {
		username, name, dept string
		role                 auth.Role
	}{
		{"cm1", "周敏（骨科个案管理师）", "ORTHO", auth.RoleCM},
		{"cm2", "吴婷（心内个案管理师）", "CARDIO", auth.RoleCM},
		{"lead1", "郑红（骨科护士长）", "ORTHO", auth.RoleLead},
		{"admin", "系统管理员", "", auth.RoleAdmin},
	} {
		s := auth.Staff{HospitalID: h.ID, Username: st.username, DisplayName: st.name, Role: st.role}
		if st.dept != "" {
			id := sum.Departments[st.dept]
			s.DepartmentID = &id
		}
		if err := d.Auth.CreateStaff(ctx, &s, password); err != nil {
			return Summary{}, fmt.Errorf("demo staff %s: %w", st.username, err)
		}
		sum.Staff[st.username] = s.ID
	}
	now := d.Now().UTC()
	for _, dp := range patients {
		in := patient.NewPatient{HospitalID: h.ID, DepartmentID: sum.Departments[dp.dept], MRN: dp.mrn, Name: dp.name,
			Phone: dp.phone, Gender: dp.gender, Bed: dp.bed, AssignedCMID: sum.Staff[dp.cm], RiskLevel: dp.risk}
		if b, err := time.Parse(time.DateOnly, dp.birth); err == nil {
			in.BirthDate = &b
		}
		if dp.onWeChat {
			u, err := weChatUser(ctx, d, dp.key, now)
			if err != nil {
				return Summary{}, err
			}
			in.UserID = u
			sum.Users["fake-openid-"+dp.key] = u
		}
		p, err := d.Patients.Register(ctx, in)
		if err != nil {
			return Summary{}, fmt.Errorf("demo patient %s: %w", dp.key, err)
		}
		sum.Patients[dp.key] = p.ID
		if dp.healthConsent {
			c := consent.Consent{ID: database.NewID(), Kind: consent.KindHealthData, PatientID: &p.ID, Version: d.Versions.HealthDataVersion,
				GivenBy: consent.GivenByPatient, Method: consent.MethodInApp, RecordedByKind: string(auth.KindUser), RecordedByID: in.UserID, GrantedAt: now}
			if err := d.Consents.Create(ctx, &c); err != nil {
				return Summary{}, err
			}
		}
	}
	// family1 is patient1's daughter, allowed to see the plan, vitals and
	// appointments, message the CM and report on her father's behalf.
	if err := relative(ctx, d, &sum, "family1", "patient1", "女儿", access.AllScopes, now); err != nil {
		return Summary{}, err
	}
	// family2 is patient3's son, who may only see appointments.
	if err := relative(ctx, d, &sum, "family2", "patient3", "儿子", []access.Scope{access.ScopeViewAppointments}, now); err != nil {
		return Summary{}, err
	}
	// patient2 has invited her husband; he has not accepted yet.
	inv := family.Invitation{ID: database.NewID(), PatientID: sum.Patients["patient2"], Status: family.InvitationPending,
		CodeHash: family.HashCode(InvitationCode), Relationship: "老伴",
		Scopes:       access.FormatScopes([]access.Scope{access.ScopeViewPlan, access.ScopeViewAppointments, access.ScopeReceivePush}),
		IssuedByKind: string(auth.KindUser), IssuedByID: sum.Users["fake-openid-patient2"],
		ConsentGivenBy: consent.GivenByPatient, ConsentMethod: consent.MethodInApp, ConsentGivenAt: now,
		ExpiresAt: now.Add(30 * 24 * time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := d.Family.CreateInvitation(ctx, &inv); err != nil {
		return Summary{}, err
	}
	sum.Invitation = inv.ID
	return sum, nil
}

// weChatUser creates a demo WeChat user who has accepted the privacy policy.
func weChatUser(ctx context.Context, d Deps, name string, now time.Time) (string, error) {
	u, _, err := d.Accounts.UpsertWeChatUser(ctx, "fake-openid-"+name, "fake-unionid-"+name, now)
	if err != nil {
		return "", err
	}
	c := consent.Consent{ID: database.NewID(), Kind: consent.KindPrivacyPolicy, UserID: &u.ID, Version: d.Versions.PrivacyPolicyVersion,
		GivenBy: consent.GivenByUser, Method: consent.MethodInApp, RecordedByKind: string(auth.KindUser), RecordedByID: u.ID, GrantedAt: now}
	return u.ID, d.Consents.Create(ctx, &c)
}

// relative links the demo WeChat user name to a demo patient, with the
// patient's sharing consent.
func relative(ctx context.Context, d Deps, sum *Summary, name, patientKey, relationship string, scopes []access.Scope, now time.Time) error {
	userID, err := weChatUser(ctx, d, name, now)
	if err != nil {
		return err
	}
	sum.Users["fake-openid-"+name] = userID
	patientID := sum.Patients[patientKey]
	l := family.NewLink(database.NewID(), patientID, userID, relationship, scopes, now)
	if err := d.Family.CreateLink(ctx, &l); err != nil {
		return fmt.Errorf("demo relative %s: %w", name, err)
	}
	c := consent.Consent{ID: database.NewID(), Kind: consent.KindFamilySharing, PatientID: &patientID, FamilyLinkID: &l.ID,
		Relationship: relationship, Scopes: l.Scopes, Version: d.Versions.HealthDataVersion,
		GivenBy: consent.GivenByPatient, Method: consent.MethodInApp, RecordedByKind: string(auth.KindUser), RecordedByID: sum.Users["fake-openid-"+patientKey], GrantedAt: now}
	return d.Consents.Create(ctx, &c)
}
