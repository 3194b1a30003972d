// Package app builds CarePath from its configuration: it opens the stores,
// constructs every service and handler once, and runs the HTTP server and
// the worker. It is the only package that knows every other one.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/carepath/carepath/api"
	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/account"
	"github.com/carepath/carepath/internal/admin"
	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/education"
	"github.com/carepath/carepath/internal/export"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/home"
	"github.com/carepath/carepath/internal/kpi"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/org"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/blob"
	"github.com/carepath/carepath/internal/platform/cache"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
	"github.com/carepath/carepath/internal/platform/ratelimit"
	"github.com/carepath/carepath/internal/platform/web"
	"github.com/carepath/carepath/internal/platform/wx"
	"github.com/carepath/carepath/internal/platform/wx/fake"
	"github.com/carepath/carepath/internal/questionnaire"
	"github.com/carepath/carepath/internal/server"
)

// Options replace parts of what the configuration would build; tests use
// them to hand in a fresh database, Redis and a shared fake WeChat.
type Options struct {
	DB            *gorm.DB
	Redis         redis.UniversalClient
	RedisPrefix   string
	WeChatBaseURL string
	Now           func() time.Time
}

// App is a built CarePath: stores, services and the HTTP engine.
type App struct {
	Config config.Config
	Log    *slog.Logger
	DB     *gorm.DB
	Redis  redis.UniversalClient
	Engine *gin.Engine
	Guard  *access.Guard
	Queue  *queue.Client
	Fake   *fake.Server // the fake WeChat server, in dev mode only

	Auth           *auth.Service
	Patients       *patient.Service
	Family         *family.Service
	Consents       *consent.Service
	Org            *org.Store
	Audit          *audit.Store
	Careplan       *careplan.Service
	Education      *education.Service
	Messages       *messaging.Service
	Hub            *messaging.Hub   // realtime delivery; closed with 1001 when Serve stops
	MeCache        *patient.MeCache // GET /me answers; nil when auth.me_cache_ttl is 0
	Observations   *observation.Service
	Alerts         *alert.Service
	AlertStream    *alert.Stream
	Appointments   *appointment.Service
	Questionnaires *questionnaire.Service
	Followups      *followup.Service
	Accounts       *account.Service // account deactivation
	KPIs           *kpi.Service
	Notify         *notify.Service
	Desk           *admin.Handler // the CM desk's pages

	redisPrefix string
	now         func() time.Time
	loc         *time.Location
	keys        *idempotency.Store
	sealer      *fieldcrypt.Sealer
	closers     []func()
}

// Build constructs the app. On error everything opened so far is closed.
func Build(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (_ *App, err error) {
	a := &App{Config: cfg, Log: log, redisPrefix: opts.RedisPrefix}
	if a.redisPrefix == "" {
		a.redisPrefix = "carepath:"
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	a.now = now
	if a.loc, err = cfg.Location(); err != nil {
		return nil, fmt.Errorf("timezone: %w", err)
	}
	if err := a.openStores(ctx, opts); err != nil {
		return nil, err
	}
	secrets, err := loadSecrets(cfg)
	if err != nil {
		return nil, err
	}
	sealer, err := fieldcrypt.New(secrets.cryptoKeys, secrets.activeKey, secrets.blindIndexKey)
	if err != nil {
		return nil, fmt.Errorf("crypto: %w", err)
	}
	a.sealer = sealer
	wechat, err := a.openWeChat(opts)
	if err != nil {
		return nil, err
	}

	val := web.NewValidator()
	a.Org = org.NewStore(a.DB)
	a.Audit = audit.NewStore(a.DB, now)
	// Every staff or family read writes an audit event; written one by one each
	// costs the request a commit (the largest statement of a CM's read in
	// scripts/bench). Batched, they are written together every 50 ms, before
	// any read of the log, and on shutdown (Serve and Close), so none is lost on SIGTERM.
	a.Audit.StartBatching(50*time.Millisecond, 256, func(n int, err error) {
		log.Error("audit batch not written; retried at the next flush", "events", n, "error", err.Error())
	})
	a.closers = append(a.closers, func() {
		if err := a.Audit.StopBatching(context.Background()); err != nil {
			log.Error("audit events lost at close", "error", err.Error())
		}
	})
	authStore := auth.NewStore(a.DB)
	a.Auth, err = auth.NewService(authStore, wechat, sealer, auth.Config{
		TokenSecret: secrets.tokenSecret, AccessTTL: cfg.Auth.AccessTTL, RefreshTTL: cfg.Auth.RefreshTTL,
		StaffSessionTTL: cfg.Auth.StaffSessionTTL, StaffIdleTimeout: cfg.Auth.StaffIdleTimeout,
		LockoutThreshold: cfg.Auth.LockoutThreshold, LockoutDuration: cfg.Auth.LockoutDuration,
		SessionCacheTTL: cfg.Auth.SessionCacheTTL,
	}, now)
	if err != nil {
		return nil, err
	}
	a.Auth.UseRevocations(cache.NewPubSub(a.Redis, a.redisPrefix), log)
	listenCtx, stopListening := context.WithCancel(context.Background())
	go a.Auth.ListenRevocations(listenCtx, 5*time.Second)
	a.closers = append(a.closers, stopListening)
	a.Patients = patient.NewService(patient.NewStore(a.DB), sealer, now)
	a.MeCache = patient.NewMeCache(cfg.Auth.MeCacheTTL, cache.NewPubSub(a.Redis, a.redisPrefix), log)
	if err := a.MeCache.WatchWrites(a.DB); err != nil {
		return nil, fmt.Errorf("watch /me writes: %w", err)
	}
	go a.MeCache.Listen(listenCtx, 5*time.Second)
	a.Consents = consent.NewService(a.DB, consent.Config{
		PrivacyPolicyVersion: cfg.Consent.PrivacyPolicyVersion, HealthDataVersion: cfg.Consent.HealthDataVersion,
	}, now)
	a.Family = family.NewService(a.DB, a.Patients, a.Consents, authStore, ratelimit.New(a.Redis, a.redisPrefix), family.Config{
		InvitationTTL: cfg.Family.InvitationTTL, AttemptsPerUser: cfg.Family.CodeAttemptsPerUser,
		AttemptsPerIP: cfg.Family.CodeAttemptsPerIP, AttemptWindow: cfg.Family.CodeAttemptWindow,
	}, now)
	// Withdrawing a consent stops the family sharing it covered.
	a.Consents.SetLinks(a.Family)
	a.Queue = queue.NewClient(a.Redis)
	if err := a.buildCare(); err != nil {
		return nil, err
	}
	a.keys = idempotency.NewStore(a.DB, now).Sealed(sealer)
	v := buildVitals(a.DB, sealer, a.keys, a.Patients, a.Careplan, a.loc, now)
	a.Observations, a.Alerts = v.Observations, v.Alerts
	a.Careplan.SetAlerts(a.Alerts) // recent critical alerts raise the risk score

	secureCookies := len(cfg.HTTP.PublicURL) > 8 && cfg.HTTP.PublicURL[:8] == "https://"
	authH := auth.NewHandler(a.Auth, val, secureCookies)
	docs, err := server.NewDocs(api.Spec)
	if err != nil {
		return nil, err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	policy := access.NewPolicy(a.DB)
	a.Guard = access.NewGuard(policy, authH.Require(), a.Audit)
	blobs, local, err := openBlobs(cfg, secrets.tokenSecret)
	if err != nil {
		return nil, err
	}
	a.Hub = messaging.NewHub(a.Redis, messaging.HubOptions{Prefix: a.redisPrefix, SendBuffer: cfg.Messaging.SendBuffer,
		Heartbeat: cfg.Messaging.Heartbeat, Recheck: cfg.Messaging.AccessRecheck}, log)
	a.closers = append(a.closers, a.Hub.Close)
	a.Messages = messaging.NewService(messaging.Deps{
		Store: messaging.NewStore(a.DB).Sealed(sealer), Policy: policy, Blobs: blobs, Checker: wechat, Accounts: authStore,
		Patients: a.Patients, Hub: a.Hub, Now: now, Log: log,
	}, messaging.Config{ContentCheck: cfg.Messaging.ContentCheck, MaxTextLength: cfg.Messaging.MaxTextLength,
		MaxImageBytes: cfg.Messaging.MaxImageBytes, URLTTL: cfg.Messaging.URLTTL})
	a.AlertStream = alert.NewStream(cache.NewPubSub(a.Redis, a.redisPrefix), policy)
	a.closers = append(a.closers, a.AlertStream.Close)
	loc, err := cfg.Location()
	if err != nil {
		return nil, err
	}
	a.Appointments = appointment.NewService(appointment.NewStore(a.DB).Sealed(sealer), loc, now, publicHost(cfg.HTTP.PublicURL))
	questionnaires, err := questionnaire.Load(configs.Files, "questionnaires")
	if err != nil {
		return nil, fmt.Errorf("configs/questionnaires: %w", err)
	}
	a.Questionnaires = questionnaire.NewService(questionnaire.NewStore(a.DB).Sealed(sealer), questionnaires, now)
	a.Questionnaires.SetKeys(a.keys)
	if err := checkPathwayQuestionnaires(a.Careplan.Pathways(), questionnaires); err != nil {
		return nil, err
	}
	a.Questionnaires.SetSchedule(scheduledQuestionnaires{a.Careplan}, loc)
	a.Appointments.SetKeys(a.keys)
	a.Appointments.SetProposals(stageAppointments{plans: a.Careplan, patients: patient.NewStore(a.DB)})
	a.Followups = followup.NewService(followup.NewStore(a.DB).Sealed(sealer), followupPlans{a.Careplan}, departmentLeads{a.DB},
		followup.Config{EscalateAfter: cfg.Followup.EscalateAfter}, loc, now)
	a.KPIs = kpi.NewService(kpi.NewStore(a.DB), pathwayRhythms{a.Careplan}, loc, now)
	if err := a.buildNotify(wechat, authStore); err != nil {
		return nil, err
	}
	a.Accounts = account.NewService(a.DB, sealer, authStore, a.Auth, a.Notify.Store, a.Family, now)
	zone, err := cfg.Location()
	if err != nil {
		return nil, err
	}
	// The desk sees alerts, vitals and the day's appointments through the
	// adapters in desk.go, and uses the care services directly.
	adminH, err := admin.NewHandler(admin.Deps{
		Auth: authH, Patients: a.Patients, Plans: a.Careplan, Education: a.Education, Messages: a.Messages,
		Family: a.Family, Audit: a.Audit, KPIs: a.KPIs, Zone: zone, Now: now, Secure: secureCookies,
		Alerts:       deskAlerts{svc: a.Alerts},
		Vitals:       deskVitals{readings: observation.NewStore(a.DB).Sealed(a.sealer), alerts: a.Alerts, marks: alert.NewStore(a.DB).Sealed(a.sealer)},
		Appointments: deskDay{svc: a.Appointments},
		Care: admin.CareDeps{Appointments: a.Appointments, Followups: a.Followups, Questionnaires: a.Questionnaires,
			Notify: a.Notify},
		Templates: a.Notify.Templates(),
	})
	if err != nil {
		return nil, fmt.Errorf("admin pages: %w", err)
	}
	a.Desk = adminH
	patientHandler := patient.NewHandler(a.Patients, a.Family.Store(), a.Auth, authStore, val)
	patientHandler.UseMeCache(a.MeCache)
	a.Engine, err = server.New(server.Deps{
		Limits: server.NewLimits(ratelimit.New(a.Redis, a.redisPrefix), cfg.Limits),
		HTTPS:  strings.HasPrefix(cfg.HTTP.PublicURL, "https://"),
		Log:    log, Registry: registry, Guard: a.Guard, Auth: authH, Docs: docs, Admin: adminH,
		Patients:  patientHandler,
		Careplan:  careplan.NewHandler(a.Careplan, val),
		Education: education.NewHandler(a.Education, val),
		Messages:  messaging.NewHandler(a.Messages, val, local),
		Family:    family.NewHandler(a.Family, a.Audit, val),
		Consents:  consent.NewHandler(a.Consents, authStore, val),
		Export: export.NewHandler(export.NewService(export.NewStore(a.DB), sealer,
			catalogNames{pathways: a.Careplan.Pathways(), questionnaires: a.Questionnaires.Library()}, now), a.Audit, loc),
		Account:        account.NewHandler(a.Accounts, val),
		AccessLog:      audit.NewHandler(a.Audit, accessLogDirectory{patients: a.Patients, accounts: authStore, family: a.Family.Store()}),
		Observations:   observation.NewHandler(a.Observations, val),
		Home:           home.NewHandler(a.Careplan, a.Appointments, a.Messages, a.Education, a.Observations),
		Alerts:         alert.NewHandler(a.Alerts, a.AlertStream, policy, a.Audit, val),
		Appointments:   appointment.NewHandler(a.Appointments, val),
		Questionnaires: questionnaire.NewHandler(a.Questionnaires, val),
		Followups:      followup.NewHandler(a.Followups, val),
		KPIs:           kpi.NewHandler(a.KPIs),
		Notify:         notify.NewHandler(a.Notify, household{db: a.DB}, val, cache.NewOnce(a.Redis, a.redisPrefix+"wx:push:")),
		Ready: map[string]server.Check{
			"database": func(ctx context.Context) error { return database.Ping(ctx, a.DB) },
			"redis":    func(ctx context.Context) error { return a.Redis.Ping(ctx).Err() },
		},
		TrustedProxies: cfg.HTTP.TrustedProxies,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// publicHost is the host of the public URL, for calendar event UIDs.
func publicHost(publicURL string) string {
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "carepath.local"
}

// openBlobs opens where message images are kept. Local-disk links are
// signed with a key derived from the token secret; local is nil for S3.
func openBlobs(cfg config.Config, tokenSecret []byte) (blob.Store, *blob.Local, error) {
	st := cfg.Messaging.Storage
	if st.Driver == "s3" {
		s3, err := blob.NewS3(blob.S3Options{Endpoint: st.S3Endpoint, Bucket: st.S3Bucket, Region: st.S3Region,
			AccessKey: st.S3AccessKey, SecretKey: st.S3SecretKey, UseSSL: st.S3UseSSL, Prefix: st.S3Prefix})
		return s3, nil, err
	}
	dir := st.Dir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "blobs")
	}
	mac := hmac.New(sha256.New, tokenSecret)
	mac.Write([]byte("carepath blob links v1"))
	local, err := blob.NewLocal(dir, strings.TrimSuffix(cfg.HTTP.PublicURL, "/")+"/api/v1/blobs/", blob.NewSigner(mac.Sum(nil)))
	if err != nil {
		return nil, nil, err
	}
	return local, local, nil
}

func (a *App) openStores(ctx context.Context, opts Options) error {
	cfg := a.Config
	a.DB = opts.DB
	if a.DB == nil {
		o := database.Options{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN, MaxOpenConns: cfg.Database.MaxOpenConns,
			MaxIdleConns: cfg.Database.MaxIdleConns, ConnMaxLifetime: cfg.Database.ConnMaxLifetime}
		if cfg.Embedded() {
			o.Driver, o.DSN = "sqlite", filepath.Join(cfg.DataDir, "carepath.db")
		}
		db, err := database.Open(ctx, o)
		if err != nil {
			return err
		}
		a.DB = db
		a.closers = append(a.closers, func() {
			if sqlDB, err := db.DB(); err == nil {
				sqlDB.Close()
			}
		})
	}
	a.Redis = opts.Redis
	if a.Redis == nil {
		ro := cache.Options{Addrs: cfg.Redis.Addrs, Password: cfg.Redis.Password, DB: cfg.Redis.DB, MasterName: cfg.Redis.MasterName}
		if len(ro.Addrs) == 0 {
			embedded, err := cache.StartEmbedded()
			if err != nil {
				return err
			}
			a.closers = append(a.closers, embedded.Close)
			ro = cache.Options{Addrs: []string{embedded.Addr()}}
		}
		rdb, err := cache.Open(ctx, ro)
		if err != nil {
			return err
		}
		a.Redis = rdb
		a.closers = append(a.closers, func() { rdb.Close() })
	}
	return nil
}

func (a *App) openWeChat(opts Options) (*wx.Client, error) {
	cfg := a.Config.WeChat
	base := opts.WeChatBaseURL
	if base == "" && cfg.Fake {
		f, err := fake.New()
		if err != nil {
			return nil, fmt.Errorf("start fake WeChat: %w", err)
		}
		a.Fake = f
		a.closers = append(a.closers, func() { f.Close() })
		base = f.URL()
	}
	appID, secret := cfg.AppID, cfg.AppSecret
	if base != "" && appID == "" {
		appID, secret = "wx-dev-app", "wx-dev-secret"
	}
	client, err := wx.New(wx.Config{AppID: appID, AppSecret: secret, BaseURL: base, Timeout: cfg.Timeout,
		MiniprogramState: cfg.MiniprogramState, KeyPrefix: a.redisPrefix + "wx:"}, a.Redis)
	if err != nil {
		return nil, err
	}
	return client, nil
}

// Close releases everything Build opened, newest first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Serve runs the HTTP server until ctx ends, then stops accepting, lets
// in-flight requests finish within the shutdown timeout, and returns. With
// runWorker the job worker runs in the same process (the embedded default).
func (a *App) Serve(ctx context.Context, ln net.Listener, runWorker bool) error {
	srv := &http.Server{Handler: a.Engine, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	// Shutdown waits for requests to finish; event streams never do by themselves.
	srv.RegisterOnShutdown(a.AlertStream.Close)
	errc := make(chan error, 2)
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorker()
	workerDone := make(chan struct{})
	if runWorker {
		go func() {
			defer close(workerDone)
			if err := a.RunWorker(workerCtx); err != nil {
				errc <- err
			}
		}()
	} else {
		close(workerDone)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.Log.Info("shutting down", "timeout", a.Config.HTTP.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.HTTP.ShutdownTimeout)
	defer cancel()
	// Shutdown does not wait for hijacked connections: the hub closes its
	// sockets with 1001 (going away) while in-flight requests finish.
	socketsClosed := make(chan struct{})
	go func() {
		defer close(socketsClosed)
		a.Hub.Shutdown(shutdownCtx)
	}()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
	}
	<-socketsClosed
	// The requests are done: write their queued audit events before exiting.
	if err := a.Audit.StopBatching(shutdownCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("audit flush at shutdown: %w", err))
	}
	stopWorker()
	<-workerDone
	return runErr
}

// RunWorker runs the job worker and the outbox relay until ctx ends.
func (a *App) RunWorker(ctx context.Context) error {
	relay := outbox.NewRelay(a.DB, a.Queue, a.Log, a.now)
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		relay.Run(ctx, time.Second)
	}()
	err := a.Worker().Run(ctx)
	<-relayDone
	return err
}

// Worker builds the job worker with every feature's task handlers.
func (a *App) Worker() *queue.Worker {
	loc, err := a.Config.Location()
	if err != nil {
		loc = time.UTC
	}
	w := queue.NewWorker(a.Redis, 10, loc, a.Log)
	for taskType, h := range a.Handlers() {
		w.Handle(taskType, h)
	}
	for _, job := range PeriodicJobs() {
		if err := w.Every(job.Spec, asynq.NewTask(job.Task, nil), asynq.Queue(job.Queue), asynq.Unique(time.Hour)); err != nil {
			a.Log.Error("schedule task", "task", job.Task, "error", err.Error())
		}
	}
	w.Handle(alert.TaskScanNoReport, a.Alerts.HandleScanNoReport)
	if err := w.Every(alert.ScanSchedule, asynq.NewTask(alert.TaskScanNoReport, nil), asynq.Queue(queue.Default), asynq.Unique(50*time.Minute)); err != nil {
		a.Log.Error("schedule task", "error", err.Error())
	}
	w.Handle(idempotency.TaskPurge, func(ctx context.Context, _ *asynq.Task) error {
		_, err := a.keys.Purge(ctx)
		return err
	})
	if err := w.Every("43 3 * * *", asynq.NewTask(idempotency.TaskPurge, nil), asynq.Queue(queue.Low), asynq.Unique(time.Hour)); err != nil {
		a.Log.Error("schedule task", "error", err.Error())
	}
	return w
}

// PeriodicJob is a task the worker's scheduler enqueues on a cron spec (in
// the hospital's zone), as a unique task: several workers enqueue it once.
type PeriodicJob struct{ Spec, Task, Queue string }

// PeriodicJobs are the scheduled tasks with a handler in Handlers (the
// no-report scan and the idempotency purge are scheduled beside them).
func PeriodicJobs() []PeriodicJob {
	return []PeriodicJob{
		{"17 * * * *", auth.TaskPurgeExpired, queue.Low},
		// Hourly, so a stage whose day has come is entered within the first hour of that day.
		{"5 * * * *", careplan.TaskAdvance, queue.Default},
		{"20 * * * *", education.TaskAssignDue, queue.Default},
		// Every 10 minutes: a reminder row per appointment, slot and start makes reruns harmless.
		{"*/10 * * * *", appointment.TaskRemind, queue.Default},
		// Hourly catch-up; the stage change proposes at once (careplan.stage_changed).
		{"40 * * * *", appointment.TaskPropose, queue.Default},
		{"25 * * * *", followup.TaskSync, queue.Default},
		// Hourly: a scheduled questionnaire goes out in the first hour of its due day (quiet hours hold the push).
		{"30 * * * *", questionnaire.TaskSendDue, queue.Default},
		// Every 15 minutes, so a window closing at local midnight is flagged soon after.
		{"*/15 * * * *", followup.TaskScanOverdue, queue.Default},
		// Planned each morning; the quiet hours hold anything due before they end.
		{"0 7 * * *", notify.TaskDailyReminders, queue.Default},
		{"37 2 * * *", audit.TaskPurge, queue.Low},
	}
}

// Handlers are the worker's task handlers by task type: periodic jobs and
// the outbox topics features subscribe to.
func (a *App) Handlers() map[string]asynq.HandlerFunc {
	return map[string]asynq.HandlerFunc{
		auth.TaskPurgeExpired: func(ctx context.Context, _ *asynq.Task) error {
			n, err := a.Auth.PurgeExpired(ctx)
			if err == nil && n > 0 {
				a.Log.Info("purged expired sessions", "count", n)
			}
			return err
		},
		audit.TaskPurge:      a.Audit.PurgeHandler(time.Duration(a.Config.Audit.RetentionDays)*24*time.Hour, a.Log),
		careplan.TaskAdvance: a.Careplan.AdvanceHandler(),
		careplan.TopicStageChanged: chain(a.Education.StageChangedHandler(), a.Appointments.StageChangedHandler(),
			a.Notify.RequestHandler(stageBegins)),
		careplan.TopicPlanClosed:     a.Followups.PlanClosedHandler(),
		education.TaskAssignDue:      a.Education.AssignDueHandler(),
		alert.TopicRaised:            chain(a.alertRaised, a.Notify.RequestHandler(readingAttention)),
		messaging.TopicReplyWaiting:  a.Notify.RequestHandler(replyWaiting),
		notify.TopicRequest:          a.Notify.RequestHandler(notify.DecodeRequest),
		notify.TaskSend:              a.Notify.SendHandler(),
		notify.TaskDailyReminders:    a.Notify.DailyRemindersHandler(),
		family.TaskLinkRevoked:       a.linkChanged(),
		appointment.TaskRemind:       a.Appointments.RemindHandler(),
		appointment.TaskPropose:      a.Appointments.ProposeHandler(),
		followup.TaskSync:            a.Followups.SyncHandler(),
		followup.TaskScanOverdue:     a.Followups.ScanHandler(),
		questionnaire.TaskSendDue:    a.Questionnaires.SendDueHandler(),
		family.TaskLinkScopesChanged: a.linkChanged(),
	}
}

// alertRaised tells the alert's recipients (the CM and any covering CM) at
// once, on every instance: over the WebSocket hub and the alerts SSE stream.
func (a *App) alertRaised(ctx context.Context, t *asynq.Task) error {
	var ev alert.RaisedEvent
	if err := json.Unmarshal(t.Payload(), &ev); err != nil {
		return fmt.Errorf("%s: bad payload: %v: %w", alert.TopicRaised, err, asynq.SkipRetry)
	}
	a.Hub.PublishAlert(ctx, messaging.Alert{ID: ev.AlertID, PatientID: ev.PatientID, Kind: ev.Kind,
		Severity: ev.Severity, RaisedAt: ev.RaisedAt, StaffIDs: ev.Recipients})
	return a.AlertStream.HandleRaised(ctx, t)
}

// linkChanged ends a relative's live thread subscriptions on the patient at
// once, on every instance, when a link is revoked or narrowed (the policy
// already refuses their next request).
func (a *App) linkChanged() asynq.HandlerFunc {
	return family.HandleLinkEvent(func(ctx context.Context, _ string, e family.LinkEvent) error {
		a.Hub.Recheck(ctx, e.UserID, e.PatientID)
		return nil
	})
}

// buildCare loads the shipped pathways and articles, checks that every
// article a pathway pushes exists, and builds the care plan and education services.
func (a *App) buildCare() error {
	loc, err := a.Config.Location()
	if err != nil {
		return err
	}
	pathways, err := careplan.LoadPathways(configs.Files, "pathways")
	if err != nil {
		return fmt.Errorf("configs/pathways: %w", err)
	}
	articles, err := education.LoadArticles(configs.Files, "education")
	if err != nil {
		return fmt.Errorf("configs/education: %w", err)
	}
	var missing []error
	for key, where := range pathways.ArticleRefs() {
		if _, ok := articles.Article(key); !ok {
			missing = append(missing, fmt.Errorf("configs/%s: no article %q in configs/education", where, key))
		}
	}
	if len(missing) > 0 {
		return errors.Join(missing...)
	}
	a.Careplan, a.Education = careServices(a.DB, a.sealer, pathways, articles, loc, a.now)
	return nil
}

// careServices builds the care plan and education services over db (the
// application's connection, or the demo seed's transaction).
func careServices(db *gorm.DB, sealer careplan.Sealer, pathways *careplan.Library, articles *education.Library, loc *time.Location,
	now func() time.Time) (*careplan.Service, *education.Service) {
	plans := careplan.NewService(careplan.NewStore(db).Sealed(sealer), careplan.Deps{Pathways: pathways, Location: loc, Now: now,
		Followups: followup.NewStore(db), // missed (overdue) follow-ups raise the risk score
		Team:      careTeam{patients: patient.NewStore(db)}})
	return plans, education.NewService(education.NewStore(db), articles, planPositions{plans}, now)
}
