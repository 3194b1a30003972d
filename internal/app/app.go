// Package app builds CarePath from its configuration: it opens the stores,
// constructs every service and handler once, and runs the HTTP server and
// the worker. It is the only package that knows every other one.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/carepath/carepath/api"
	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/admin"
	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/org"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/cache"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/outbox"
	"github.com/carepath/carepath/internal/platform/queue"
	"github.com/carepath/carepath/internal/platform/web"
	"github.com/carepath/carepath/internal/platform/wx"
	"github.com/carepath/carepath/internal/platform/wx/fake"
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

	Auth         *auth.Service
	Patients     *patient.Service
	Family       *family.Store
	Org          *org.Store
	Audit        *audit.Store
	Observations *observation.Service
	Alerts       *alert.Service
	AlertStream  *alert.Stream

	redisPrefix string
	now         func() time.Time
	loc         *time.Location
	keys        *idempotency.Store
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
	wechat, err := a.openWeChat(opts)
	if err != nil {
		return nil, err
	}

	val := web.NewValidator()
	a.Org = org.NewStore(a.DB)
	a.Audit = audit.NewStore(a.DB, now)
	authStore := auth.NewStore(a.DB)
	a.Auth, err = auth.NewService(authStore, wechat, sealer, auth.Config{
		TokenSecret: secrets.tokenSecret, AccessTTL: cfg.Auth.AccessTTL, RefreshTTL: cfg.Auth.RefreshTTL,
		StaffSessionTTL: cfg.Auth.StaffSessionTTL, StaffIdleTimeout: cfg.Auth.StaffIdleTimeout,
		LockoutThreshold: cfg.Auth.LockoutThreshold, LockoutDuration: cfg.Auth.LockoutDuration,
	}, now)
	if err != nil {
		return nil, err
	}
	a.Patients = patient.NewService(patient.NewStore(a.DB), sealer, now)
	a.Family = family.NewStore(a.DB)
	a.Queue = queue.NewClient(a.Redis)
	v := buildVitals(a.DB, a.Patients, authStore, a.loc, now)
	a.Observations, a.Alerts = v.Observations, v.Alerts
	a.keys = idempotency.NewStore(a.DB, now)

	secureCookies := len(cfg.HTTP.PublicURL) > 8 && cfg.HTTP.PublicURL[:8] == "https://"
	authH := auth.NewHandler(a.Auth, val, secureCookies)
	adminH, err := admin.NewHandler(authH, a.Patients, secureCookies)
	if err != nil {
		return nil, fmt.Errorf("admin pages: %w", err)
	}
	docs, err := server.NewDocs(api.Spec)
	if err != nil {
		return nil, err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	policy := access.NewPolicy(a.DB)
	a.Guard = access.NewGuard(policy, authH.Require(), a.Audit)
	a.AlertStream = alert.NewStream(cache.NewPubSub(a.Redis, a.redisPrefix), policy)
	a.closers = append(a.closers, a.AlertStream.Close)
	a.Engine, err = server.New(server.Deps{
		Log: log, Registry: registry, Guard: a.Guard, Auth: authH, Docs: docs, Admin: adminH,
		Patients:     patient.NewHandler(a.Patients, a.Family, a.Auth, authStore, val),
		Observations: observation.NewHandler(a.Observations, val),
		Alerts:       alert.NewHandler(a.Alerts, a.AlertStream, policy, a.Audit, val),
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
	if err := srv.Shutdown(shutdownCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
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
	w.Handle(auth.TaskPurgeExpired, func(ctx context.Context, _ *asynq.Task) error {
		n, err := a.Auth.PurgeExpired(ctx)
		if err == nil && n > 0 {
			a.Log.Info("purged expired sessions", "count", n)
		}
		return err
	})
	if err := w.Every("17 * * * *", asynq.NewTask(auth.TaskPurgeExpired, nil), asynq.Queue(queue.Low), asynq.Unique(time.Hour)); err != nil {
		a.Log.Error("schedule task", "error", err.Error())
	}
	w.Handle(alert.TopicRaised, a.AlertStream.HandleRaised)
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
