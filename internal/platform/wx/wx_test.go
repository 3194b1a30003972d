package wx_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/platform/wx"
	"github.com/carepath/carepath/internal/platform/wx/fake"
)

// silenceper's URI modifier is process-wide, so the whole package shares
// one fake WeChat (and one Redis).
var (
	fakeWeChat *fake.Server
	testRedis  redis.UniversalClient
)

const testSecret = "test-app-secret-0123456789"

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	srv, err := fake.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	fakeWeChat = srv

	// A real Redis when CAREPATH_TEST_REDIS_ADDR is set; every test uses its
	// own random appid, so its token key is its own and is deleted after.
	if addr := os.Getenv("CAREPATH_TEST_REDIS_ADDR"); addr != "" {
		testRedis = redis.NewClient(&redis.Options{Addr: addr})
		if err := testRedis.Ping(context.Background()).Err(); err != nil {
			fmt.Fprintf(os.Stderr, "CAREPATH_TEST_REDIS_ADDR=%s: %v\n", addr, err)
			return 1
		}
	} else {
		mr, err := miniredis.Run()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer mr.Close()
		testRedis = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	}
	defer testRedis.Close()
	return m.Run()
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// tokenKey is where silenceper v2.1.14 caches the stable token under our
// prefix; the retry on 40001 deletes exactly this key.
func tokenKey(appID string) string {
	return "carepath:wx:gowechat_miniprogram__stable_access_token_" + appID
}

// newAppID returns a fresh appid whose token key is removed after the test.
func newAppID(t *testing.T) string {
	t.Helper()
	appID := "wxtest" + randomSuffix(t)
	t.Cleanup(func() { testRedis.Del(context.Background(), tokenKey(appID)) })
	return appID
}

// newClient returns a client of the shared fake for appID ("" = a fresh one).
func newClient(t *testing.T, appID string) *wx.Client {
	t.Helper()
	if appID == "" {
		appID = newAppID(t)
	}
	c, err := wx.New(wx.Config{AppID: appID, AppSecret: testSecret, BaseURL: fakeWeChat.URL()}, testRedis)
	if err != nil {
		t.Fatalf("wx.New: %v", err)
	}
	return c
}

// restoreSharedFake puts back the process-wide settings every other test
// expects (the shared fake, the default timeout) after a test changed them.
func restoreSharedFake(t *testing.T) {
	t.Helper()
	if _, err := wx.New(wx.Config{AppID: "wxapp", AppSecret: testSecret, BaseURL: fakeWeChat.URL()}, testRedis); err != nil {
		t.Fatal(err)
	}
}

// loginCode returns a single-use fake login code unique to this run (the
// fake is shared by every test and every -count repetition).
func loginCode(t *testing.T, name string) (code, openID string) {
	t.Helper()
	name = name + "-" + randomSuffix(t)
	return "test-" + name, "fake-openid-" + name
}

// assertNoSecrets fails if err's text holds anything that must never leave wx.
func assertNoSecrets(t *testing.T, err error, more ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range append([]string{testSecret, "access_token=", "fake-token-", "session_key"}, more...) {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	valid := wx.Config{AppID: "wxapp", AppSecret: "secret", BaseURL: fakeWeChat.URL()}
	tests := []struct {
		name   string
		modify func(*wx.Config)
	}{
		{"no appid", func(c *wx.Config) { c.AppID = "" }},
		{"no secret", func(c *wx.Config) { c.AppSecret = "" }},
		{"appid needing escaping", func(c *wx.Config) { c.AppID = "wx&secret=x" }},
		{"relative base url", func(c *wx.Config) { c.BaseURL = "127.0.0.1:8080" }},
		{"base url with query", func(c *wx.Config) { c.BaseURL = "http://127.0.0.1:1/?a=b" }},
		{"negative timeout", func(c *wx.Config) { c.Timeout = -time.Second }},
		{"unknown state", func(c *wx.Config) { c.MiniprogramState = "beta" }},
		{"unknown lang", func(c *wx.Config) { c.Lang = "fr_FR" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.modify(&cfg)
			if _, err := wx.New(cfg, testRedis); err == nil {
				t.Errorf("New(%+v) = nil error", cfg)
			} else {
				assertNoSecrets(t, err, cfg.AppSecret)
			}
		})
	}
	if _, err := wx.New(valid, nil); err == nil {
		t.Error("New without Redis = nil error")
	}
	if _, err := wx.New(valid, testRedis); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
}

func TestCode2Session(t *testing.T) {
	c := newClient(t, "")
	ctx := context.Background()

	code, openID := loginCode(t, "alice")
	got, err := c.Code2Session(ctx, code)
	if err != nil {
		t.Fatalf("Code2Session: %v", err)
	}
	want := wx.Session{OpenID: openID, UnionID: strings.Replace(openID, "openid", "unionid", 1)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Code2Session (-want +got):\n%s", diff)
	}

	tests := []struct {
		name     string
		code     string
		want     error
		wantCode int // WeChat's errcode; 0 = rejected before calling WeChat
	}{
		{"reused code", code, wx.ErrCodeUsed, 40163},
		{"invalid code", "nonsense", wx.ErrInvalidCode, 40029},
		{"rate limited", "ratelimit-1", wx.ErrRateLimited, 45011},
		{"blocked user", "blocked-1", wx.ErrUserBlocked, 40226},
		{"busy", "busy-1", wx.ErrUnavailable, -1},
		{"code needing escaping", "x&js_code=test-mallory", wx.ErrInvalidCode, 40029},
		{"empty code", "", wx.ErrInvalidCode, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.Code2Session(ctx, tt.code)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Code2Session(%q) = %+v, %v; want %v", tt.code, s, err, tt.want)
			}
			var apiErr *wx.APIError
			switch {
			case tt.wantCode == 0 && errors.As(err, &apiErr):
				t.Errorf("error %v is an APIError; want a local rejection", err)
			case tt.wantCode != 0 && !errors.As(err, &apiErr):
				t.Errorf("error %v is not an *APIError", err)
			case tt.wantCode != 0 && apiErr.Code != tt.wantCode:
				t.Errorf("APIError.Code = %d, want %d", apiErr.Code, tt.wantCode)
			}
			assertNoSecrets(t, err, tt.code)
		})
	}
}

func TestUnavailable(t *testing.T) {
	ctx := context.Background()

	t.Run("fake down", func(t *testing.T) {
		c := newClient(t, "")
		fakeWeChat.SetDown(true)
		t.Cleanup(func() { fakeWeChat.SetDown(false) })
		code, _ := loginCode(t, "down")
		_, err := c.Code2Session(ctx, code)
		if !errors.Is(err, wx.ErrUnavailable) {
			t.Errorf("Code2Session = %v, want ErrUnavailable", err)
		}
		assertNoSecrets(t, err, code)
		_, err = c.PhoneNumber(ctx, "phone-13800000001")
		if !errors.Is(err, wx.ErrUnavailable) {
			t.Errorf("PhoneNumber (token call fails) = %v, want ErrUnavailable", err)
		}
		assertNoSecrets(t, err)
	})

	t.Run("caller deadline", func(t *testing.T) {
		c := newClient(t, "")
		fakeWeChat.SetDelay(time.Minute)
		t.Cleanup(func() { fakeWeChat.SetDelay(0) })
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		code, _ := loginCode(t, "slow")
		_, err := c.Code2Session(ctx, code)
		if !errors.Is(err, wx.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Code2Session = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		assertNoSecrets(t, err, code)
	})

	// These two replace the process-wide HTTP settings, then put the shared
	// fake's back.
	t.Run("configured timeout", func(t *testing.T) {
		c, err := wx.New(wx.Config{AppID: newAppID(t), AppSecret: testSecret, BaseURL: fakeWeChat.URL(), Timeout: 100 * time.Millisecond}, testRedis)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { restoreSharedFake(t) })
		fakeWeChat.SetDelay(time.Minute)
		t.Cleanup(func() { fakeWeChat.SetDelay(0) })
		code, _ := loginCode(t, "timeout")
		if _, err := c.Code2Session(ctx, code); !errors.Is(err, wx.ErrUnavailable) {
			t.Errorf("Code2Session = %v, want ErrUnavailable", err)
		}
	})

	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closedURL := "http://" + ln.Addr().String()
		ln.Close()
		c, err := wx.New(wx.Config{AppID: "wxapp", AppSecret: testSecret, BaseURL: closedURL}, testRedis)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { restoreSharedFake(t) })
		code, _ := loginCode(t, "closed")
		_, err = c.Code2Session(ctx, code)
		if !errors.Is(err, wx.ErrUnavailable) {
			t.Errorf("Code2Session = %v, want ErrUnavailable", err)
		}
		assertNoSecrets(t, err, code)
	})
}

func TestPhoneNumber(t *testing.T) {
	c := newClient(t, "")
	tests := []struct {
		name, code, want string
		wantErr          error
	}{
		{"valid", "phone-13800000001", "13800000001", nil},
		{"invalid code", "nonsense", "", wx.ErrInvalidCode},
		{"empty code", "", "", wx.ErrInvalidCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.PhoneNumber(context.Background(), tt.code)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("PhoneNumber(%q) = %q, %v; want %q, %v", tt.code, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSendSubscribe(t *testing.T) {
	ctx := context.Background()
	c, err := wx.New(wx.Config{AppID: newAppID(t), AppSecret: testSecret, BaseURL: fakeWeChat.URL(), MiniprogramState: "trial"}, testRedis)
	if err != nil {
		t.Fatal(err)
	}
	openID := "fake-openid-sub-" + randomSuffix(t)
	msg := wx.SubscribeMessage{
		ToOpenID:   openID,
		TemplateID: "tpl-new-message",
		Page:       "pages/chat/index?thread=t1",
		Data:       map[string]string{"thing1": "您有一条新消息", "time2": "2026年11月22日 15:01"},
	}

	if err := c.SendSubscribe(ctx, msg); err != nil {
		t.Fatalf("SendSubscribe: %v", err)
	}
	want := fake.SentMessage{
		ToOpenID:         openID,
		TemplateID:       msg.TemplateID,
		Page:             msg.Page,
		Data:             msg.Data,
		MiniprogramState: "trial",
		Lang:             "zh_CN",
	}
	if diff := cmp.Diff(want, lastSentTo(openID)); diff != "" {
		t.Errorf("recorded send (-want +got):\n%s", diff)
	}

	with := func(modify func(*wx.SubscribeMessage)) wx.SubscribeMessage {
		m := msg
		m.Data = map[string]string{"thing1": "您有一条新消息"}
		modify(&m)
		return m
	}
	tests := []struct {
		name     string
		msg      wx.SubscribeMessage
		failNext int // errcode the fake answers to this send
		want     error
	}{
		{"thing over 20 characters", with(func(m *wx.SubscribeMessage) { m.Data["thing1"] = strings.Repeat("字", 21) }), 0, wx.ErrBadData},
		{"no credit", msg, 43101, wx.ErrNoQuota},
		{"bad page", msg, 41030, wx.ErrBadPage},
		{"daily limit", msg, 45009, wx.ErrDailyLimit},
		{"busy", msg, -1, wx.ErrUnavailable},
		{"unknown errcode", msg, 40037, wx.ErrWeChat},
		{"not a fake openid", with(func(m *wx.SubscribeMessage) { m.ToOpenID = "o-real-user" }), 0, wx.ErrBadOpenID},
		{"empty page", with(func(m *wx.SubscribeMessage) { m.Page = "" }), 0, wx.ErrBadPage},
		{"no data", with(func(m *wx.SubscribeMessage) { m.Data = nil }), 0, wx.ErrBadData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fakeWeChat.Sent())
			if tt.failNext != 0 {
				fakeWeChat.FailNextSend(tt.msg.ToOpenID, tt.failNext)
			}
			err := c.SendSubscribe(ctx, tt.msg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("SendSubscribe = %v, want %v", err, tt.want)
			}
			if tt.failNext != 0 {
				var apiErr *wx.APIError
				if !errors.As(err, &apiErr) || apiErr.Code != tt.failNext {
					t.Errorf("error %v: want *APIError with Code %d", err, tt.failNext)
				}
			}
			if got := len(fakeWeChat.Sent()); got != before {
				t.Errorf("a failed send was recorded (%d sends, want %d)", got, before)
			}
			assertNoSecrets(t, err, "您有一条新消息", "字字字")
		})
	}
}

func lastSentTo(openID string) fake.SentMessage {
	sent := fakeWeChat.Sent()
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].ToOpenID == openID {
			return sent[i]
		}
	}
	return fake.SentMessage{}
}

func TestCheckText(t *testing.T) {
	c := newClient(t, "")
	tests := []struct {
		name    string
		openID  string
		scene   int
		content string
		want    wx.TextVerdict
		wantErr error
	}{
		{"pass", "fake-openid-a", wx.SceneComment, "今天血压 130/85", wx.TextPass, nil},
		{"review", "fake-openid-a", wx.SceneComment, "x review-test", wx.TextReview, nil},
		{"risky", "fake-openid-a", wx.SceneSocialLog, "一段违禁文字", wx.TextRisky, nil},
		{"empty text passes without a call", "fake-openid-a", wx.SceneComment, "", wx.TextPass, nil},
		{"openid WeChat rejects", "o-real-user", wx.SceneComment, "hello", "", wx.ErrBadOpenID},
		{"no openid", "", wx.SceneComment, "hello", "", wx.ErrBadOpenID},
		{"bad scene", "fake-openid-a", 7, "hello", "", wx.ErrBadData},
		{"over 2500 characters", "fake-openid-a", wx.SceneComment, strings.Repeat("字", 2501), "", wx.ErrBadData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.CheckText(context.Background(), tt.openID, tt.scene, tt.content)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("CheckText = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			assertNoSecrets(t, err, "违禁")
		})
	}
}

func TestTokenSharedThroughRedis(t *testing.T) {
	ctx := context.Background()
	appID := newAppID(t)
	first, second := newClient(t, appID), newClient(t, appID)

	before := fakeWeChat.TokenCount()
	if _, err := first.PhoneNumber(ctx, "phone-13800000001"); err != nil {
		t.Fatal(err)
	}
	if got := fakeWeChat.TokenCount() - before; got != 1 {
		t.Errorf("first client made %d token calls, want 1", got)
	}
	if _, err := second.PhoneNumber(ctx, "phone-13800000002"); err != nil {
		t.Fatal(err)
	}
	if _, err := second.CheckText(ctx, "fake-openid-a", wx.SceneComment, "hello"); err != nil {
		t.Fatal(err)
	}
	if got := fakeWeChat.TokenCount() - before; got != 1 {
		t.Errorf("two clients made %d token calls, want 1 (the second must use the token in Redis)", got)
	}

	ttl, err := testRedis.TTL(ctx, tokenKey(appID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 6900*time.Second {
		t.Errorf("token key %s TTL = %v, want in (0, 6900s] (expires_in - 300)", tokenKey(appID), ttl)
	}
}

func TestTokenRejectedRetry(t *testing.T) {
	ctx := context.Background()
	appID := newAppID(t)
	c := newClient(t, appID)
	if _, err := c.PhoneNumber(ctx, "phone-13800000001"); err != nil { // caches a token
		t.Fatal(err)
	}
	openID := "fake-openid-retry-" + randomSuffix(t)
	msg := wx.SubscribeMessage{ToOpenID: openID, TemplateID: "tpl", Page: "pages/index/index", Data: map[string]string{"thing1": "提醒"}}

	tests := []struct {
		name       string
		setup      func()
		call       func() error
		want       error
		wantTokens int // new token calls
		wantSent   int // sends the fake accepted
	}{
		{
			name:       "token revoked by WeChat: drop, refetch, retry",
			setup:      fakeWeChat.RevokeTokens,
			call:       func() error { _, err := c.PhoneNumber(ctx, "phone-13800000001"); return err },
			wantTokens: 1,
		},
		{
			name:       "one 40001 on send: retried once, sent once",
			setup:      func() { fakeWeChat.FailNextSend(openID, 40001) },
			call:       func() error { return c.SendSubscribe(ctx, msg) },
			wantTokens: 1,
			wantSent:   1,
		},
		{
			name:       "42001 twice: ErrTokenInvalid after one retry",
			setup:      func() { fakeWeChat.FailNextSend(openID, 42001); fakeWeChat.FailNextSend(openID, 42001) },
			call:       func() error { return c.SendSubscribe(ctx, msg) },
			want:       wx.ErrTokenInvalid,
			wantTokens: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			sentBefore, tokensBefore := len(fakeWeChat.Sent()), fakeWeChat.TokenCount()
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got := fakeWeChat.TokenCount() - tokensBefore; got != tt.wantTokens {
				t.Errorf("token calls = %d, want %d", got, tt.wantTokens)
			}
			if got := len(fakeWeChat.Sent()) - sentBefore; got != tt.wantSent {
				t.Errorf("sends accepted = %d, want %d", got, tt.wantSent)
			}
			assertNoSecrets(t, err)
		})
	}
}

// TestRedisDownStillReachesWeChat: the token cache is Redis; with Redis
// down, content checks and pushes still go through (the token is fetched
// afresh instead of failing the call because it could not be kept).
func TestRedisDownStillReachesWeChat(t *testing.T) {
	mr := miniredis.RunT(t) // its own Redis, stopped below
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	c, err := wx.New(wx.Config{AppID: "wxdown" + randomSuffix(t), AppSecret: testSecret, BaseURL: fakeWeChat.URL()}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	mr.Close()
	ctx := context.Background()
	if got, err := c.CheckText(ctx, "fake-openid-a", wx.SceneComment, "今天血压 130/85"); err != nil || got != wx.TextPass {
		t.Errorf("CheckText with Redis down = %q, %v; want pass", got, err)
	}
	msg := wx.SubscribeMessage{ToOpenID: "fake-openid-down", TemplateID: "tpl", Page: "pages/index/index", Data: map[string]string{"thing1": "您有一条新消息"}}
	if err := c.SendSubscribe(ctx, msg); err != nil {
		t.Errorf("SendSubscribe with Redis down: %v", err)
	}
	if got := lastSentTo("fake-openid-down"); got.TemplateID != "tpl" {
		t.Errorf("WeChat got %+v, want the push", got)
	}
}
