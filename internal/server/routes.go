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

	v1.Staff(http.MethodGet, "/patients", clinical, d.Patients.List)
	v1.Patient(http.MethodGet, "/patients/:patientID", access.PatientRead, d.Patients.Get)

	v1.Patient(http.MethodPost, "/patients/:patientID/observations", access.VitalsReport, d.Observations.Report)
	v1.Patient(http.MethodPost, "/patients/:patientID/observations/batch", access.VitalsReport, d.Observations.ReportBatch)
	v1.Patient(http.MethodGet, "/patients/:patientID/observations", access.VitalsRead, d.Observations.List)
	v1.Patient(http.MethodGet, "/patients/:patientID/trends/:type", access.VitalsRead, d.Observations.Trend)
	v1.Patient(http.MethodGet, "/patients/:patientID/symptom-checklist", access.VitalsReport, d.Observations.Checklist)
	v1.Patient(http.MethodGet, "/patients/:patientID/alerts", access.VitalsRead, d.Alerts.ForPatient)
	v1.Patient(http.MethodGet, "/patients/:patientID/alert-thresholds", access.ClinicalManage, d.Alerts.Thresholds)
	v1.Patient(http.MethodPut, "/patients/:patientID/alert-thresholds", access.ClinicalManage, d.Alerts.SetThresholds)
	// Alerts by id: the handler loads the alert and asks the policy (ClinicalManage) about its patient.
	v1.Staff(http.MethodGet, "/alerts", clinical, d.Alerts.List)
	v1.Staff(http.MethodGet, "/alerts/stream", clinical, d.Alerts.Stream)
	v1.Staff(http.MethodGet, "/alerts/:alertID", clinical, d.Alerts.Get)
	v1.Staff(http.MethodPost, "/alerts/:alertID/acknowledge", clinical, d.Alerts.Acknowledge)
	v1.Staff(http.MethodPost, "/alerts/:alertID/resolve", clinical, d.Alerts.Resolve)

	adm := d.Guard.Group(e.Group("/admin"))
	adm.Public(http.MethodGet, "/login", d.Admin.LoginPage)
	adm.Public(http.MethodPost, "/login", d.Admin.Login)
	adm.Public(http.MethodGet, "/static/*file", d.Admin.Static)
	adm.Authenticated(http.MethodPost, "/logout", d.Admin.Logout)
	adm.Staff(http.MethodGet, "", allStaff, d.Admin.Dashboard)
}
