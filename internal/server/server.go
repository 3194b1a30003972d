// Package server builds the gin engine: global middleware, health and
// metrics endpoints, the API docs, and (in routes.go) every route with its
// access decision.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/web"
	"github.com/carepath/carepath/internal/questionnaire"
)

// Check is a readiness probe of one dependency.
type Check func(ctx context.Context) error

// Deps is everything the router needs, built once by the app package.
type Deps struct {
	Log            *slog.Logger
	Registry       *prometheus.Registry
	Guard          *access.Guard
	Auth           *auth.Handler
	Patients       *patient.Handler
	Careplan       *careplan.Handler
	Education      *education.Handler
	Messages       *messaging.Handler
	Family         *family.Handler
	Consents       *consent.Handler
	Appointments   *appointment.Handler
	Questionnaires *questionnaire.Handler
	Followups      *followup.Handler
	KPIs           *kpi.Handler
	Notify         *notify.Handler
	AccessLog      *audit.Handler
	Export         *export.Handler
	Account        *account.Handler
	Observations   *observation.Handler
	Home           *home.Handler
	Alerts         *alert.Handler
	Admin          *admin.Handler
	Docs           *Docs
	Ready          map[string]Check
	TrustedProxies []string
	// Limits are the abuse limits, counted by Counter (nil: none, in unit tests of the router).
	Limits *limits
	// HTTPS: the service is served over HTTPS (HSTS is sent).
	HTTPS bool
}

// NewLimits returns the abuse limits for Deps.
func NewLimits(counter Counter, cfg config.Limits) *limits {
	return &limits{counter: counter, cfg: cfg}
}

// New returns the engine with every route mounted.
func New(d Deps) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	metrics := web.NewMetrics(d.Registry)
	e.Use(web.RequestID(d.Log), web.Recover(), web.AccessLog(), metrics.Middleware(), web.Deadline(30*time.Second),
		web.SecurityHeaders(d.HTTPS), web.BodyLimit(web.DefaultMaxBody, ownsBodyLimit))
	e.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, web.ErrorBody{Error: web.ErrorDetail{Code: "route_not_found", Message: "请求的接口不存在"}})
	})
	e.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, web.ErrorBody{Error: web.ErrorDetail{Code: "method_not_allowed", Message: "不支持该请求方法"}})
	})
	mountRoutes(e, d)
	return e, nil
}

// ownsBodyLimit: image uploads are bounded by messaging.max_image_bytes in
// their handler (413 image_too_large), not by the 1 MiB JSON limit.
func ownsBodyLimit(c *gin.Context) bool {
	return c.FullPath() == "/api/v1/patients/:patientID/thread/messages" && isUpload(c)
}

func healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func readyz(checks map[string]Check) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		status, results := http.StatusOK, map[string]string{}
		for name, check := range checks {
			if err := check(ctx); err != nil {
				status = http.StatusServiceUnavailable
				results[name] = "unavailable"
				web.Logger(c).Warn("readiness check failed", "dependency", name, "error", err.Error())
				continue
			}
			results[name] = "ok"
		}
		word := "ok"
		if status != http.StatusOK {
			word = "unavailable"
		}
		c.JSON(status, gin.H{"status": word, "checks": results})
	}
}

func metricsHandler(reg *prometheus.Registry) gin.HandlerFunc {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}
