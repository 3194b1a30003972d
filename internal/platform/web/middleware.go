package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/carepath/carepath/internal/platform/apperr"
)

const (
	loggerKey    = "carepath.logger"
	requestIDKey = "carepath.request_id"
	// RequestIDHeader carries the request id in and out.
	RequestIDHeader = "X-Request-ID"
)

// RequestID takes a sane incoming X-Request-ID or makes one, echoes it, and
// attaches a logger that carries it.
func RequestID(base *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(requestIDKey, id)
		c.Set(loggerKey, base.With("request_id", id))
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// RequestIDOf returns the request id of c.
func RequestIDOf(c *gin.Context) string { return c.GetString(requestIDKey) }

// SetUserID adds the authenticated subject to the request's log lines.
func SetUserID(c *gin.Context, kind, id string) {
	c.Set(loggerKey, Logger(c).With("actor_kind", kind, "actor_id", id))
}

// Deadline bounds every request's context, so a database or Redis that stops
// answering turns into a 503 instead of a hung request. WebSocket upgrades
// live longer by design and are left alone.
func Deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// AccessLog writes one line per request: method, route (not the raw path,
// which may carry ids), status, latency. Never bodies or query strings.
func AccessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 {
			level = slog.LevelError
		}
		Logger(c).Log(c.Request.Context(), level, "http request",
			"method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	}
}

// Recover turns a panic into a 500 with the usual body; the panic is logged.
func Recover() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				Logger(c).Error("panic in handler", "panic", p)
				c.AbortWithStatusJSON(http.StatusInternalServerError,
					ErrorBody{Error: ErrorDetail{Code: "internal_error", Message: "服务器内部错误"}})
			}
		}()
		c.Next()
	}
}

// Metrics counts requests and their latency by route and status.
type Metrics struct {
	requests *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "carepath_http_request_duration_seconds",
		Help:    "HTTP request latency by route, method and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method", "status"})}
	reg.MustRegister(m.requests)
	return m
}

// Middleware observes each request.
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

// DefaultMaxBody is the body limit of every route but uploads: 1 MiB.
const DefaultMaxBody int64 = 1 << 20

// ErrBodyTooLarge is the answer to a body over its limit (413).
var ErrBodyTooLarge = apperr.TooLarge("body_too_large", "请求体过大，请精简后重试（上限 1 MiB）")

// BodyLimit refuses a body over max bytes with 413 body_too_large: at once
// when Content-Length says so, or when the handler reads past max. Routes for
// which own returns true enforce their own limit (uploads).
func BodyLimit(max int64, own func(c *gin.Context) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body == nil || c.Request.Body == http.NoBody || (own != nil && own(c)) {
			c.Next()
			return
		}
		if c.Request.ContentLength > max {
			Error(c, ErrBodyTooLarge)
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// SecurityHeaders sets what every answer carries: no MIME sniffing, no
// framing, no referrer to other sites, HSTS when the service is served over
// HTTPS, and no-store on the API (its answers are patient data; a handler may
// set its own Cache-Control, as public documents do).
func SecurityHeaders(https bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if https {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if strings.HasPrefix(c.Request.URL.Path, "/api/v1/") {
			h.Set("Cache-Control", "no-store")
		}
		c.Next()
	}
}
