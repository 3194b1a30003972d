package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
)

var (
	allStaff = []auth.Role{auth.RoleCM, auth.RoleLead, auth.RoleAdmin}
	clinical = []auth.Role{auth.RoleCM, auth.RoleLead}
)

// mountRoutes is the whole HTTP surface. Every route states who may call it;
// patient routes state the permission the access policy checks.
func mountRoutes(e *gin.Engine, d Deps) {
	root := d.Guard.Group(&e.RouterGroup)
	root.Public(http.MethodGet, "/healthz", healthz)
	root.Public(http.MethodGet, "/readyz", readyz(d.Ready))
	root.Public(http.MethodGet, "/metrics", metricsHandler(d.Registry))
	root.Public(http.MethodGet, "/docs", d.Docs.Page)
	root.Public(http.MethodGet, "/api/openapi.yaml", d.Docs.Spec)

	v1 := d.Guard.Group(e.Group("/api/v1"))
	v1.Public(http.MethodPost, "/auth/wechat/login", d.Auth.WeChatLogin)
	v1.Public(http.MethodPost, "/auth/refresh", d.Auth.Refresh)
	v1.Public(http.MethodPost, "/auth/staff/login", d.Auth.StaffLogin)
	v1.Authenticated(http.MethodPost, "/auth/logout", d.Auth.Logout)

	v1.Authenticated(http.MethodGet, "/me", d.Patients.Me)
	v1.Authenticated(http.MethodPost, "/me/phone", d.Patients.BindPhone)
	v1.Authenticated(http.MethodGet, "/me/consents", d.Consents.Mine)
	v1.Authenticated(http.MethodPost, "/me/consents", d.Consents.Accept)

	v1.Staff(http.MethodGet, "/patients", clinical, d.Patients.List)
	v1.Patient(http.MethodGet, "/patients/:patientID", access.PatientRead, d.Patients.Get)
	v1.Patient(http.MethodGet, "/patients/:patientID/access-log", access.AuditRead, d.AccessLog.AccessLog)

	// Consents (PIPL): the patient in the app, or staff recording what the patient said.
	v1.Patient(http.MethodGet, "/patients/:patientID/consents", access.ConsentManage, d.Consents.List)
	v1.Patient(http.MethodPost, "/patients/:patientID/consents", access.ConsentManage, d.Consents.Grant)
	v1.Patient(http.MethodPost, "/patients/:patientID/consents/:consentID/withdraw", access.ConsentManage, d.Consents.Withdraw)

	// Family: the patient manages their relatives; a CM may register one for a
	// patient who cannot use the phone; a relative previews and accepts by code.
	v1.Patient(http.MethodGet, "/patients/:patientID/family/members", access.FamilyManage, d.Family.Members)
	v1.Patient(http.MethodPut, "/patients/:patientID/family/members/:linkID/scopes", access.FamilyManage, d.Family.ChangeScopes)
	v1.Patient(http.MethodPost, "/patients/:patientID/family/members/:linkID/revoke", access.FamilyManage, d.Family.Revoke)
	v1.Patient(http.MethodGet, "/patients/:patientID/family/invitations", access.FamilyManage, d.Family.Invitations)
	v1.Patient(http.MethodPost, "/patients/:patientID/family/invitations", access.FamilyManage, d.Family.Invite)
	v1.Patient(http.MethodPost, "/patients/:patientID/family/invitations/:invitationID/withdraw", access.FamilyManage, d.Family.WithdrawInvitation)
	v1.Patient(http.MethodPost, "/patients/:patientID/family/registrations", access.PatientWrite, d.Family.Register)
	// Addressed by code, not patient: the service checks the caller is a
	// WeChat user, rate-limits guessing per user and IP, and audits each attempt.
	v1.Authenticated(http.MethodGet, "/family/invitations/:code", d.Family.Preview)
	v1.Authenticated(http.MethodPost, "/family/invitations/:code/accept", d.Family.Accept)

	adm := d.Guard.Group(e.Group("/admin"))
	adm.Public(http.MethodGet, "/login", d.Admin.LoginPage)
	adm.Public(http.MethodPost, "/login", d.Admin.Login)
	adm.Public(http.MethodGet, "/static/*file", d.Admin.Static)
	adm.Authenticated(http.MethodPost, "/logout", d.Admin.Logout)
	adm.Staff(http.MethodGet, "", allStaff, d.Admin.Dashboard)
}
