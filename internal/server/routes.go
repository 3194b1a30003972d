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
	admins   = []auth.Role{auth.RoleAdmin}
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
	v1.Public(http.MethodPost, "/auth/wechat/login", d.Limits.wechatLogin(d.Auth.WeChatLogin))
	v1.Public(http.MethodPost, "/auth/refresh", d.Limits.refresh(d.Auth.Refresh))
	v1.Public(http.MethodPost, "/auth/staff/login", d.Limits.staffLogin(d.Auth.StaffLogin))
	v1.Authenticated(http.MethodPost, "/auth/logout", d.Auth.Logout)

	v1.Authenticated(http.MethodGet, "/me", d.Patients.Me)
	v1.Authenticated(http.MethodPost, "/me/phone", d.Patients.BindPhone)
	v1.Authenticated(http.MethodGet, "/me/consents", d.Consents.Mine)
	v1.Authenticated(http.MethodPost, "/me/consents", d.Consents.Accept)
	// Deactivation (注销): the service refuses staff; clinical records are kept.
	v1.Authenticated(http.MethodPost, "/me/deactivate", d.Account.Deactivate)

	v1.Staff(http.MethodGet, "/patients", clinical, d.Patients.List)
	v1.Staff(http.MethodPost, "/patients", clinical, d.Patients.Create)
	v1.Patient(http.MethodGet, "/patients/:patientID", access.PatientRead, d.Patients.Get)
	v1.Patient(http.MethodGet, "/patients/:patientID/access-log", access.AuditRead, d.AccessLog.AccessLog)
	// A copy of all the patient's data (FHIR R4 Bundle) and its readable summary: the patient only.
	v1.Patient(http.MethodGet, "/patients/:patientID/export", access.DataExport, d.Export.Bundle)
	v1.Patient(http.MethodGet, "/patients/:patientID/export/summary", access.DataExport, d.Export.Summary)

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
	v1.Patient(http.MethodPost, "/patients/:patientID/family/invitations", access.FamilyManage, d.Limits.invitations(d.Family.Invite))
	v1.Patient(http.MethodPost, "/patients/:patientID/family/invitations/:invitationID/withdraw", access.FamilyManage, d.Family.WithdrawInvitation)
	v1.Patient(http.MethodPost, "/patients/:patientID/family/registrations", access.PatientWrite, d.Limits.invitations(d.Family.Register))
	// Addressed by code, not patient: the service checks the caller is a
	// WeChat user, rate-limits guessing per user and IP, and audits each attempt.
	v1.Authenticated(http.MethodGet, "/family/invitations/:code", d.Family.Preview)
	v1.Authenticated(http.MethodPost, "/family/invitations/:code/accept", d.Family.Accept)

	v1.Staff(http.MethodGet, "/pathways", allStaff, d.Careplan.Pathways)
	v1.Staff(http.MethodGet, "/pathways/:key", allStaff, d.Careplan.Pathway)
	v1.Staff(http.MethodGet, "/comorbidities", allStaff, d.Careplan.Comorbidities)
	v1.Staff(http.MethodGet, "/plans", clinical, d.Careplan.Caseload)
	// The mini-program's home screen in one call; each section as the grant allows.
	v1.Patient(http.MethodGet, "/patients/:patientID/home", access.PatientRead, d.Home.Get)
	v1.Patient(http.MethodGet, "/patients/:patientID/plan", access.PlanRead, d.Careplan.Current)
	v1.Patient(http.MethodGet, "/patients/:patientID/plans", access.PlanRead, d.Careplan.List)
	v1.Patient(http.MethodPost, "/patients/:patientID/plans", access.PlanManage, d.Careplan.Enrol)
	v1.Patient(http.MethodGet, "/patients/:patientID/plans/:planID", access.PlanRead, d.Careplan.Get)
	v1.Patient(http.MethodGet, "/patients/:patientID/plans/:planID/history", access.PlanRead, d.Careplan.History)
	v1.Patient(http.MethodPost, "/patients/:patientID/plans/:planID/events", access.PlanManage, d.Careplan.RecordEvent)
	v1.Patient(http.MethodPost, "/patients/:patientID/plans/:planID/transitions", access.PlanManage, d.Careplan.Transition)
	v1.Patient(http.MethodPut, "/patients/:patientID/plans/:planID/risk", access.PlanManage, d.Careplan.SetRisk)
	v1.Patient(http.MethodPost, "/patients/:patientID/plans/:planID/close", access.PlanManage, d.Careplan.Close)
	v1.Patient(http.MethodPost, "/patients/:patientID/plans/:planID/tasks/:taskID/done", access.PlanTaskDone, d.Careplan.CompleteTask)
	v1.Patient(http.MethodPut, "/patients/:patientID/comorbidities", access.PlanManage, d.Careplan.SetComorbidities)

	v1.Staff(http.MethodGet, "/articles", allStaff, d.Education.Articles)
	v1.Staff(http.MethodGet, "/articles/:key", allStaff, d.Education.Article)
	v1.Patient(http.MethodGet, "/patients/:patientID/education", access.PlanRead, d.Education.Feed)
	v1.Patient(http.MethodPost, "/patients/:patientID/education", access.PlanManage, d.Education.Push)
	v1.Patient(http.MethodGet, "/patients/:patientID/education/:assignmentID", access.PlanRead, d.Education.Open)
	v1.Patient(http.MethodPost, "/patients/:patientID/education/:assignmentID/finished", access.PlanRead, d.Education.Finish)

	// Messaging: the care team's thread, the CM inbox, quick replies, the
	// WebSocket (each thread subscription is checked by the policy) and
	// signed image links (the signature is the authorization).
	v1.Patient(http.MethodGet, "/patients/:patientID/thread", access.MessagesRead, d.Messages.Thread)
	v1.Patient(http.MethodGet, "/patients/:patientID/thread/messages", access.MessagesRead, d.Messages.Messages)
	v1.Patient(http.MethodPost, "/patients/:patientID/thread/messages", access.MessagesSend, d.Limits.messages(d.Messages.Send))
	v1.Patient(http.MethodPost, "/patients/:patientID/thread/messages/:messageID/recall", access.MessagesSend, d.Messages.Recall)
	v1.Patient(http.MethodPost, "/patients/:patientID/thread/read", access.MessagesRead, d.Messages.Read)
	v1.Patient(http.MethodPost, "/patients/:patientID/thread/transfer", access.ClinicalManage, d.Messages.Transfer)
	v1.Staff(http.MethodGet, "/inbox", clinical, d.Messages.Inbox)
	v1.Staff(http.MethodGet, "/quick-replies", allStaff, d.Messages.QuickReplies)
	v1.Staff(http.MethodPost, "/quick-replies", allStaff, d.Messages.CreateQuickReply)
	v1.Staff(http.MethodDelete, "/quick-replies/:replyID", allStaff, d.Messages.DeleteQuickReply)
	v1.Authenticated(http.MethodGet, "/ws", d.Messages.Socket)
	v1.Public(http.MethodGet, "/blobs/:key", d.Messages.Blob)

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

	// Appointments: the CM books and edits; the patient (and family with
	// view_appointments) confirms, cancels or asks for another time.
	v1.Patient(http.MethodGet, "/patients/:patientID/appointments", access.AppointmentsRead, d.Appointments.List)
	v1.Patient(http.MethodPost, "/patients/:patientID/appointments", access.AppointmentsManage, d.Appointments.Create)
	v1.Patient(http.MethodGet, "/patients/:patientID/calendar.ics", access.AppointmentsRead, d.Appointments.Calendar)
	v1.Patient(http.MethodGet, "/patients/:patientID/appointments/:appointmentID", access.AppointmentsRead, d.Appointments.Get)
	v1.Patient(http.MethodPut, "/patients/:patientID/appointments/:appointmentID", access.AppointmentsManage, d.Appointments.Update)
	v1.Patient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/close", access.AppointmentsManage, d.Appointments.Close)
	v1.Patient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/confirm", access.AppointmentsRespond, d.Appointments.Confirm)
	v1.Patient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/cancel", access.AppointmentsRespond, d.Appointments.Cancel)
	v1.Patient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/reschedule-request", access.AppointmentsRespond, d.Appointments.RequestReschedule)
	v1.Staff(http.MethodGet, "/appointments/requests", clinical, d.Appointments.Requests)
	// A pathway's proposals wait for the CM, unseen by the patient, until accepted or dismissed.
	v1.Staff(http.MethodGet, "/appointments/proposals", clinical, d.Appointments.Proposals)
	v1.Patient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/accept-proposal", access.AppointmentsManage, d.Appointments.AcceptProposal)
	v1.Patient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/dismiss-proposal", access.AppointmentsManage, d.Appointments.DismissProposal)

	// Follow-ups are the CM's work: planned from the pathway and risk level,
	// recorded and rescheduled by the care team only; the worklist is scoped
	// to the caller's patients (a lead: the department, escalations included).
	v1.Staff(http.MethodGet, "/followups", clinical, d.Followups.Worklist)
	v1.Patient(http.MethodGet, "/patients/:patientID/followups", access.ClinicalManage, d.Followups.List)
	v1.Patient(http.MethodPost, "/patients/:patientID/followups", access.ClinicalManage, d.Followups.Add)
	v1.Patient(http.MethodPost, "/patients/:patientID/followups/:followupID/outcome", access.ClinicalManage, d.Followups.Record)
	v1.Patient(http.MethodPost, "/patients/:patientID/followups/:followupID/reschedule", access.ClinicalManage, d.Followups.Reschedule)

	// Questionnaires: the CM sends; the patient (or a relative with the report
	// scope, like any self-report) answers once; reading answers and scores is
	// reading health data, so it takes vitals.read (family: view_vitals).
	v1.Staff(http.MethodGet, "/questionnaires", allStaff, d.Questionnaires.Definitions)
	v1.Staff(http.MethodGet, "/questionnaires/flagged", clinical, d.Questionnaires.Flagged)
	v1.Patient(http.MethodGet, "/patients/:patientID/questionnaires", access.VitalsRead, d.Questionnaires.List)
	v1.Patient(http.MethodPost, "/patients/:patientID/questionnaires", access.ClinicalManage, d.Questionnaires.Assign)
	v1.Patient(http.MethodGet, "/patients/:patientID/questionnaires/:assignmentID", access.VitalsRead, d.Questionnaires.Get)
	v1.Patient(http.MethodPost, "/patients/:patientID/questionnaires/:assignmentID/answers", access.VitalsReport, d.Questionnaires.Answer)

	// KPIs: aggregates over the caller's scope (a CM's caseload, a lead's
	// department, an admin's hospital: access.AggregatePatients); no patient rows.
	v1.Staff(http.MethodGet, "/kpis", allStaff, d.KPIs.Get)

	// Notifications: the client reports subscription results; WeChat's
	// message push (the signature over the push token is the authorization);
	// the patient's in-app notification centre and the care team's push log.
	v1.Authenticated(http.MethodPost, "/subscriptions", d.Notify.Subscribe)
	v1.Public(http.MethodGet, "/wechat/push", d.Notify.VerifyPush)
	v1.Public(http.MethodPost, "/wechat/push", d.Notify.Push)
	v1.Patient(http.MethodGet, "/patients/:patientID/notifications", access.PatientRead, d.Notify.Notifications)
	v1.Patient(http.MethodPost, "/patients/:patientID/notifications/read", access.PatientRead, d.Notify.MarkRead)
	v1.Patient(http.MethodGet, "/patients/:patientID/pushes", access.ClinicalManage, d.Notify.Pushes)

	// The desk: pages and forms; HTMLErrors shows the guard's and the
	// services' errors (CSRF 403, caseload 404, expired session 401) as pages.
	adm := d.Guard.Group(e.Group("/admin", d.Admin.HTMLErrors))
	adm.Public(http.MethodGet, "/login", d.Admin.LoginPage)
	adm.Public(http.MethodPost, "/login", d.Limits.staffLogin(d.Admin.Login))
	adm.Public(http.MethodGet, "/static/*file", d.Admin.Static)
	adm.Authenticated(http.MethodPost, "/logout", d.Admin.Logout)
	adm.Staff(http.MethodGet, "", allStaff, d.Admin.Dashboard)
	adm.Staff(http.MethodGet, "/patients", clinical, d.Admin.Patients)
	adm.StaffPatient(http.MethodGet, "/patients/:patientID", clinical, access.PatientRead, d.Admin.Patient)
	adm.StaffPatient(http.MethodGet, "/patients/:patientID/summary", clinical, access.PatientRead, d.Admin.Summary)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/messages", clinical, access.MessagesSend, d.Limits.messages(d.Admin.Reply))
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/plans", clinical, access.PlanManage, d.Admin.Enrol)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/plans/:planID/events", clinical, access.PlanManage, d.Admin.RecordEvent)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/plans/:planID/transitions", clinical, access.PlanManage, d.Admin.Transition)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/plans/:planID/risk", clinical, access.PlanManage, d.Admin.SetRisk)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/plans/:planID/close", clinical, access.PlanManage, d.Admin.ClosePlan)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/education", clinical, access.PlanManage, d.Admin.PushArticle)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/alerts/:alertID/acknowledge", clinical, access.ClinicalManage, d.Admin.AcknowledgeAlert)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/alerts/:alertID/resolve", clinical, access.ClinicalManage, d.Admin.ResolveAlert)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/appointments", clinical, access.AppointmentsManage, d.Admin.CreateAppointment)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID", clinical, access.AppointmentsManage, d.Admin.UpdateAppointment)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/accept", clinical, access.AppointmentsManage, d.Admin.AcceptReschedule)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/decline", clinical, access.AppointmentsManage, d.Admin.DeclineReschedule)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/accept-proposal", clinical, access.AppointmentsManage, d.Admin.AcceptProposal)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/appointments/:appointmentID/dismiss-proposal", clinical, access.AppointmentsManage, d.Admin.DismissProposal)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/followups/:followupID/outcome", clinical, access.ClinicalManage, d.Admin.RecordFollowup)
	adm.StaffPatient(http.MethodPost, "/patients/:patientID/followups/:followupID/reschedule", clinical, access.ClinicalManage, d.Admin.RescheduleFollowup)
	adm.Staff(http.MethodGet, "/appointments/requests", clinical, d.Admin.AppointmentRequests)
	adm.Staff(http.MethodGet, "/kpis", allStaff, d.Admin.KPIsPage)
	adm.Staff(http.MethodGet, "/pathways", allStaff, d.Admin.PathwaysPage)
	adm.Staff(http.MethodPost, "/pathways/validate", admins, d.Admin.ValidatePathway)
	adm.Staff(http.MethodPost, "/pathways/load", admins, d.Admin.LoadPathway)
	adm.Staff(http.MethodGet, "/templates", admins, d.Admin.TemplatesPage)
	adm.Staff(http.MethodGet, "/education", allStaff, d.Admin.Library)
	adm.Staff(http.MethodGet, "/staff", admins, d.Admin.StaffPage)
	adm.Staff(http.MethodPost, "/staff", admins, d.Admin.CreateStaff)
	adm.Staff(http.MethodPost, "/staff/:staffID/disable", admins, d.Admin.DisableStaff)
	// The audit log (MLPS 2.0 security audit): admins and department leads.
	adm.Staff(http.MethodGet, "/audit", []auth.Role{auth.RoleAdmin, auth.RoleLead}, d.Admin.AuditPage)
}
