package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/ratelimit"
)

type downCounter struct{}

func (downCounter) Allow(context.Context, ratelimit.Rule, string) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
}

// TestLimitsWhenRedisIsDown: logins fail closed (503), messages and
// invitations go on uncounted (see config.Limits).
func TestLimitsWhenRedisIsDown(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	l := NewLimits(downCounter{}, config.Limits{Window: time.Minute, StaffLoginPerIP: 1, WeChatLoginPerIP: 1, RefreshPerIP: 1,
		MessagesPerUser: 1, MessagesPerIP: 1, UploadsPerUser: 1, InvitationsPerUser: 1})
	ok := func(c *gin.Context) { c.Status(http.StatusNoContent) }
	cases := []struct {
		name string
		h    gin.HandlerFunc
		want int
	}{
		{"staff login", l.staffLogin(ok), http.StatusServiceUnavailable},
		{"wechat login", l.wechatLogin(ok), http.StatusServiceUnavailable},
		{"refresh", l.refresh(ok), http.StatusServiceUnavailable},
		{"message", l.messages(ok), http.StatusNoContent},
		{"invitation", l.invitations(ok), http.StatusNoContent},
	}
	for _, tc := range cases {
		e := gin.New()
		e.POST("/x", tc.h)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/x", nil))
		if w.Code != tc.want {
			t.Errorf("%s with Redis down: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
}
