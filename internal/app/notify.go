package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
		Store: notify.NewStore(a.DB), Registry: reg, Consents: a.Consents, Sender: wechat, Queue: a.Queue, Now: a.now, Log: a.Log,
		Household: household{db: a.DB, patients: patient.NewStore(a.DB), family: a.Family.Store(), accounts: accounts},
	}, notify.Config{Quiet: quiet, DailyCap: a.Config.Notify.DailyCap, MaxRetry: a.Config.Notify.MaxRetry, PushToken: a.Config.WeChat.PushToken})
	return nil
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
		At: ev.At, Data: map[string]string{"stage_name": ev.StageName}}, true, nil
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
