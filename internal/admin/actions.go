package admin

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/platform/web"
)

// The desk's forms. The auth middleware has already refused a form without
// the session's CSRF token (403); each action calls the feature's service
// and answers 303 back to the patient page (post/redirect/get), or the
// service's error as a page (HTMLErrors).

func (h *Handler) backTo(c *gin.Context, section string) {
	c.Redirect(http.StatusSeeOther, "/admin/patients/"+access.GrantFrom(c).PatientID+"#"+section)
}

// Reply handles POST /admin/patients/:patientID/messages: a reply, a quick
// reply, or an internal note (kind=note) in the patient's thread.
func (h *Handler) Reply(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	kind := "text"
	if c.PostForm("kind") == "note" {
		kind = "note"
	}
	d := messaging.Draft{ClientMsgID: formMessageID(c.PostForm("client_msg_id")), Kind: kind,
		Text: strings.TrimSpace(c.PostForm("text")), QuickReplyID: c.PostForm("quick_reply_id")}
	if _, _, err := h.d.Messages.Send(ctx(c), a, access.GrantFrom(c), d); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "thread")
}

// formMessageID keeps the form's id (a resubmitted form is then one message)
// or makes one.
func formMessageID(v string) string {
	if v != "" && len(v) <= 64 {
		return v
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "desk-" + hex.EncodeToString(b)
}

// Enrol handles POST /admin/patients/:patientID/plans.
func (h *Handler) Enrol(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	anchors := map[string]string{}
	for _, ev := range []string{"enrolment", "admission", "surgery", "discharge"} {
		if v := c.PostForm(ev); v != "" {
			anchors[ev] = v
		}
	}
	in := careplan.Enrolment{Pathway: c.PostForm("pathway"), Anchors: anchors, PlannedAdmission: c.PostForm("planned_admission") != ""}
	if _, err := h.d.Plans.Enrol(ctx(c), a, access.GrantFrom(c).PatientID, in); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "plan")
}

// RecordEvent handles POST /admin/patients/:patientID/plans/:planID/events;
// "planned" is "1" (计划内入院), "0" (非计划) or "" (as recorded).
func (h *Handler) RecordEvent(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	ev := careplan.Event{Name: c.PostForm("event"), Date: c.PostForm("date")}
	switch c.PostForm("planned") {
	case "1":
		ev.Planned = ptrTo(true)
	case "0":
		ev.Planned = ptrTo(false)
	}
	if _, err := h.d.Plans.RecordEvent(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("planID"), ev); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "plan")
}

// Transition handles POST /admin/patients/:patientID/plans/:planID/transitions.
func (h *Handler) Transition(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if _, err := h.d.Plans.Transition(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("planID"), c.PostForm("stage"), c.PostForm("reason")); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "plan")
}

// SetRisk handles POST /admin/patients/:patientID/plans/:planID/risk.
func (h *Handler) SetRisk(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if _, err := h.d.Plans.SetRisk(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("planID"), c.PostForm("level"), c.PostForm("reason")); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "plan")
}

// ClosePlan handles POST /admin/patients/:patientID/plans/:planID/close (结案).
func (h *Handler) ClosePlan(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	in := careplan.Closure{Reason: c.PostForm("reason"), Note: c.PostForm("note")}
	if _, err := h.d.Plans.Close(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("planID"), in); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "plan")
}

// PushArticle handles POST /admin/patients/:patientID/education.
func (h *Handler) PushArticle(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if _, err := h.d.Education.Push(ctx(c), a, access.GrantFrom(c).PatientID, c.PostForm("article")); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "education")
}

// AcknowledgeAlert handles POST /admin/patients/:patientID/alerts/:alertID/acknowledge.
func (h *Handler) AcknowledgeAlert(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if err := h.d.Alerts.Acknowledge(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("alertID")); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "alerts")
}

// ResolveAlert handles POST /admin/patients/:patientID/alerts/:alertID/resolve.
func (h *Handler) ResolveAlert(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if err := h.d.Alerts.Resolve(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("alertID"), c.PostForm("action"), c.PostForm("note")); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "alerts")
}

func ptrTo[T any](v T) *T { return &v }
