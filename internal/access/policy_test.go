package access_test

import (
	"context"
	"os"
	"testing"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

// TestPolicyByPermission checks each permission for each kind of actor,
// directly against the policy (the HTTP matrix covers the route layer).
func TestPolicyByPermission(t *testing.T) {
	e := apitest.New(t)
	ctx := context.Background()
	policy := access.NewPolicy(e.App.DB)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]
	user := func(name string) auth.Actor {
		return auth.Actor{Kind: auth.KindUser, ID: e.Demo.Users["fake-openid-"+name], Role: auth.RoleUser}
	}
	staff := func(username string, role auth.Role, dept string) auth.Actor {
		return auth.Actor{Kind: auth.KindStaff, ID: e.Demo.Staff[username], Role: role, HospitalID: e.Demo.HospitalID, DepartmentID: e.Demo.Departments[dept]}
	}
	patient1, family1, family2 := user("patient1"), user("family1"), user("family2")
	cm1, lead1 := staff("cm1", auth.RoleCM, "ORTHO"), staff("lead1", auth.RoleLead, "ORTHO")
	otherHospitalCM := cm1
	otherHospitalCM.HospitalID = "another-hospital"

	cases := []struct {
		name    string
		actor   auth.Actor
		perm    access.Permission
		patient string
		allowed bool
		rel     access.Relation
	}{
		{"patient reads own vitals", patient1, access.VitalsRead, p1, true, access.RelationSelf},
		{"patient reports own vitals", patient1, access.VitalsReport, p1, true, access.RelationSelf},
		{"patient manages own family", patient1, access.FamilyManage, p1, true, access.RelationSelf},
		{"patient cannot manage own plan", patient1, access.PlanManage, p1, false, ""},
		{"patient cannot edit own record", patient1, access.PatientWrite, p1, false, ""},
		{"family with all scopes reads vitals", family1, access.VitalsRead, p1, true, access.RelationFamily},
		{"family with report scope reports", family1, access.VitalsReport, p1, true, access.RelationFamily},
		{"family with message scope messages", family1, access.MessagesSend, p1, true, access.RelationFamily},
		{"family never manages the family", family1, access.FamilyManage, p1, false, ""},
		{"patient manages own consents", patient1, access.ConsentManage, p1, true, access.RelationSelf},
		{"family never touches the patient's consents", family1, access.ConsentManage, p1, false, ""},
		{"cm records a consent the patient gave", cm1, access.ConsentManage, p1, true, access.RelationStaff},
		{"cm cannot manage the family", cm1, access.FamilyManage, p1, false, ""},
		{"patient reads own access log", patient1, access.AuditRead, p1, true, access.RelationSelf},
		{"family cannot read the access log", family1, access.AuditRead, p1, false, ""},
		{"appointments-only family sees appointments", family2, access.AppointmentsRead, p3, true, access.RelationFamily},
		{"appointments-only family cannot see vitals", family2, access.VitalsRead, p3, false, ""},
		{"appointments-only family cannot message", family2, access.MessagesSend, p3, false, ""},
		{"appointments-only family cannot see the plan", family2, access.PlanRead, p3, false, ""},
		{"cm manages own patient's plan", cm1, access.PlanManage, p1, true, access.RelationStaff},
		{"cm cannot report for a patient", cm1, access.VitalsReport, p1, false, ""},
		{"cm cannot touch another caseload", cm1, access.VitalsRead, p3, false, ""},
		{"lead reads department patient", lead1, access.VitalsRead, p1, true, access.RelationStaff},
		{"lead cannot read other department", lead1, access.VitalsRead, p3, false, ""},
		{"staff of another hospital", otherHospitalCM, access.PatientRead, p1, false, ""},
		{"over-long id", cm1, access.PatientRead, p1 + p1, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			grant, err := policy.Check(ctx, tc.actor, tc.perm, tc.patient)
			if tc.allowed {
				if err != nil || grant.Relation != tc.rel || grant.PatientID != tc.patient {
					t.Fatalf("got %+v, %v; want allowed as %s", grant, err, tc.rel)
				}
				return
			}
			if !apperr.Is(err, apperr.KindNotFound) {
				t.Fatalf("got %+v, %v; want a not-found denial", grant, err)
			}
		})
	}

	t.Run("covering cm gets access and loses it", func(t *testing.T) {
		cm2 := staff("cm2", auth.RoleCM, "CARDIO")
		cm2.DepartmentID = ""
		e.App.DB.Exec("UPDATE patients SET covering_cm_id = ? WHERE id = ?", cm2.ID, p1)
		if _, err := policy.Check(ctx, cm2, access.VitalsRead, p1); err != nil {
			t.Fatalf("covering CM denied: %v", err)
		}
		e.App.DB.Exec("UPDATE patients SET covering_cm_id = NULL WHERE id = ?", p1)
		if _, err := policy.Check(ctx, cm2, access.VitalsRead, p1); err == nil {
			t.Fatal("former covering CM still allowed")
		}
	})
	t.Run("unknown permission is an error, not a grant", func(t *testing.T) {
		if _, err := policy.Check(ctx, patient1, access.Permission("bogus"), p1); err == nil {
			t.Fatal("unknown permission allowed")
		}
	})
}

func TestScopesRoundTrip(t *testing.T) {
	in := []access.Scope{access.ScopeViewPlan, access.ScopeMessage}
	got := access.ParseScopes(access.FormatScopes(in) + ",unknown_scope")
	if len(got) != 2 || got[0] != in[0] || got[1] != in[1] {
		t.Fatalf("got %v, want %v (unknown scopes dropped)", got, in)
	}
}
