package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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
	// Queues: urgent pushes, important ones (priority ≤ 3) and the rest.
	UrgentQueue, ImportantQueue, LowQueue string
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

// sendTask is the payload of TaskSend.
type sendTask struct {
	PushID string `json:"push_id"`
}

func (s *Service) enqueue(ctx context.Context, p Push, t Template, at time.Time, suffix string) error {
	q := s.cfg.LowQueue
	switch {
	case p.Urgent:
		q = s.cfg.UrgentQueue
	case t.Priority <= importantPriority:
		q = s.cfg.ImportantQueue
	}
	b, _ := json.Marshal(sendTask{PushID: p.ID})
	_, err := s.Queue.Enqueue(ctx, asynq.NewTask(TaskSend, b), asynq.TaskID("push:"+p.ID+suffix), asynq.ProcessAt(at),
		asynq.Queue(q), asynq.MaxRetry(s.cfg.MaxRetry), asynq.Retention(24*time.Hour))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue push: %w", err)
	}
	return nil
}

// Send makes one attempt at a push. A nil error settles it (sent, or
// refused for good); an error asks the queue to retry later.
func (s *Service) Send(ctx context.Context, pushID string, lastTry bool) error {
	now := s.Now().UTC()
	st, err := s.Store.SendState(ctx, pushID, s.cfg.Quiet.DayStart(now).UTC())
	if err != nil {
		return err
	}
	p := st.Push
	if Final(p.Status) {
		return nil // sent at most once
	}
	settle := func(status, outcome string, code int) error {
		return s.Store.Settle(ctx, p, status, outcome, code, now, false, false)
	}
	if p.Status == StatusSending {
		// A send died between claiming this push and recording WeChat's
		// answer (the worker was killed): WeChat may have it. At most once:
		// recorded as interrupted, not sent again, the credit not given back.
		s.Log.Warn("push interrupted mid-send; not sent again", "push_id", p.ID, "kind", p.Kind)
		return s.Store.Interrupt(ctx, p, now)
	}
	t, ok := s.Registry.Template(p.Kind)
	if !ok || t.TemplateID != p.TemplateID {
		s.Log.Error("push template no longer configured", "push_id", p.ID, "kind", p.Kind)
		return settle(StatusFailed, "", 0)
	}
	var req Request
	if err := json.Unmarshal([]byte(p.Payload), &req); err != nil {
		return settle(StatusFailed, "", 0)
	}
	if p.Recipient == recipientFamily {
		if ok, err := s.stillReceives(ctx, p); err != nil || !ok {
			if err != nil {
				return err
			}
			return settle(StatusSkipped, "", 0)
		}
	}
	if !p.Urgent {
		if !WithinCap(t.Priority, false, st.SentToday, s.cfg.DailyCap) {
			return settle(StatusCapped, "", 0)
		}
	}
	if !st.SubFound || !CanSend(st.Sub, t.LongTerm()) {
		return settle(StatusNoQuota, "", 0)
	}
	openID, err := s.Household.OpenID(ctx, p.UserID)
	if err != nil {
		return err
	}
	if openID == "" {
		return settle(StatusSkipped, "", 0)
	}
	// Recorded before the send: the push is claimed (two deliveries of the
	// task cannot both send, and a crash mid-send is never resent) and a
	// one-time credit is taken (two sends racing for the last credit must not
	// both go), given back unless WeChat accepted it. A crash between the
	// claim and recording WeChat's answer costs the push (StatusInterrupted),
	// never a second message.
	reserved := !t.LongTerm()
	switch claim, err := s.Store.Claim(ctx, p, reserved, now); {
	case err != nil:
		return err
	case claim == ClaimedElsewhere:
		return nil
	case claim == ClaimNoCredit:
		return settle(StatusNoQuota, "", 0)
	}
	sendErr := s.Sender.SendSubscribe(ctx, wx.SubscribeMessage{ToOpenID: openID, TemplateID: t.TemplateID,
		Page: t.PageFor(p.PatientID), Data: t.Render(req, s.cfg.Quiet.Loc)})
	code := 0
	var apiErr *wx.APIError
	if errors.As(sendErr, &apiErr) {
		code = apiErr.Code
	}
	// The context may be ending (worker shutdown): settle anyway, so the
	// credit and the push log stay true.
	ctx = context.WithoutCancel(ctx)
	settle = func(status, outcome string, code int) error {
		return s.Store.Settle(ctx, p, status, outcome, code, now, reserved, false)
	}
	switch {
	case sendErr == nil:
		return s.Store.Settle(ctx, p, StatusSent, StatusSent, 0, now, false, false)
	case errors.Is(sendErr, wx.ErrNoQuota):
		return s.Store.Settle(ctx, p, StatusNoQuota, StatusNoQuota, code, now, false, true)
	case errors.Is(sendErr, wx.ErrBadData):
		// A bug in a template or a value: the operator must look.
		s.Log.Error("WeChat refused a push's data (47003): check the template registry", "push_id", p.ID, "kind", p.Kind, "template_id", p.TemplateID)
		return settle(StatusFailed, StatusFailed, code)
	case errors.Is(sendErr, wx.ErrBadOpenID), errors.Is(sendErr, wx.ErrBadPage):
		s.Log.Warn("push refused for good", "push_id", p.ID, "kind", p.Kind, "errcode", code)
		return settle(StatusFailed, StatusFailed, code)
	case errors.Is(sendErr, wx.ErrDailyLimit):
		// WeChat's daily limit for the template: waiting an hour does not help; try the next morning.
		if err := s.Store.Settle(ctx, p, StatusDeferred, outcomeDeferred, code, now, reserved, false); err != nil {
			return err
		}
		next := s.cfg.Quiet.NextMorning(now)
		return s.enqueue(ctx, p, t, next, ":"+next.In(s.cfg.Quiet.Loc).Format("20060102"))
	}
	status := StatusRetrying
	if lastTry {
		status = StatusFailed
	}
	if err := settle(status, outcomeRetry, code); err != nil {
		return err
	}
	return fmt.Errorf("push %s: %w", p.ID, sendErr)
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
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan Push)
	var wg sync.WaitGroup
	for range enqueueWorkers {
		wg.Go(func() {
			for p := range next {
				t, _ := s.Registry.Template(p.Kind)
				if err := s.enqueue(ctx, p, t, p.ScheduledAt, ""); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for _, p := range stored {
		if Final(p.Status) {
			continue
		}
		select {
		case next <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return len(items), nil
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
