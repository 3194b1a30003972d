package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
	"github.com/carepath/carepath/internal/platform/wx"
)

// Recipient is someone who may receive pushes about a patient.
type Recipient struct {
	UserID string
	Family bool // a relative (else the patient's own account)
}

// Household finds who receives a patient's pushes and their openids.
type Household interface {
	// Recipients are the patient's own account (if any) and every relative
	// with an active link holding receive_push.
	Recipients(ctx context.Context, patientID string) ([]Recipient, error)
	// OpenID is a user's openid, "" if none.
	OpenID(ctx context.Context, userID string) (string, error)
}

// BulkHousehold is a Household that can answer Recipients for many patients
// in a few queries (the day's reminders are planned in pages).
type BulkHousehold interface {
	Household
	// RecipientsOf returns Recipients of each patient, by patient id.
	RecipientsOf(ctx context.Context, patientIDs []string) (map[string][]Recipient, error)
}

// BulkOpenIDs is a Household that can answer OpenID for many users in one
// query (a batch of sends).
type BulkOpenIDs interface {
	// OpenIDs maps each user id to its OpenID ("" if none).
	OpenIDs(ctx context.Context, userIDs []string) (map[string]string, error)
}

// Consents tells whether the patient's health-data consent is in force;
// without it nothing about their care goes to relatives.
type Consents interface {
	HealthDataActive(ctx context.Context, patientID string) (bool, error)
}

// Sender sends a subscription message (wx.Client).
type Sender interface {
	SendSubscribe(ctx context.Context, m wx.SubscribeMessage) error
}

// Enqueuer is the job queue.
type Enqueuer = outbox.Enqueuer

// ReminderSource plans the reminders of a day (appointments, follow-up
// questionnaires, missed reporting). Each request needs a dedupe key naming
// the thing and the day, so that several workers planning at once, or one
// planning twice, push once.
type ReminderSource interface {
	DueReminders(ctx context.Context, day time.Time) ([]Request, error)
}

// Config tunes the pipeline.
type Config struct {
	Quiet     QuietHours
	DailyCap  int
	MaxRetry  int
	PushToken string
	// PushAESKey and AppID open pushes sent in safe or compatible mode.
	PushAESKey, AppID string
	// Queues: urgent pushes, important ones (priority ≤ 3) and the rest.
	UrgentQueue, ImportantQueue, LowQueue string
	// SendBatch is how many planned pushes one send task carries (0: the
	// default; 1: one task a push); SendChunk how many of them are sent at once.
	SendBatch, SendChunk int
}

// Plans tells whether a care plan was closed (结案).
type Plans interface {
	Closed(ctx context.Context, planID string) (bool, error)
}

// Deps are what the service uses.
type Deps struct {
	Store     *Store
	Registry  *Registry
	Household Household
	Consents  Consents
	Sender    Sender
	Queue     Enqueuer
	Keys      *idempotency.Store // makes a retried subscription report count once
	Plans     Plans              // whether a push's care plan was closed; nil: not checked
	Now       func() time.Time
	Log       *slog.Logger
}

// Service plans and sends pushes and keeps the notification centre.
type Service struct {
	Deps
	cfg     Config
	sources []ReminderSource
}

// NewService builds the service.
func NewService(d Deps, cfg Config) *Service {
	if cfg.UrgentQueue == "" {
		cfg.UrgentQueue, cfg.ImportantQueue, cfg.LowQueue = queue.Critical, queue.Default, queue.Low
	}
	if cfg.SendBatch == 0 {
		cfg.SendBatch = defaultSendBatch
	}
	if cfg.SendChunk <= 0 {
		cfg.SendChunk = defaultSendChunk
	}
	return &Service{Deps: d, cfg: cfg}
}

// UseQueue replaces the job queue and its queue names (tests and the benchmark).
func (s *Service) UseQueue(q Enqueuer, name string) {
	s.Queue = q
	s.cfg.UrgentQueue, s.cfg.ImportantQueue, s.cfg.LowQueue = name, name, name
}

// AddReminderSource registers a source of daily reminders (issue 7: appointments, questionnaires).
func (s *Service) AddReminderSource(src ReminderSource) { s.sources = append(s.sources, src) }

// Templates returns the template registry.
func (s *Service) Templates() *Registry { return s.Registry }

// Add writes a push request to the outbox inside tx, the transaction of the
// change it follows.
func Add(tx *gorm.DB, r Request) error {
	return outbox.Add(tx, TopicRequest, queue.Default, r)
}

// SubscriptionResult is one template's answer to wx.requestSubscribeMessage.
type SubscriptionResult struct {
	TemplateID string
	Result     string
}

// RecordSubscriptions applies what the mini-program reports after
// wx.requestSubscribeMessage and returns the response to send: the user's
// subscriptions. With a key (Idempotency-Key), a retried report replays the
// first response and adds no credit; the same key with other results is a 409.
func (s *Service) RecordSubscriptions(ctx context.Context, a auth.Actor, results []SubscriptionResult, key string) (idempotency.Outcome, error) {
	if a.Kind != auth.KindUser {
		return idempotency.Outcome{}, ErrNotWeChatUser
	}
	templates := make([]Template, len(results))
	for i, r := range results {
		t, ok := s.Registry.ByID(r.TemplateID)
		if !ok {
			return idempotency.Outcome{}, ErrUnknownTemplate.WithDetail("template_id", r.TemplateID)
		}
		templates[i] = t
	}
	b, _ := json.Marshal(results) // plain strings cannot fail to encode
	k := idempotency.Key{ActorID: a.ID, Key: key, Hash: idempotency.Hash([]byte("notify.subscriptions"), b)}
	return s.Keys.Do(ctx, k, func(tx *gorm.DB) (int, any, error) {
		now := s.Now().UTC()
		st := NewStore(tx)
		for i, r := range results {
			if err := st.ApplyResult(ctx, a.ID, templates[i], r.Result, now); err != nil {
				return 0, nil, err
			}
		}
		subs, err := st.Subscriptions(ctx, a.ID)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, SubscriptionsView{Subscriptions: s.subscriptionViews(subs)}, nil
	})
}

// ApplyWeChatEvent applies a subscription event from WeChat's message push
// for the user with openID. Popup accepts are recorded without a credit:
// the mini-program reports the same tap, and counting it twice would make
// sends that WeChat refuses.
func (s *Service) ApplyWeChatEvent(ctx context.Context, userID, event, templateID, status string) error {
	t, ok := s.Registry.ByID(templateID)
	if !ok {
		return nil // a template this service does not use
	}
	now := s.Now().UTC()
	switch event {
	case "subscribe_msg_popup_event":
		if status == ResultAccept {
			return nil
		}
		return s.Store.ApplyResult(ctx, userID, t, status, now)
	case "subscribe_msg_change_event", "subscribe_msg_sent_event":
		// A reject in settings, or a send the user refused: no more sends.
		if status == ResultReject {
			return s.Store.ApplyResult(ctx, userID, t, ResultCancelled, now)
		}
		if event == "subscribe_msg_change_event" && status == ResultAccept && t.LongTerm() {
			return s.Store.ApplyResult(ctx, userID, t, ResultAccept, now)
		}
	}
	return nil
}

// aboutClosedPlan reports whether req speaks of a care plan closed (结案)
// since it was made: it is neither planned nor, if planned already, sent.
func (s *Service) aboutClosedPlan(ctx context.Context, req Request) (bool, error) {
	if req.PlanID == "" || s.Plans == nil {
		return false, nil
	}
	return s.Plans.Closed(ctx, req.PlanID)
}

// Handle plans one request: the in-app notification at once, and a push to
// each recipient at the time quiet hours allow. Safe to run twice for one
// request (the outbox delivers at least once).
func (s *Service) Handle(ctx context.Context, req Request) error {
	t, ok := s.Registry.Template(req.Kind)
	switch {
	case !ok:
		return fmt.Errorf("%w: unknown kind %q", errBadRequest, req.Kind)
	case req.PatientID == "" || req.DedupeKey == "" || len(req.DedupeKey) > maxDedupeKeyLen:
		return fmt.Errorf("%w: patient_id and dedupe_key (1..%d characters) are required", errBadRequest, maxDedupeKeyLen)
	}
	if closed, err := s.aboutClosedPlan(ctx, req); err != nil || closed {
		return err
	}
	now := s.Now().UTC()
	if req.At.IsZero() {
		req.At = now
	}
	if err := s.Store.AddNotification(ctx, &Notification{ID: database.NewID(), PatientID: req.PatientID, DedupeKey: req.DedupeKey,
		Kind: req.Kind, Title: t.Title, Page: t.PageFor(req.PatientID), CreatedAt: now}); err != nil {
		return err
	}
	recipients, err := s.recipients(ctx, req)
	if err != nil {
		return err
	}
	due := now
	if req.NotBefore.After(now) {
		due = req.NotBefore.UTC()
	}
	at := s.cfg.Quiet.SendAt(due, req.Urgent).UTC()
	payload, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode push: %w", err)
	}
	for _, r := range recipients {
		p, err := s.Store.AddPush(ctx, Push{ID: database.NewID(), DedupeKey: req.DedupeKey, UserID: r.UserID, PatientID: req.PatientID,
			Kind: req.Kind, TemplateID: t.TemplateID, Recipient: recipientRole(r, req), Urgent: req.Urgent, Payload: string(payload),
			Status: StatusQueued, ScheduledAt: at, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			return err
		}
		if Final(p.Status) {
			continue
		}
		if err := s.enqueue(ctx, p, t, p.ScheduledAt, ""); err != nil {
			return err
		}
	}
	return nil
}

func recipientRole(r Recipient, req Request) string {
	switch {
	case len(req.Recipients) > 0:
		return recipientNamed
	case r.Family:
		return recipientFamily
	}
	return recipientSelf
}

// recipients are the users a request goes to.
func (s *Service) recipients(ctx context.Context, req Request) ([]Recipient, error) {
	if len(req.Recipients) > 0 {
		out := make([]Recipient, 0, len(req.Recipients))
		for _, id := range slices.Compact(slices.Sorted(slices.Values(req.Recipients))) {
			out = append(out, Recipient{UserID: id})
		}
		return out, nil
	}
	all, err := s.Household.Recipients(ctx, req.PatientID)
	if err != nil {
		return nil, fmt.Errorf("push recipients: %w", err)
	}
	return s.withConsent(ctx, req.PatientID, all)
}

// withConsent drops the relatives among a patient's recipients unless the
// patient's health-data consent is active (asked only when there is one).
func (s *Service) withConsent(ctx context.Context, patientID string, all []Recipient) ([]Recipient, error) {
	var out []Recipient
	consentChecked, consented := false, false
	var err error
	for _, r := range all {
		if r.Family {
			if !consentChecked {
				if consented, err = s.Consents.HealthDataActive(ctx, patientID); err != nil {
					return nil, fmt.Errorf("push recipients: %w", err)
				}
				consentChecked = true
			}
			if !consented {
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// sendTask is the payload of TaskSend: one push, or a batch of pushes
// planned together (PushIDs).
type sendTask struct {
	PushID  string   `json:"push_id,omitempty"`
	PushIDs []string `json:"push_ids,omitempty"`
}

// Sends in batches: the day's reminders are enqueued as tasks of up to
// SendBatch pushes each; a task claims, sends and settles them SendChunk at
// a time (SendChunk calls to WeChat at once; one transaction records a
// chunk's answers and claims the next). A worker killed mid-task costs at most the chunk in
// flight (recorded interrupted, never resent); the rest stay queued for the
// redelivered task.
const (
	defaultSendBatch = 64
	defaultSendChunk = 16
	retryDelay       = 30 * time.Second // a batch's transient failure, tried again as a task of its own
)

// TuneSends sets how many pushes a planned send task carries (≤ 1: one task
// a push) and how many of them are sent at once (the benchmark).
func (s *Service) TuneSends(batch, chunk int) {
	s.cfg.SendBatch, s.cfg.SendChunk = batch, max(chunk, 1)
}

func (s *Service) queueOf(p Push, t Template) string {
	switch {
	case p.Urgent:
		return s.cfg.UrgentQueue
	case t.Priority <= importantPriority:
		return s.cfg.ImportantQueue
	}
	return s.cfg.LowQueue
}

func (s *Service) enqueue(ctx context.Context, p Push, t Template, at time.Time, suffix string) error {
	return s.enqueueTask(ctx, sendTask{PushID: p.ID}, "push:"+p.ID+suffix, s.queueOf(p, t), asynq.ProcessAt(at), s.cfg.MaxRetry)
}

func (s *Service) enqueueTask(ctx context.Context, st sendTask, id, q string, when asynq.Option, maxRetry int) error {
	b, _ := json.Marshal(st)
	_, err := s.Queue.Enqueue(ctx, asynq.NewTask(TaskSend, b), asynq.TaskID(id), when,
		asynq.Queue(q), asynq.MaxRetry(maxRetry), asynq.Retention(24*time.Hour))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue push: %w", err)
	}
	return nil
}

// batchTaskID names a batch by its pushes: two planners that planned the
// same page enqueue it once.
func batchTaskID(ids []string) string {
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return "pushes:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// verdict is what the checks before a send decide.
type verdict int

const (
	verdictNone        verdict = iota // already settled: nothing to do
	verdictInterrupted                // found claimed: a send died mid-way
	verdictSettle                     // settled now without calling WeChat
	verdictSend                       // claim and send
)

// ready is a push that passed the checks before a send.
type ready struct {
	p        Push
	t        Template
	req      Request
	openID   string
	reserved bool // a one-time credit is taken by the claim
}

// check runs the checks before a send: the push's status, its template,
// a relative's right to receive it, the daily cap (sentToday: the patient's
// pushes sent today), the credit and the openid. With verdictSettle the
// string is the status to settle with.
func (s *Service) check(ctx context.Context, st SendState, sentToday int, openID func(ctx context.Context, userID string) (string, error)) (ready, verdict, string, error) {
	p := st.Push
	if Final(p.Status) {
		return ready{}, verdictNone, "", nil // sent at most once
	}
	if p.Status == StatusSending {
		return ready{p: p}, verdictInterrupted, "", nil
	}
	t, ok := s.Registry.Template(p.Kind)
	if !ok || t.TemplateID != p.TemplateID {
		s.Log.Error("push template no longer configured", "push_id", p.ID, "kind", p.Kind)
		return ready{p: p}, verdictSettle, StatusFailed, nil
	}
	var req Request
	if err := json.Unmarshal([]byte(p.Payload), &req); err != nil {
		return ready{p: p}, verdictSettle, StatusFailed, nil
	}
	if closed, err := s.aboutClosedPlan(ctx, req); err != nil {
		return ready{}, verdictNone, "", err
	} else if closed {
		return ready{p: p}, verdictSettle, StatusSkipped, nil
	}
	if p.Recipient == recipientFamily {
		if ok, err := s.stillReceives(ctx, p); err != nil || !ok {
			if err != nil {
				return ready{}, verdictNone, "", err
			}
			return ready{p: p}, verdictSettle, StatusSkipped, nil
		}
	}
	if !p.Urgent && !WithinCap(t.Priority, false, sentToday, s.cfg.DailyCap) {
		return ready{p: p}, verdictSettle, StatusCapped, nil
	}
	if !st.SubFound || !CanSend(st.Sub, t.LongTerm()) {
		return ready{p: p}, verdictSettle, StatusNoQuota, nil
	}
	id, err := openID(ctx, p.UserID)
	if err != nil {
		return ready{}, verdictNone, "", err
	}
	if id == "" {
		return ready{p: p}, verdictSettle, StatusSkipped, nil
	}
	return ready{p: p, t: t, req: req, openID: id, reserved: !t.LongTerm()}, verdictSend, "", nil
}

// interrupt records a push found claimed: a send died between claiming it
// and recording WeChat's answer (the worker was killed), and WeChat may
// have it. At most once: recorded as interrupted, not sent again, the
// credit not given back.
func (s *Service) interrupt(ctx context.Context, p Push, now time.Time) error {
	s.Log.Warn("push interrupted mid-send; not sent again", "push_id", p.ID, "kind", p.Kind)
	return s.Store.Interrupt(ctx, p, now)
}

// sendOne asks WeChat to deliver a claimed push. A call once started is not
// cut off when the worker asks its tasks to stop (ctx ends, 8 s into its
// 20 s shutdown: see queue.Worker): WeChat may already hold the message, and
// a call cut off is settled for a retry, which could deliver it twice. Each
// HTTP request in it is bounded by wechat.timeout; a batch stops claiming
// chunks once ctx ends.
func (s *Service) sendOne(ctx context.Context, r ready) error {
	return s.Sender.SendSubscribe(context.WithoutCancel(ctx), wx.SubscribeMessage{ToOpenID: r.openID, TemplateID: r.t.TemplateID,
		Page: r.t.PageFor(r.p.PatientID), Data: r.t.Render(r.req, s.cfg.Quiet.Loc)})
}

// ending is how a claimed push settles after WeChat's answer; retry asks
// for another attempt later, nextMorning for one the next morning (45009).
func (s *Service) ending(r ready, sendErr error, lastTry bool) (st Settlement, retry, nextMorning bool) {
	p := r.p
	code := 0
	var apiErr *wx.APIError
	if errors.As(sendErr, &apiErr) {
		code = apiErr.Code
	}
	end := func(status, outcome string, refund bool) Settlement {
		return Settlement{Push: p, Status: status, Outcome: outcome, ErrCode: code, Refund: refund}
	}
	switch {
	case sendErr == nil:
		return end(StatusSent, StatusSent, false), false, false
	case errors.Is(sendErr, wx.ErrNoQuota):
		st := end(StatusNoQuota, StatusNoQuota, false)
		st.ZeroQuota = true
		return st, false, false
	case errors.Is(sendErr, wx.ErrBadData):
		// A bug in a template or a value: the operator must look.
		s.Log.Error("WeChat refused a push's data (47003): check the template registry", "push_id", p.ID, "kind", p.Kind, "template_id", p.TemplateID)
		return end(StatusFailed, StatusFailed, r.reserved), false, false
	case errors.Is(sendErr, wx.ErrBadOpenID), errors.Is(sendErr, wx.ErrBadPage):
		s.Log.Warn("push refused for good", "push_id", p.ID, "kind", p.Kind, "errcode", code)
		return end(StatusFailed, StatusFailed, r.reserved), false, false
	case errors.Is(sendErr, wx.ErrDailyLimit):
		// WeChat's daily limit for the template: waiting an hour does not help; try the next morning.
		return end(StatusDeferred, outcomeDeferred, r.reserved), false, true
	}
	if lastTry {
		return end(StatusFailed, outcomeRetry, r.reserved), false, false
	}
	return end(StatusRetrying, outcomeRetry, r.reserved), true, false
}

// deferToMorning enqueues a push WeChat's daily limit refused for the next morning.
func (s *Service) deferToMorning(ctx context.Context, r ready, now time.Time) error {
	next := s.cfg.Quiet.NextMorning(now)
	return s.enqueue(ctx, r.p, r.t, next, ":"+next.In(s.cfg.Quiet.Loc).Format("20060102"))
}

// Send makes one attempt at a push. A nil error settles it (sent, or
// refused for good); an error asks the queue to retry later.
func (s *Service) Send(ctx context.Context, pushID string, lastTry bool) error {
	now := s.Now().UTC()
	st, err := s.Store.SendState(ctx, pushID, s.cfg.Quiet.DayStart(now).UTC())
	if err != nil {
		return err
	}
	r, v, status, err := s.check(ctx, st, st.SentToday, s.Household.OpenID)
	switch {
	case err != nil:
		return err
	case v == verdictNone:
		return nil
	case v == verdictInterrupted:
		return s.interrupt(ctx, r.p, now)
	case v == verdictSettle:
		return s.Store.Settle(ctx, r.p, status, "", 0, now, false, false)
	}
	// Recorded before the send: the push is claimed (two deliveries of the
	// task cannot both send, and a crash mid-send is never resent) and a
	// one-time credit is taken (two sends racing for the last credit must not
	// both go), given back unless WeChat accepted it. A crash between the
	// claim and recording WeChat's answer costs the push (StatusInterrupted),
	// never a second message.
	switch claim, err := s.Store.Claim(ctx, r.p, r.reserved, now); {
	case err != nil:
		return err
	case claim == ClaimedElsewhere:
		return nil
	case claim == ClaimNoCredit:
		return s.Store.Settle(ctx, r.p, StatusNoQuota, "", 0, now, false, false)
	}
	sendErr := s.sendOne(ctx, r)
	// The context may be ending (worker shutdown): settle anyway, so the
	// credit and the push log stay true.
	ctx = context.WithoutCancel(ctx)
	end, retry, nextMorning := s.ending(r, sendErr, lastTry)
	if err := s.Store.SettleBatch(ctx, []Settlement{end}, now); err != nil {
		return err
	}
	switch {
	case nextMorning:
		return s.deferToMorning(ctx, r, now)
	case retry:
		return fmt.Errorf("push %s: %w", r.p.ID, sendErr)
	}
	return nil
}

// SendBatch makes one attempt at each of a batch's pushes with the checks
// and guarantees of Send, SendChunk at a time: one read for the batch's
// states and openids, then per chunk one transaction that records the
// previous chunk's answers and claims this one, and the calls to WeChat at
// once. A push that fails for a while
// is retried by a task of its own; an error (the database, or the worker
// stopping) asks the queue to run the batch again, which finds what was
// settled settled and what was claimed interrupted.
func (s *Service) SendBatch(ctx context.Context, pushIDs []string) error {
	now := s.Now().UTC()
	sts, err := s.Store.SendStates(ctx, pushIDs, s.cfg.Quiet.DayStart(now).UTC())
	if err != nil {
		return err
	}
	sentToday := map[string]int{}
	var users []string
	for _, st := range sts {
		sentToday[st.Push.PatientID] = st.SentToday
		if !Final(st.Push.Status) {
			users = append(users, st.Push.UserID)
		}
	}
	openIDs, err := s.openIDs(ctx, users)
	if err != nil {
		return err
	}
	lookup := func(_ context.Context, userID string) (string, error) { return openIDs[userID], nil }
	// Settlements are recorded even if the worker is stopping, so that the
	// credits and the push log stay true; each chunk's are recorded in the
	// transaction that claims the next chunk (or at the end).
	sctx := context.WithoutCancel(ctx)
	var settle []Settlement
	var later, morning []ready // retries and 45009s of recorded settlements
	followUps := func() error {
		for _, r := range morning {
			if err := s.deferToMorning(sctx, r, now); err != nil {
				return err
			}
		}
		for _, r := range later {
			// Its first attempt was this batch's: the task has one retry fewer.
			if err := s.enqueueTask(sctx, sendTask{PushID: r.p.ID}, "push:"+r.p.ID+":retry", s.queueOf(r.p, r.t),
				asynq.ProcessIn(retryDelay), max(s.cfg.MaxRetry-1, 0)); err != nil {
				return err
			}
		}
		later, morning = nil, nil
		return nil
	}
	// stop ends the batch early with err: the answers not yet recorded
	// (settle: the previous chunk's, whose pushes WeChat has answered) are
	// recorded and followed up first, else they would be lost (their pushes
	// found claimed and recorded interrupted by the redelivery, a busy
	// answer neither retried nor refunded).
	stop := func(err error) error {
		if rerr := s.Store.SettleBatch(sctx, settle, now); rerr != nil {
			return errors.Join(err, rerr)
		}
		settle = nil
		if ferr := followUps(); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	chunk := max(s.cfg.SendChunk, 1)
	for lo := 0; lo < len(sts); lo += chunk {
		// The checks use sctx: a worker stopping mid-check is seen below,
		// not as a failed query.
		var claim []ready
		for _, st := range sts[lo:min(lo+chunk, len(sts))] {
			r, v, status, err := s.check(sctx, st, sentToday[st.Push.PatientID], lookup)
			switch {
			case err != nil:
				return stop(err)
			case v == verdictInterrupted:
				if err := s.interrupt(sctx, r.p, now); err != nil {
					return stop(err)
				}
			case v == verdictSettle:
				settle = append(settle, Settlement{Push: r.p, Status: status})
			case v == verdictSend:
				claim = append(claim, r)
				sentToday[r.p.PatientID]++ // the cap counts a send in flight
			}
		}
		if err := ctx.Err(); err != nil {
			// The worker is stopping: what was answered is recorded, the
			// rest stays queued for the redelivery.
			return stop(err)
		}
		ps, reserve := make([]Push, len(claim)), make([]bool, len(claim))
		for i, r := range claim {
			ps[i], reserve[i] = r.p, r.reserved
		}
		claims, err := s.Store.SettleAndClaim(sctx, settle, ps, reserve, now)
		if err != nil {
			// All or nothing (a deadlock rolls the whole transaction back):
			// nothing is claimed, and the answers are recorded on their own
			// before the batch is run again.
			return stop(err)
		}
		settle = nil
		// A follow-up that fails (the queue) ends the batch, but only once
		// this chunk, claimed now, is sent and its answers recorded: an
		// early return would leave it claimed, never sent.
		ferr := followUps()
		var send []ready
		for i, r := range claim {
			switch claims[i] {
			case Claimed:
				send = append(send, r)
			case ClaimNoCredit:
				settle = append(settle, Settlement{Push: r.p, Status: StatusNoQuota})
				sentToday[r.p.PatientID]--
			default:
				sentToday[r.p.PatientID]--
			}
		}
		errs := make([]error, len(send))
		var wg sync.WaitGroup
		for i, r := range send {
			wg.Go(func() { errs[i] = s.sendOne(ctx, r) })
		}
		wg.Wait()
		for i, r := range send {
			end, retry, nextMorning := s.ending(r, errs[i], s.cfg.MaxRetry <= 0)
			settle = append(settle, end)
			if end.Status != StatusSent {
				sentToday[r.p.PatientID]--
			}
			switch {
			case retry:
				later = append(later, r)
			case nextMorning:
				morning = append(morning, r)
			}
		}
		if ferr != nil {
			return stop(ferr)
		}
	}
	if err := s.Store.SettleBatch(sctx, settle, now); err != nil {
		return err
	}
	return followUps()
}

// openIDs looks up the openids of many users, in one query when the
// Household can (BulkOpenIDs); users without one map to "".
func (s *Service) openIDs(ctx context.Context, userIDs []string) (map[string]string, error) {
	userIDs = slices.Compact(slices.Sorted(slices.Values(userIDs)))
	if bulk, ok := s.Household.(BulkOpenIDs); ok && len(userIDs) > 0 {
		return bulk.OpenIDs(ctx, userIDs)
	}
	out := make(map[string]string, len(userIDs))
	for _, id := range userIDs {
		o, err := s.Household.OpenID(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = o
	}
	return out, nil
}

// stillReceives checks, at send time, that a relative still holds
// receive_push on an active link and the patient's consent is in force: a
// link revoked overnight stops the morning's pushes.
func (s *Service) stillReceives(ctx context.Context, p Push) (bool, error) {
	rs, err := s.recipients(ctx, Request{PatientID: p.PatientID})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(rs, func(r Recipient) bool { return r.UserID == p.UserID }), nil
}

// Planning in batches: a day's reminders for a large hospital (100,000
// enrolled patients) are planned in pages; each page is one batch insert of
// notifications, one batched recipient lookup, one batch insert of pushes and
// its send tasks enqueued several at once.
const (
	planPage       = 500 // requests per page
	planPages      = 4   // pages planned at once
	enqueueWorkers = 16  // send tasks enqueued at once per page
)

// PlanDailyReminders asks every reminder source for the day's reminders and
// plans them in pages; it returns how many requests were planned. Several
// workers running it together push once (the dedupe keys, and the send
// task's id is the push's).
func (s *Service) PlanDailyReminders(ctx context.Context) (int, error) {
	day := s.cfg.Quiet.DayStart(s.Now())
	var reqs []Request
	for _, src := range s.sources {
		rs, err := src.DueReminders(ctx, day)
		if err != nil {
			return 0, fmt.Errorf("daily reminders: %w", err)
		}
		reqs = append(reqs, rs...)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pages := make(chan []Request)
	var wg sync.WaitGroup
	var planned atomic.Int64
	for range planPages {
		wg.Go(func() {
			for page := range pages {
				n, err := s.HandleBatch(ctx, page)
				planned.Add(int64(n))
				if err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for lo := 0; lo < len(reqs); lo += planPage {
		select {
		case pages <- reqs[lo:min(lo+planPage, len(reqs))]:
		case <-ctx.Done():
			break feed
		}
	}
	close(pages)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return int(planned.Load()), fmt.Errorf("daily reminders: %w", err)
	}
	return int(planned.Load()), nil
}

// HandleBatch plans many requests as Handle plans one, with a few
// statements for the whole batch instead of a few per request. A request
// that is not valid is logged and left out; it returns how many were planned.
func (s *Service) HandleBatch(ctx context.Context, reqs []Request) (int, error) {
	now := s.Now().UTC()
	type planned struct {
		req     Request
		t       Template
		payload string
	}
	items := make([]planned, 0, len(reqs))
	notes := make([]Notification, 0, len(reqs))
	for _, req := range reqs {
		t, ok := s.Registry.Template(req.Kind)
		if !ok || req.PatientID == "" || req.DedupeKey == "" || len(req.DedupeKey) > maxDedupeKeyLen {
			s.Log.Error("reminder left out: unknown kind or bad dedupe key", "kind", req.Kind, "patient_id", req.PatientID)
			continue
		}
		if closed, err := s.aboutClosedPlan(ctx, req); err != nil {
			return 0, err
		} else if closed {
			continue
		}
		if req.At.IsZero() {
			req.At = now
		}
		b, err := json.Marshal(req)
		if err != nil {
			return 0, fmt.Errorf("encode push: %w", err)
		}
		items = append(items, planned{req: req, t: t, payload: string(b)})
		notes = append(notes, Notification{ID: database.NewID(), PatientID: req.PatientID, DedupeKey: req.DedupeKey,
			Kind: req.Kind, Title: t.Title, Page: t.PageFor(req.PatientID), CreatedAt: now})
	}
	if len(items) == 0 {
		return 0, nil
	}
	if err := s.Store.AddNotifications(ctx, notes); err != nil {
		return 0, err
	}
	var household []string
	for _, it := range items {
		if len(it.req.Recipients) == 0 {
			household = append(household, it.req.PatientID)
		}
	}
	byPatient, err := s.recipientsOf(ctx, household)
	if err != nil {
		return 0, err
	}
	var pushes []Push
	for _, it := range items {
		rs := byPatient[it.req.PatientID]
		if len(it.req.Recipients) > 0 {
			rs, _ = s.recipients(ctx, it.req) // named recipients: no lookup
		}
		due := now
		if it.req.NotBefore.After(now) {
			due = it.req.NotBefore.UTC()
		}
		at := s.cfg.Quiet.SendAt(due, it.req.Urgent).UTC()
		for _, r := range rs {
			pushes = append(pushes, Push{ID: database.NewID(), DedupeKey: it.req.DedupeKey, UserID: r.UserID, PatientID: it.req.PatientID,
				Kind: it.req.Kind, TemplateID: it.t.TemplateID, Recipient: recipientRole(r, it.req), Urgent: it.req.Urgent, Payload: it.payload,
				Status: StatusQueued, ScheduledAt: at, CreatedAt: now, UpdatedAt: now})
		}
	}
	stored, err := s.Store.AddPushes(ctx, pushes)
	if err != nil {
		return 0, err
	}
	if err := s.enqueueSends(ctx, stored); err != nil {
		return 0, err
	}
	return len(items), nil
}

// enqueueSends enqueues the send tasks of planned pushes: batches of up to
// SendBatch pushes of one queue and one time (by id, so that two planners
// of the same page make the same batches and asynq keeps one), or one task
// a push with SendBatch ≤ 1; several enqueued at once.
func (s *Service) enqueueSends(ctx context.Context, stored []Push) error {
	type key struct {
		queue string
		at    time.Time
	}
	var tasks []func(context.Context) error
	groups := map[key][]Push{}
	var order []key
	ps := slices.SortedFunc(slices.Values(stored), func(a, b Push) int { return strings.Compare(a.ID, b.ID) })
	for _, p := range ps {
		if Final(p.Status) {
			continue
		}
		t, _ := s.Registry.Template(p.Kind)
		if s.cfg.SendBatch <= 1 {
			tasks = append(tasks, func(ctx context.Context) error { return s.enqueue(ctx, p, t, p.ScheduledAt, "") })
			continue
		}
		k := key{s.queueOf(p, t), p.ScheduledAt.UTC()}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	for _, k := range order {
		g := groups[k]
		for lo := 0; lo < len(g); lo += s.cfg.SendBatch {
			ids := make([]string, 0, s.cfg.SendBatch)
			for _, p := range g[lo:min(lo+s.cfg.SendBatch, len(g))] {
				ids = append(ids, p.ID)
			}
			tasks = append(tasks, func(ctx context.Context) error {
				return s.enqueueTask(ctx, sendTask{PushIDs: ids}, batchTaskID(ids), k.queue, asynq.ProcessAt(k.at), s.cfg.MaxRetry)
			})
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan func(context.Context) error)
	var wg sync.WaitGroup
	for range enqueueWorkers {
		wg.Go(func() {
			for task := range next {
				if err := task(ctx); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for _, task := range tasks {
		select {
		case next <- task:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// recipientsOf finds the household recipients of many patients at once
// when the Household can (BulkHousehold), else one patient at a time.
// Relatives are kept only while the patient's health-data consent is active.
func (s *Service) recipientsOf(ctx context.Context, patientIDs []string) (map[string][]Recipient, error) {
	out := make(map[string][]Recipient, len(patientIDs))
	if len(patientIDs) == 0 {
		return out, nil
	}
	bulk, ok := s.Household.(BulkHousehold)
	if !ok {
		for _, id := range patientIDs {
			rs, err := s.recipients(ctx, Request{PatientID: id})
			if err != nil {
				return nil, err
			}
			out[id] = rs
		}
		return out, nil
	}
	all, err := bulk.RecipientsOf(ctx, patientIDs)
	if err != nil {
		return nil, fmt.Errorf("push recipients: %w", err)
	}
	for id, rs := range all {
		if out[id], err = s.withConsent(ctx, id, rs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Notifications lists a patient's notification centre.
func (s *Service) Notifications(ctx context.Context, patientID, cursor string, limit int) ([]Notification, int64, error) {
	ns, err := s.Store.Notifications(ctx, patientID, cursor, limit)
	if err != nil {
		return nil, 0, err
	}
	unread, err := s.Store.UnreadCount(ctx, patientID)
	return ns, unread, err
}

// MarkRead marks notifications read.
func (s *Service) MarkRead(ctx context.Context, patientID string, ids []string) (int64, error) {
	return s.Store.MarkRead(ctx, patientID, ids, s.Now().UTC())
}

// Pushes lists a patient's push log with each push's attempts.
func (s *Service) Pushes(ctx context.Context, patientID, cursor string, limit int) ([]Push, map[string][]Attempt, error) {
	ps, err := s.Store.Pushes(ctx, patientID, cursor, limit)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	as, err := s.Store.Attempts(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	by := map[string][]Attempt{}
	for _, a := range as {
		by[a.PushID] = append(by[a.PushID], a)
	}
	return ps, by, nil
}
