package access

import (
	"errors"
	"testing"

	"github.com/carepath/carepath/internal/auth"
)

func ptr(s string) *string { return &s }

// TestDecide covers the pure decision the benchmark measures; the database
// paths are covered in policy_test.go.
func TestDecide(t *testing.T) {
	pt := patientRow{ID: "p1", HospitalID: "h1", DepartmentID: "d1", UserID: ptr("u1"), AssignedCMID: ptr("cm1")}
	cases := []struct {
		name     string
		a        auth.Actor
		perm     Permission
		relation Relation
		needLink bool
		denied   bool
	}{
		{"the patient reads their vitals", auth.Actor{Kind: auth.KindUser, ID: "u1"}, VitalsRead, RelationSelf, false, false},
		{"the patient may not manage their plan", auth.Actor{Kind: auth.KindUser, ID: "u1"}, PlanManage, "", false, true},
		{"another user needs a family link", auth.Actor{Kind: auth.KindUser, ID: "u2"}, VitalsRead, "", true, false},
		{"the assigned CM reads vitals", auth.Actor{Kind: auth.KindStaff, ID: "cm1", Role: auth.RoleCM, HospitalID: "h1"}, VitalsRead, RelationStaff, false, false},
		{"another CM is refused", auth.Actor{Kind: auth.KindStaff, ID: "cm2", Role: auth.RoleCM, HospitalID: "h1"}, VitalsRead, "", false, true},
		{"a CM of another hospital is refused", auth.Actor{Kind: auth.KindStaff, ID: "cm1", Role: auth.RoleCM, HospitalID: "h2"}, VitalsRead, "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, needLink, err := decide(tc.a, rules[tc.perm], pt)
			if needLink != tc.needLink || errors.Is(err, ErrPatientNotFound) != tc.denied || g.Relation != tc.relation {
				t.Errorf("decide = (%+v, needLink %v, %v), want relation %q needLink %v denied %v", g, needLink, err, tc.relation, tc.needLink, tc.denied)
			}
		})
	}
	if _, err := decideFamily(rules[VitalsRead], pt, linkRow{Scopes: string(ScopeViewPlan)}); !errors.Is(err, ErrPatientNotFound) {
		t.Errorf("a relative without view_vitals read vitals: %v", err)
	}
}

// BenchmarkDecide is the access decision every patient route pays once the
// patient row is loaded (go test -run '^$' -bench . -benchmem ./internal/access/).
func BenchmarkDecide(b *testing.B) {
	pt := patientRow{ID: "p1", HospitalID: "h1", DepartmentID: "d1", UserID: ptr("u1"), AssignedCMID: ptr("cm1")}
	cm := auth.Actor{Kind: auth.KindStaff, ID: "cm1", Role: auth.RoleCM, HospitalID: "h1"}
	self := auth.Actor{Kind: auth.KindUser, ID: "u1"}
	b.Run("staff", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = decide(cm, rules[VitalsRead], pt)
		}
	})
	b.Run("self", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = decide(self, rules[VitalsRead], pt)
		}
	})
	b.Run("family", func(b *testing.B) {
		link := linkRow{Scopes: "view_plan,view_vitals,view_appointments,message,report"}
		for b.Loop() {
			_, _ = decideFamily(rules[VitalsRead], pt, link)
		}
	})
}
