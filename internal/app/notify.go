package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/wx"
	"github.com/carepath/carepath/internal/questionnaire"
)

// buildNotify builds the push pipeline from the template registry and the notify settings.
func (a *App) buildNotify(wechat *wx.Client, accounts *auth.Store) error {
	loc, err := a.Config.Location()
	if err != nil {
		return err
	}
	reg, err := notify.LoadRegistry(configs.Files, "notify/templates.yaml", a.Config.Notify.Templates)
	if err != nil {
		return err
	}
	quiet, err := notify.ParseQuietHours(a.Config.Notify.QuietStart, a.Config.Notify.QuietEnd, loc)
	if err != nil {
		return err
	}
	a.Notify = notify.NewService(notify.Deps{
		Store: notify.NewStore(a.DB), Registry: reg, Consents: a.Consents, Sender: wechat, Queue: a.Queue, Keys: a.keys, Plans: a.Careplan, Now: a.now, Log: a.Log,
		Household: household{db: a.DB, patients: patient.NewStore(a.DB), family: a.Family.Store(), accounts: accounts},
	}, notify.Config{Quiet: quiet, DailyCap: a.Config.Notify.DailyCap, MaxRetry: a.Config.Notify.MaxRetry, PushToken: a.Config.WeChat.PushToken,
		PushAESKey: a.Config.WeChat.PushAESKey, AppID: a.Config.WeChat.AppID})
	// Planned each morning by notify.TaskDailyReminders (appointment
	// reminders have their own ten-minute job: their times are not daily).
	a.Notify.AddReminderSource(questionnaireReminders{a.Questionnaires, loc})
	a.Notify.AddReminderSource(reportingReminders{a.Alerts, a.Config.Notify.ReportingReminderDays})
	return nil
}

// questionnaireRemindOn are the days after the day a questionnaire was
// given on which a still unanswered one is reminded of (questionnaire_due).
var questionnaireRemindOn = []int{1, 3, 7}

// questionnaireReminders plans questionnaire_due pushes for the
// questionnaires still unanswered 1, 3 and 7 days after they were given,
// but not for those a pathway's schedule sent from a plan since closed (结案).
type questionnaireReminders struct {
	q   *questionnaire.Service
	loc *time.Location
}

func (r questionnaireReminders) DueReminders(ctx context.Context, day time.Time) ([]notify.Request, error) {
	last := slices.Max(questionnaireRemindOn)
	list, err := r.q.Pending(ctx, day.AddDate(0, 0, -last))
	if err != nil {
		return nil, err
	}
	today := day.In(r.loc)
	var out []notify.Request
	for _, as := range list {
		given := as.AssignedAt.In(r.loc)
		givenDay := time.Date(given.Year(), given.Month(), given.Day(), 0, 0, 0, 0, r.loc)
		days := int(today.Sub(givenDay).Hours()/24 + 0.5)
		if !slices.Contains(questionnaireRemindOn, days) {
			continue
		}
		planID := "" // a schedule's questionnaire: not reminded of once its plan is closed
		if as.ScheduleKey != nil {
			planID, _, _ = strings.Cut(*as.ScheduleKey, ":")
		}
		out = append(out, notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: as.PatientID,
			DedupeKey: "questionnaire_due:" + as.ID + ":" + today.Format("20060102"), At: day, PlanID: planID})
	}
	return out, nil
}

// reportingReminders plans a reporting_reminder for each patient whose plan
// expects a reading that is days whole days overdue: one a patient a day.
type reportingReminders struct {
	alerts *alert.Service
	days   int
}

func (r reportingReminders) DueReminders(ctx context.Context, day time.Time) ([]notify.Request, error) {
	ids, err := r.alerts.MissedReporting(ctx, r.days)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Request, 0, len(ids))
	for _, id := range ids {
		out = append(out, notify.Request{Kind: notify.KindReportingReminder, PatientID: id,
			DedupeKey: "reporting_reminder:" + id + ":" + day.Format("20060102"), At: day})
	}
	return out, nil
}

// household answers the push pipeline's questions about who receives a
// patient's pushes, from the patient, family and account stores.
type household struct {
	db       *gorm.DB
	patients *patient.Store
	family   *family.Store
	accounts *auth.Store
}

func (h household) Recipients(ctx context.Context, patientID string) ([]notify.Recipient, error) {
	p, err := h.patients.ByID(ctx, patientID)
	if err != nil {
		return nil, err
	}
	var out []notify.Recipient
	if p.UserID != nil && *p.UserID != "" {
		out = append(out, notify.Recipient{UserID: *p.UserID})
	}
	links, err := h.family.ActiveLinks(ctx, patientID)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		for _, sc := range access.ParseScopes(l.Scopes) {
			if sc == access.ScopeReceivePush {
				out = append(out, notify.Recipient{UserID: l.UserID, Family: true})
				break
			}
		}
	}
	return out, nil
}

var _ notify.BulkHousehold = household{}

// RecipientsOf is Recipients for many patients, in two queries per 500.
func (h household) RecipientsOf(ctx context.Context, patientIDs []string) (map[string][]notify.Recipient, error) {
	out := make(map[string][]notify.Recipient, len(patientIDs))
	db := h.db.WithContext(ctx)
	for lo := 0; lo < len(patientIDs); lo += 500 {
		ids := patientIDs[lo:min(lo+500, len(patientIDs))]
		var pats []patient.Patient
		if err := db.Select("id", "user_id").Where("id IN ?", ids).Find(&pats).Error; err != nil {
			return nil, fmt.Errorf("read patients: %w", err)
		}
		for _, p := range pats {
			if p.UserID != nil && *p.UserID != "" {
				out[p.ID] = append(out[p.ID], notify.Recipient{UserID: *p.UserID})
			}
		}
		var links []family.Link
		if err := db.Where("patient_id IN ? AND status = ?", ids, family.StatusActive).Order("created_at").Order("id").Find(&links).Error; err != nil {
			return nil, fmt.Errorf("read family links: %w", err)
		}
		for _, l := range links {
			if slices.Contains(access.ParseScopes(l.Scopes), access.ScopeReceivePush) {
				out[l.PatientID] = append(out[l.PatientID], notify.Recipient{UserID: l.UserID, Family: true})
			}
		}
	}
	return out, nil
}

func (h household) OpenID(ctx context.Context, userID string) (string, error) {
	u, err := h.accounts.UserByID(ctx, userID)
	if err != nil {
		return "", err
	}
	if u.OpenID == nil || u.Status != auth.StatusActive {
		return "", nil
	}
	return *u.OpenID, nil
}

var _ notify.BulkOpenIDs = household{}

// OpenIDs is OpenID for many users, in one query per 500.
func (h household) OpenIDs(ctx context.Context, userIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(userIDs))
	for lo := 0; lo < len(userIDs); lo += 500 {
		var us []auth.User
		err := h.db.WithContext(ctx).Select("id", "open_id", "status").Where("id IN ?", userIDs[lo:min(lo+500, len(userIDs))]).Find(&us).Error
		if err != nil {
			return nil, fmt.Errorf("read openids: %w", err)
		}
		for _, u := range us {
			if u.OpenID != nil && u.Status == auth.StatusActive {
				out[u.ID] = *u.OpenID
			}
		}
	}
	return out, nil
}

func (h household) UserIDByOpenID(ctx context.Context, openID string) (string, bool, error) {
	if openID == "" {
		return "", false, nil
	}
	var u auth.User
	err := h.db.WithContext(ctx).Select("id").Where("open_id = ?", openID).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("user by openid: %w", err)
	}
	return u.ID, true, nil
}

// stageBegins turns a stage change into a stage_begins push (the stage
// name is the only detail shown). A new plan's first stage is pushed too.
func stageBegins(payload []byte) (notify.Request, bool, error) {
	var ev careplan.StageChanged
	if err := json.Unmarshal(payload, &ev); err != nil {
		return notify.Request{}, false, err
	}
	if ev.To == "" {
		return notify.Request{}, false, nil
	}
	return notify.Request{Kind: notify.KindStageBegins, PatientID: ev.PatientID, DedupeKey: "stage:" + ev.PlanID + ":" + ev.To,
		At: ev.At, Data: map[string]string{"stage_name": ev.StageName}, PlanID: ev.PlanID}, true, nil
}

// replyWaiting turns a staff reply the patient has not seen into a
// cm_message push to the patient's own account (not relatives: the thread is theirs).
func replyWaiting(payload []byte) (notify.Request, bool, error) {
	var ev messaging.ReplyWaiting
	if err := json.Unmarshal(payload, &ev); err != nil {
		return notify.Request{}, false, err
	}
	return notify.Request{Kind: notify.KindCMMessage, PatientID: ev.PatientID, Recipients: []string{ev.UserID},
		DedupeKey: fmt.Sprintf("reply:%s:%d", ev.ThreadID, ev.Seq), At: ev.At}, true, nil
}

// readingAttention turns a new (or escalated) alert into a push that says
// only that something is waiting to be looked at: never the reading or the
// rule. Critical alerts are urgent (not held by quiet hours or the daily cap).
func readingAttention(payload []byte) (notify.Request, bool, error) {
	var ev alert.RaisedEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return notify.Request{}, false, err
	}
	key := "alert:" + ev.AlertID
	if ev.Escalated {
		key += ":" + ev.Severity
	}
	return notify.Request{Kind: notify.KindReadingAttention, PatientID: ev.PatientID, DedupeKey: key,
		Urgent: ev.Severity == alert.SeverityCritical, At: ev.RaisedAt}, true, nil
}

// chain runs handlers in order; each is idempotent, so a retry after the
// second fails repeats the first harmlessly.
func chain(hs ...asynq.HandlerFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		for _, h := range hs {
			if err := h(ctx, t); err != nil {
				return err
			}
		}
		return nil
	}
}
