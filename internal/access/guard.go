package access

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/web"
)

// DecisionKind says how a route is protected.
type DecisionKind string

const (
	Public        DecisionKind = "public"        // no login (login itself, health checks)
	Authenticated DecisionKind = "authenticated" // any logged-in actor acting on their own account
	StaffOnly     DecisionKind = "staff"         // staff with one of the roles; lists are scoped by StaffPatients
	PatientScoped DecisionKind = "patient"       // :patientID in the path, checked with a permission
)

// Decision is how one route is protected.
type Decision struct {
	Kind       DecisionKind
	Permission Permission  // PatientScoped only
	Roles      []auth.Role // StaffOnly, and PatientScoped routes of the staff desk (StaffPatient)
}

// Auditor records audit events.
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Guard registers routes together with their access decision, and keeps the
// table of decisions so a test can prove every route has one.
type Guard struct {
	policy    *Policy
	require   gin.HandlerFunc
	auditor   Auditor
	decisions map[string]Decision
}

// NewGuard builds a guard; require authenticates (auth.Handler.Require).
func NewGuard(policy *Policy, require gin.HandlerFunc, auditor Auditor) *Guard {
	return &Guard{policy: policy, require: require, auditor: auditor, decisions: map[string]Decision{}}
}

// Decisions returns the decision of every registered route, keyed "METHOD /path".
func (g *Guard) Decisions() map[string]Decision { return g.decisions }

// Policy returns the policy, for handlers that check an object's patient.
func (g *Guard) Policy() *Policy { return g.policy }

// Routes registers routes under a group.
type Routes struct {
	g  *Guard
	rg *gin.RouterGroup
}

// Group wraps rg.
func (g *Guard) Group(rg *gin.RouterGroup) *Routes { return &Routes{g: g, rg: rg} }

func (r *Routes) record(method, path string, d Decision) {
	full := strings.TrimSuffix(r.rg.BasePath(), "/") + path
	key := method + " " + full
	if _, dup := r.g.decisions[key]; dup {
		panic(fmt.Sprintf("access: route %s registered twice", key)) // a programming error found at start-up in every test
	}
	r.g.decisions[key] = d
}

// Public registers a route anyone may call.
func (r *Routes) Public(method, path string, h gin.HandlerFunc) {
	r.record(method, path, Decision{Kind: Public})
	r.rg.Handle(method, path, h)
}

// Authenticated registers a route for any logged-in actor acting on their own account.
func (r *Routes) Authenticated(method, path string, h gin.HandlerFunc) {
	r.record(method, path, Decision{Kind: Authenticated})
	r.rg.Handle(method, path, r.g.require, h)
}

// Staff registers a staff-only route for the given roles.
func (r *Routes) Staff(method, path string, roles []auth.Role, h gin.HandlerFunc) {
	r.record(method, path, Decision{Kind: StaffOnly, Roles: roles})
	r.rg.Handle(method, path, r.g.require, r.g.staffOnly(roles), h)
}

// Patient registers a route on one patient's data. The path must contain
// :patientID; the policy is asked before the handler runs, and staff and
// family access (and every write) is audited after it.
func (r *Routes) Patient(method, path string, perm Permission, h gin.HandlerFunc) {
	if !strings.Contains(path, ":patientID") {
		panic(fmt.Sprintf("access: patient route %s %s has no :patientID", method, path))
	}
	if _, ok := rules[perm]; !ok {
		panic(fmt.Sprintf("access: route %s %s uses unknown permission %q", method, path, perm))
	}
	r.record(method, path, Decision{Kind: PatientScoped, Permission: perm})
	r.rg.Handle(method, path, r.g.require, r.g.patient(perm), h)
}

// StaffPatient registers a patient-scoped route that only staff with one of
// roles may call (the CM desk's pages): a patient or relative is refused
// before the policy is asked, even with a scope that would let them read the
// same data through the API; staff are then checked by the policy as on
// Patient routes (404 outside the caseload) and audited.
func (r *Routes) StaffPatient(method, path string, roles []auth.Role, perm Permission, h gin.HandlerFunc) {
	if !strings.Contains(path, ":patientID") {
		panic(fmt.Sprintf("access: patient route %s %s has no :patientID", method, path))
	}
	if _, ok := rules[perm]; !ok {
		panic(fmt.Sprintf("access: route %s %s uses unknown permission %q", method, path, perm))
	}
	r.record(method, path, Decision{Kind: PatientScoped, Permission: perm, Roles: roles})
	r.rg.Handle(method, path, r.g.require, roleGate(roles), r.g.patient(perm), h)
}

// roleGate lets through staff with one of roles; the patient check that
// follows audits the request.
func roleGate(roles []auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		a, _ := auth.ActorFrom(c)
		if a.Kind == auth.KindStaff && slices.Contains(roles, a.Role) {
			c.Next()
			return
		}
		web.Error(c, auth.ErrStaffOnly)
	}
}

func (g *Guard) staffOnly(roles []auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		a, _ := auth.ActorFrom(c)
		if a.Kind == auth.KindStaff {
			for _, role := range roles {
				if a.Role == role {
					c.Next()
					g.audit(c, a, nil, resultOf(c))
					return
				}
			}
		}
		web.Error(c, auth.ErrStaffOnly)
	}
}

const grantKey = "carepath.grant"

// GrantFrom returns the access grant of a patient-scoped request.
func GrantFrom(c *gin.Context) Grant {
	v, _ := c.Get(grantKey)
	g, _ := v.(Grant)
	return g
}

func (g *Guard) patient(perm Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		a, _ := auth.ActorFrom(c)
		patientID := c.Param("patientID")
		grant, err := g.policy.Check(c.Request.Context(), a, perm, patientID)
		if err != nil {
			if a.Kind == auth.KindStaff || a.Kind == auth.KindUser {
				g.audit(c, a, &patientID, audit.ResultDenied)
			}
			web.Error(c, err)
			return
		}
		c.Set(grantKey, grant)
		c.Next()
		if grant.Relation != RelationSelf || c.Request.Method != http.MethodGet {
			g.audit(c, a, &grant.PatientID, resultOf(c))
		}
	}
}

func resultOf(c *gin.Context) string {
	switch {
	case c.Writer.Status() < 400:
		return audit.ResultOK
	case c.Writer.Status() == http.StatusNotFound || c.Writer.Status() == http.StatusForbidden:
		return audit.ResultDenied
	default:
		return audit.ResultError
	}
}

func (g *Guard) audit(c *gin.Context, a auth.Actor, patientID *string, result string) {
	if patientID != nil && len(*patientID) > 36 {
		truncated := (*patientID)[:36]
		patientID = &truncated
	}
	err := g.auditor.Record(context.WithoutCancel(c.Request.Context()), audit.Event{
		ActorKind: string(a.Kind), ActorID: a.ID, ActorRole: string(a.Role),
		IP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: web.RequestIDOf(c),
		Action: c.Request.Method + " " + c.FullPath(), PatientID: patientID, Result: result,
	})
	if err != nil {
		web.Logger(c).Error("audit event lost", "error", err.Error())
	}
}
