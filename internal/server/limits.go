package server

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/ratelimit"
	"github.com/carepath/carepath/internal/platform/web"
)

// Counter counts hits (ratelimit.Limiter).
type Counter interface {
	Allow(ctx context.Context, rule ratelimit.Rule, key string) (ratelimit.Result, error)
}

// limits wraps handlers with the abuse limits of config.Limits.
type limits struct {
	counter Counter
	cfg     config.Limits
}

var errTooManyRequests = func(wait time.Duration) error {
	return apperr.RateLimited("too_many_requests", "操作过于频繁，请稍后再试", wait)
}

type limitKey struct {
	rule  ratelimit.Rule
	byIP  bool // else by the authenticated actor
	when  func(c *gin.Context) bool
	fails string // "closed" (503 when Redis is down) or "open"
}

// wrap runs h only when every applicable limit allows the hit.
func (l *limits) wrap(keys []limitKey, h gin.HandlerFunc) gin.HandlerFunc {
	if l == nil || l.counter == nil {
		return h
	}
	return func(c *gin.Context) {
		var wait time.Duration
		denied := false
		for _, k := range keys {
			if k.when != nil && !k.when(c) {
				continue
			}
			key := c.ClientIP()
			if !k.byIP {
				a, _ := auth.ActorFrom(c)
				key = string(a.Kind) + ":" + a.ID
			}
			r, err := l.counter.Allow(c.Request.Context(), k.rule, key)
			if err != nil {
				if k.fails == "closed" {
					web.Error(c, apperr.Unavailable("redis", err))
					return
				}
				web.Logger(c).Warn("rate limit not counted: redis unavailable", "limit", k.rule.Name, "error", err.Error())
				continue
			}
			if !r.Allowed {
				denied, wait = true, max(wait, r.RetryAfter)
			}
		}
		if denied {
			web.Error(c, errTooManyRequests(wait))
			return
		}
		h(c)
	}
}

func (l *limits) rule(name string, n int) ratelimit.Rule {
	return ratelimit.Rule{Name: name, Limit: n, Window: l.cfg.Window}
}

func (l *limits) staffLogin(h gin.HandlerFunc) gin.HandlerFunc {
	return l.wrap([]limitKey{{rule: l.rule("staff_login:ip", l.cfg.StaffLoginPerIP), byIP: true, fails: "closed"}}, h)
}

func (l *limits) wechatLogin(h gin.HandlerFunc) gin.HandlerFunc {
	return l.wrap([]limitKey{{rule: l.rule("wechat_login:ip", l.cfg.WeChatLoginPerIP), byIP: true, fails: "closed"}}, h)
}

func (l *limits) refresh(h gin.HandlerFunc) gin.HandlerFunc {
	return l.wrap([]limitKey{{rule: l.rule("refresh:ip", l.cfg.RefreshPerIP), byIP: true, fails: "closed"}}, h)
}

func isUpload(c *gin.Context) bool {
	return strings.HasPrefix(c.ContentType(), "multipart/")
}

func (l *limits) messages(h gin.HandlerFunc) gin.HandlerFunc {
	return l.wrap([]limitKey{
		{rule: l.rule("messages:user", l.cfg.MessagesPerUser), fails: "open"},
		{rule: l.rule("messages:ip", l.cfg.MessagesPerIP), byIP: true, fails: "open"},
		{rule: l.rule("uploads:user", l.cfg.UploadsPerUser), when: isUpload, fails: "open"},
	}, h)
}

func (l *limits) invitations(h gin.HandlerFunc) gin.HandlerFunc {
	return l.wrap([]limitKey{{rule: l.rule("invitations:user", l.cfg.InvitationsPerUser), fails: "open"}}, h)
}
