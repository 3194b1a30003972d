// Package demo loads the demonstration hospital used by the embedded default,
// the README and tests: a hospital with two departments, staff cm1, cm2,
// lead1 and admin, patients patient1… whose WeChat codes test-patientN log
// them in, a family member, one patient not yet on WeChat, and home
// readings of the last weeks (see vitals.go) that left two open alerts.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/org"
	"github.com/carepath/carepath/internal/patient"
)

// Deps are the stores and services the seed writes through.
type Deps struct {
	Org      *org.Store
	Auth     *auth.Service
	Accounts *auth.Store
	Patients *patient.Service
	Family   *family.Store
	// Readings are reported through the real service, so the demo's alerts
	// were raised by the rules themselves.
	Observations *observation.Service
	Alerts       *alert.Service
	Now          func() time.Time
}

// Summary tells what was created, for the start-up banner and tests.
type Summary struct {
	HospitalID  string
	Departments map[string]string // code → id
	Staff       map[string]string // username → id
	Patients    map[string]string // patientN → patient id
	Users       map[string]string // openid → user id
}

type demoPatient struct {
	key, name, phone, gender, dept, cm, risk, mrn, bed string
	birth                                              string
	onWeChat                                           bool
}

var patients = []demoPatient{
	{"patient1", "张建国", "13800000001", "M", "ORTHO", "cm1", patient.RiskMedium, "ZY2026001", "12-1", "1956-03-14", true},
	{"patient2", "李秀英", "13800000002", "F", "ORTHO", "cm1", patient.RiskLow, "ZY2026002", "12-3", "1961-08-02", true},
	{"patient3", "王志强", "13800000003", "M", "CARDIO", "cm2", patient.RiskHigh, "ZY2026003", "8-5", "1949-11-20", true},
	{"patient4", "刘桂兰", "13800000004", "F", "CARDIO", "cm2", patient.RiskMedium, "ZY2026004", "8-7", "1958-01-09", true},
	{"patient5", "陈明", "13800000005", "M", "ORTHO", "cm1", patient.RiskLow, "ZY2026005", "", "1972-05-30", true},
	{"patient6", "赵丽华", "13800000006", "F", "CARDIO", "cm2", patient.RiskLow, "ZY2026006", "", "1966-12-12", true},
	// Registered by a CM before first opening the mini-program: binding the
	// phone 13800000007 (getPhoneNumber code phone-13800000007) links the record.
	{"patient7", "孙伟", "13800000007", "M", "ORTHO", "cm1", patient.RiskLow, "ZY2026007", "", "1970-07-07", false},
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
			u, _, err := d.Accounts.UpsertWeChatUser(ctx, "fake-openid-"+dp.key, "fake-unionid-"+dp.key, now)
			if err != nil {
				return Summary{}, err
			}
			in.UserID = u.ID
			sum.Users[*u.OpenID] = u.ID
		}
		p, err := d.Patients.Register(ctx, in)
		if err != nil {
			return Summary{}, fmt.Errorf("demo patient %s: %w", dp.key, err)
		}
		sum.Patients[dp.key] = p.ID
	}
	// family1 is patient1's daughter, allowed to see the plan, vitals and
	// appointments, message the CM and report on her father's behalf.
	fam, _, err := d.Accounts.UpsertWeChatUser(ctx, "fake-openid-family1", "fake-unionid-family1", now)
	if err != nil {
		return Summary{}, err
	}
	sum.Users[*fam.OpenID] = fam.ID
	if _, err := d.Family.Create(ctx, sum.Patients["patient1"], fam.ID, "女儿", []access.Scope{
		access.ScopeViewPlan, access.ScopeViewVitals, access.ScopeViewAppointments, access.ScopeMessage, access.ScopeReport, access.ScopeReceivePush,
	}); err != nil {
		return Summary{}, err
	}
	// family2 is patient3's son, who may only see appointments.
	fam2, _, err := d.Accounts.UpsertWeChatUser(ctx, "fake-openid-family2", "fake-unionid-family2", now)
	if err != nil {
		return Summary{}, err
	}
	sum.Users[*fam2.OpenID] = fam2.ID
	if _, err := d.Family.Create(ctx, sum.Patients["patient3"], fam2.ID, "儿子", []access.Scope{access.ScopeViewAppointments}); err != nil {
		return Summary{}, err
	}
	if err := seedVitals(ctx, d, sum); err != nil {
		return Summary{}, fmt.Errorf("demo readings: %w", err)
	}
	return sum, nil
}
