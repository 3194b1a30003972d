package access

import (
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
)

// Aggregate scopes name whose patients a staff member's aggregate numbers
// (KPIs) are computed over.
const (
	AggregateCaseload     = "caseload"     // a CM: the patients assigned to them
	AggregateDepartment   = "department"   // a lead: their department
	AggregateOrganisation = "organisation" // an admin: the whole hospital
)

// AggregateScope is the scope of a's aggregate numbers, "" when a may see none.
func AggregateScope(a auth.Actor) string {
	if a.Kind != auth.KindStaff {
		return ""
	}
	switch a.Role {
	case auth.RoleCM:
		return AggregateCaseload
	case auth.RoleLead:
		if a.DepartmentID == "" {
			return ""
		}
		return AggregateDepartment
	case auth.RoleAdmin:
		return AggregateOrganisation
	default:
		return ""
	}
}

// AggregatePatients restricts a query on the patients table to the patients
// whose data a's aggregate numbers (counts, rates, medians) may be computed
// over: a CM's own caseload (assigned, not merely covering, so that one
// patient counts for one CM), a lead's department, an admin's whole hospital.
//
// It is wider than StaffPatients for admins, who do not read clinical
// records: use it ONLY inside queries that return aggregates, never to
// select patient rows for a response. The KPI package is its one user.
func AggregatePatients(a auth.Actor, table string) func(*gorm.DB) *gorm.DB {
	col := func(c string) string { return table + "." + c }
	return func(db *gorm.DB) *gorm.DB {
		scope := AggregateScope(a)
		if scope == "" {
			return db.Where("1 = 0")
		}
		db = db.Where(col("hospital_id")+" = ?", a.HospitalID)
		switch scope {
		case AggregateCaseload:
			return db.Where(col("assigned_cm_id")+" = ?", a.ID)
		case AggregateDepartment:
			return db.Where(col("department_id")+" = ?", a.DepartmentID)
		default:
			return db
		}
	}
}
