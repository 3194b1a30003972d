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
// records: use it ONLY inside queries that return aggregates or audit
// events (AuditEvents), never to select patient rows for a response.
func AggregatePatients(a auth.Actor, table string) func(*gorm.DB) *gorm.DB {
	return aggregate(a, table, "assigned_cm_id")
}

// aggregate restricts a table with hospital_id and department_id columns to
// a's aggregate scope; for a CM, to the rows whose own column is their id.
func aggregate(a auth.Actor, table, own string) func(*gorm.DB) *gorm.DB {
	col := func(c string) string { return table + "." + c }
	return func(db *gorm.DB) *gorm.DB {
		scope := AggregateScope(a)
		if scope == "" {
			return db.Where("1 = 0")
		}
		db = db.Where(col("hospital_id")+" = ?", a.HospitalID)
		switch scope {
		case AggregateCaseload:
			return db.Where(col(own)+" = ?", a.ID)
		case AggregateDepartment:
			return db.Where(col("department_id")+" = ?", a.DepartmentID)
		default:
			return db
		}
	}
}

// AggregateStaff restricts a query on the staff table to the staff members
// in a's aggregate scope: a CM themselves, a lead's department, an admin's
// whole hospital.
func AggregateStaff(a auth.Actor, table string) func(*gorm.DB) *gorm.DB {
	return aggregate(a, table, "id")
}

// AuditEvents restricts a query on the audit log (table) to the events a's
// audit search covers, by the same aggregate scope: events about the
// scope's patients and events by the scope's staff (a lead answers for
// what their staff did, whichever patient it touched). An admin also sees
// the events of WeChat users that name no patient (logins, invitations).
// The events carry ids only, never names or clinical content.
func AuditEvents(a auth.Actor, table string) func(*gorm.DB) *gorm.DB {
	col := func(c string) string { return table + "." + c }
	return func(db *gorm.DB) *gorm.DB {
		scope := AggregateScope(a)
		if scope == "" {
			return db.Where("1 = 0")
		}
		fresh := func() *gorm.DB { return db.Session(&gorm.Session{NewDB: true}) }
		patients := fresh().Table("patients").Select("patients.id").Scopes(AggregatePatients(a, "patients"))
		staff := fresh().Table("staff").Select("staff.id").Scopes(AggregateStaff(a, "staff"))
		cond := fresh().Where(col("patient_id")+" IN (?)", patients).
			Or(col("actor_kind")+" = ? AND "+col("actor_id")+" IN (?)", auth.KindStaff, staff)
		if scope == AggregateOrganisation {
			cond = cond.Or(col("patient_id")+" IS NULL AND "+col("actor_kind")+" <> ?", auth.KindStaff)
		}
		return db.Where(cond)
	}
}
