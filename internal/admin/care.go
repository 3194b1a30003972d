package admin

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
	"github.com/carepath/carepath/internal/questionnaire"
)

// CareDeps are the services behind the desk's appointments, follow-ups,
// questionnaires and push log. A nil service leaves its section out.
type CareDeps struct {
	Appointments   *appointment.Service
	Followups      *followup.Service
	Questionnaires *questionnaire.Service
	Notify         *notify.Service
}

// FollowupRow is a follow-up with whether its window has closed.
type FollowupRow struct {
	followup.Followup
	Overdue     bool
	PatientName string
}

// QuestionnaireRow is one assignment with its questionnaire's name.
type QuestionnaireRow struct {
	questionnaire.Assignment
	Name     string
	BandName string // the score band in words
}

// RequestRow is one reschedule request (or pathway proposal) in the CM's queue.
type RequestRow struct {
	appointment.Appointment
	PatientName string
	Preferred   []time.Time
}

// Form errors: shown as a page with the status, nothing written.
var (
	errBadStart    = apperr.Invalid("starts_at", "invalid_starts_at", "请填写正确的预约开始时间")
	errBadDuration = apperr.Invalid("minutes", "invalid_duration", "预约时长应为 5 到 720 分钟")
	errBadChoice   = apperr.Invalid("at", "invalid_preferred_time", "请选择患者提出的期望时间之一")
	errTooLongText = apperr.Invalid("text", "text_too_long", "填写内容过长（每项不超过 2000 字）")
	errBadWindow   = apperr.Invalid("window_days", "invalid_window", "随访窗口应为 0 到 30 天")
	errBadReached  = apperr.Invalid("reached", "reached_required", "请说明是否联系上患者")
)

// careData adds the patient page's appointments, follow-ups,
// questionnaires and push log.
func (h *Handler) careData(c *gin.Context, patientID string, data map[string]any) bool {
	cd := h.d.Care
	now := h.d.Now()
	if cd.Appointments != nil {
		upcoming, err := cd.Appointments.List(ctx(c), patientID, false, 20)
		if err != nil {
			web.Error(c, err)
			return false
		}
		past, err := cd.Appointments.List(ctx(c), patientID, true, 10)
		if err != nil {
			web.Error(c, err)
			return false
		}
		proposals, err := cd.Appointments.ProposalsOf(ctx(c), patientID)
		if err != nil {
			web.Error(c, err)
			return false
		}
		data["Upcoming"], data["Past"], data["AppointmentKinds"] = upcoming, past, appointmentKinds()
		data["Proposals"] = proposals
	}
	if cd.Followups != nil {
		list, err := cd.Followups.List(ctx(c), patientID, 30)
		if err != nil {
			web.Error(c, err)
			return false
		}
		rows := make([]FollowupRow, len(list))
		for i, f := range list {
			rows[i] = FollowupRow{Followup: f, Overdue: followup.Overdue(f, now)}
		}
		data["Followups"], data["Channels"], data["Adherences"] = rows, channelChoices(), adherenceChoices()
	}
	if cd.Questionnaires != nil {
		list, err := cd.Questionnaires.List(ctx(c), patientID, 20)
		if err != nil {
			web.Error(c, err)
			return false
		}
		rows := make([]QuestionnaireRow, len(list))
		for i, a := range list {
			rows[i] = QuestionnaireRow{Assignment: a, Name: a.Questionnaire}
			if d, ok := cd.Questionnaires.Library().Get(a.Questionnaire); ok {
				rows[i].Name = d.Name
				for _, b := range d.Scoring.Bands {
					if b.Label == a.Band {
						rows[i].BandName = b.Name
					}
				}
			}
		}
		data["Questionnaires"] = rows
	}
	if cd.Notify != nil {
		pushes, _, err := cd.Notify.Pushes(ctx(c), patientID, "", 20)
		if err != nil {
			web.Error(c, err)
			return false
		}
		data["Pushes"] = pushes
	}
	data["Warn"] = c.Query("warn") == "overlap"
	return true
}

// overdueFollowups are the dashboard's overdue follow-ups, longest overdue first.
func (h *Handler) overdueFollowups(c *gin.Context, a auth.Actor, names map[string]string) ([]FollowupRow, error) {
	if h.d.Care.Followups == nil {
		return nil, nil
	}
	list, err := h.d.Care.Followups.Worklist(ctx(c), a, false, 200)
	if err != nil {
		return nil, err
	}
	var out []FollowupRow
	for _, f := range list {
		if followup.Overdue(f, h.d.Now()) {
			out = append(out, FollowupRow{Followup: f, Overdue: true, PatientName: names[f.PatientID]})
		}
	}
	slices.SortStableFunc(out, func(x, y FollowupRow) int { return x.WindowEnd.Compare(y.WindowEnd) })
	return out, nil
}

func appointmentKinds() []Choice {
	out := make([]Choice, 0, len(appointment.Kinds))
	for k, v := range appointment.Kinds {
		out = append(out, Choice{k, v})
	}
	slices.SortFunc(out, func(x, y Choice) int { return cmp.Compare(x.Value, y.Value) })
	return out
}

func channelChoices() []Choice {
	return []Choice{{followup.ChannelPhone, "电话"}, {followup.ChannelWeChat, "微信"}, {followup.ChannelHomeVisit, "上门"}, {followup.ChannelClinic, "门诊"}}
}

func adherenceChoices() []Choice {
	return []Choice{{"good", "良好"}, {"partial", "部分遵医嘱"}, {"poor", "差"}, {"unknown", "不详"}}
}

func choiceLabel(list []Choice, v string) string {
	for _, c := range list {
		if c.Value == v {
			return c.Label
		}
	}
	return v
}

// appointmentInput reads the appointment form: kind, title, start (local
// date and time in the hospital's zone), duration in minutes, place.
func (h *Handler) appointmentInput(c *gin.Context) (appointment.Input, error) {
	start, err := time.ParseInLocation("2006-01-02T15:04", c.PostForm("starts_at"), h.d.Zone)
	if err != nil {
		return appointment.Input{}, errBadStart
	}
	minutes, err := strconv.Atoi(c.DefaultPostForm("minutes", "30"))
	if err != nil || minutes < 5 || minutes > 720 {
		return appointment.Input{}, errBadDuration
	}
	in := appointment.Input{Kind: c.PostForm("kind"), Title: strings.TrimSpace(c.PostForm("title")), StartsAt: start,
		EndsAt: start.Add(time.Duration(minutes) * time.Minute), Department: strings.TrimSpace(c.PostForm("department")),
		Clinician: strings.TrimSpace(c.PostForm("clinician")), Location: strings.TrimSpace(c.PostForm("location")),
		Preparation: strings.TrimSpace(c.PostForm("preparation"))}
	for _, f := range []struct {
		v   string
		max int
	}{{in.Title, 128}, {in.Department, 64}, {in.Clinician, 64}, {in.Location, 128}, {in.Preparation, 2000}} {
		if utf8.RuneCountInString(f.v) > f.max {
			return appointment.Input{}, apperr.Invalid("form", "text_too_long", "填写内容过长，请精简后再保存")
		}
	}
	return in, nil
}

// appointmentSaved goes back to the patient's appointments, warning when
// the time overlaps another of the patient's appointments.
func (h *Handler) appointmentSaved(c *gin.Context, overlaps []appointment.Overlap) {
	to := "/admin/patients/" + access.GrantFrom(c).PatientID
	if len(overlaps) > 0 {
		to += "?warn=overlap"
	}
	c.Redirect(http.StatusSeeOther, to+"#appointments")
}

// CreateAppointment handles POST /admin/patients/:patientID/appointments.
func (h *Handler) CreateAppointment(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	in, err := h.appointmentInput(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	_, overlaps, err := h.d.Care.Appointments.Create(ctx(c), a, access.GrantFrom(c).PatientID, in)
	if err != nil {
		web.Error(c, err)
		return
	}
	h.appointmentSaved(c, overlaps)
}

// UpdateAppointment handles POST /admin/patients/:patientID/appointments/:appointmentID.
func (h *Handler) UpdateAppointment(c *gin.Context) {
	in, err := h.appointmentInput(c)
	if err != nil {
		web.Error(c, err)
		return
	}
	_, overlaps, err := h.d.Care.Appointments.Update(ctx(c), access.GrantFrom(c).PatientID, c.Param("appointmentID"), in)
	if err != nil {
		web.Error(c, err)
		return
	}
	h.appointmentSaved(c, overlaps)
}

// AppointmentRequests handles GET /admin/appointments/requests: the
// reschedule requests of the CM's patients, oldest first.
func (h *Handler) AppointmentRequests(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	list, err := h.d.Care.Appointments.Requests(ctx(c), a, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	_, names, err := h.caseloadNames(c, a)
	if err != nil {
		web.Error(c, err)
		return
	}
	out := make([]RequestRow, len(list))
	for i, ap := range list {
		out[i] = RequestRow{Appointment: ap, PatientName: names[ap.PatientID], Preferred: preferredTimes(ap)}
	}
	proposed, err := h.d.Care.Appointments.Proposals(ctx(c), a, 200)
	if err != nil {
		web.Error(c, err)
		return
	}
	proposals := make([]RequestRow, len(proposed))
	for i, ap := range proposed {
		proposals[i] = RequestRow{Appointment: ap, PatientName: names[ap.PatientID]}
	}
	h.render(c, http.StatusOK, "requests.html", h.page(c, "预约待办", map[string]any{"Requests": out, "Proposals": proposals}))
}

// AcceptProposal handles POST /admin/patients/:patientID/appointments/:appointmentID/accept-proposal:
// the pathway's proposal becomes a scheduled appointment, at the time and
// place on the form (prefilled with the proposal's).
func (h *Handler) AcceptProposal(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	start, err := time.ParseInLocation("2006-01-02T15:04", c.PostForm("starts_at"), h.d.Zone)
	if err != nil {
		web.Error(c, errBadStart)
		return
	}
	minutes, err := strconv.Atoi(c.DefaultPostForm("minutes", "30"))
	if err != nil || minutes < 5 || minutes > 720 {
		web.Error(c, errBadDuration)
		return
	}
	end := start.Add(time.Duration(minutes) * time.Minute)
	location, clinician := strings.TrimSpace(c.PostForm("location")), strings.TrimSpace(c.PostForm("clinician"))
	if utf8.RuneCountInString(location) > 128 || utf8.RuneCountInString(clinician) > 64 {
		web.Error(c, apperr.Invalid("form", "text_too_long", "填写内容过长，请精简后再保存"))
		return
	}
	in := appointment.Acceptance{StartsAt: &start, EndsAt: &end, Location: &location, Clinician: &clinician}
	if _, _, err := h.d.Care.Appointments.Accept(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("appointmentID"), in); err != nil {
		web.Error(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/appointments/requests")
}

// DismissProposal handles POST /admin/patients/:patientID/appointments/:appointmentID/dismiss-proposal.
func (h *Handler) DismissProposal(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	reason := strings.TrimSpace(c.PostForm("reason"))
	if utf8.RuneCountInString(reason) > 255 {
		web.Error(c, apperr.Invalid("reason", "text_too_long", "原因不超过 255 字"))
		return
	}
	if _, err := h.d.Care.Appointments.Dismiss(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("appointmentID"), reason); err != nil {
		web.Error(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/appointments/requests")
}

func preferredTimes(a appointment.Appointment) []time.Time {
	var out []time.Time
	_ = json.Unmarshal([]byte(a.PreferredTimes), &out)
	return out
}

// AcceptReschedule handles POST /admin/patients/:patientID/appointments/:appointmentID/accept:
// the appointment moves to the preferred time the CM picked, same length.
func (h *Handler) AcceptReschedule(c *gin.Context) {
	patientID, id := access.GrantFrom(c).PatientID, c.Param("appointmentID")
	ap, err := h.d.Care.Appointments.Get(ctx(c), patientID, id)
	if err != nil {
		web.Error(c, err)
		return
	}
	if ap.Status != appointment.StatusRescheduleRequested {
		web.Error(c, appointment.ErrNotRespondable)
		return
	}
	at, err := time.Parse(time.RFC3339, c.PostForm("at"))
	if err != nil || !slices.ContainsFunc(preferredTimes(ap), at.Equal) {
		web.Error(c, errBadChoice)
		return
	}
	in := appointment.Input{Kind: ap.Kind, Title: ap.Title, StartsAt: at, EndsAt: at.Add(ap.EndsAt.Sub(ap.StartsAt)),
		Department: ap.Department, Clinician: ap.Clinician, Location: ap.Location, Directions: ap.Directions,
		Preparation: ap.Preparation, SourceTaskID: ap.SourceTaskID}
	if _, _, err := h.d.Care.Appointments.Update(ctx(c), patientID, id, in); err != nil {
		web.Error(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/appointments/requests")
}

// DeclineReschedule handles POST /admin/patients/:patientID/appointments/:appointmentID/decline.
func (h *Handler) DeclineReschedule(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if _, err := h.d.Care.Appointments.DeclineReschedule(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("appointmentID")); err != nil {
		web.Error(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/appointments/requests")
}

// RecordFollowup handles POST /admin/patients/:patientID/followups/:followupID/outcome:
// reached or not, symptoms, medication adherence, problems, next action.
func (h *Handler) RecordFollowup(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	var reached *bool
	switch c.PostForm("reached") {
	case "yes":
		reached = new(bool)
		*reached = true
	case "no":
		reached = new(bool)
	default:
		web.Error(c, errBadReached)
		return
	}
	o := followup.Outcome{Reached: reached, Symptoms: c.PostForm("symptoms"), Adherence: c.PostForm("adherence"),
		Problems: c.PostForm("problems"), NextAction: c.PostForm("next_action")}
	for _, s := range []string{o.Symptoms, o.Problems, o.NextAction} {
		if utf8.RuneCountInString(s) > 2000 {
			web.Error(c, errTooLongText)
			return
		}
	}
	if _, err := h.d.Care.Followups.Record(ctx(c), a, access.GrantFrom(c).PatientID, c.Param("followupID"), o); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "followups")
}

// RescheduleFollowup handles POST /admin/patients/:patientID/followups/:followupID/reschedule.
func (h *Handler) RescheduleFollowup(c *gin.Context) {
	days, err := strconv.Atoi(c.DefaultPostForm("window_days", "0"))
	if err != nil || days < 0 || days > 30 {
		web.Error(c, errBadWindow)
		return
	}
	if _, err := h.d.Care.Followups.Reschedule(ctx(c), access.GrantFrom(c).PatientID, c.Param("followupID"),
		c.PostForm("channel"), c.PostForm("due_on"), days); err != nil {
		web.Error(c, err)
		return
	}
	h.backTo(c, "followups")
}
