// Package wx calls WeChat's server API for the mini-program: login, phone
// number, subscription messages and text security. It is the only package
// that imports silenceper/wechat. It must not log, and must not let a session
// key, an access token or the AppSecret out in a result or an error.
package wx

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	wechatcache "github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/miniprogram"
	mpconfig "github.com/silenceper/wechat/v2/miniprogram/config"

	"github.com/carepath/carepath/internal/platform/cache"
)

// defaultKeyPrefix is the Redis key prefix for silenceper's shared state.
const defaultKeyPrefix = "carepath:wx:"

var _ wechatcache.ContextCache = (*cache.WechatCache)(nil)

// Config configures the WeChat client.
type Config struct {
	AppID, AppSecret string
	// BaseURL "" calls the real https://api.weixin.qq.com; otherwise every
	// WeChat call goes to this base instead (the fake server). Process-wide:
	// see New.
	BaseURL string
	// Timeout bounds each HTTP call to WeChat; 0 means 5s. Process-wide.
	Timeout time.Duration
	// MiniprogramState is the version a subscription message opens:
	// developer, trial or formal (default).
	MiniprogramState string
	// Lang is the language of a subscription message; default zh_CN.
	Lang string
	// KeyPrefix namespaces the shared token in Redis; default "carepath:wx:".
	// Tests sharing one real Redis give each run its own.
	KeyPrefix string
}

// Client calls WeChat for one mini-program. It is safe for concurrent use.
type Client struct {
	mp       *miniprogram.MiniProgram
	cache    *tokenCache
	tokenKey string // silenceper's cache key for the stable access token
	state    string
	lang     string
}

// New validates cfg and returns a client that shares its stable access token
// with every other instance through rdb.
//
// silenceper's HTTP client and URI rewriting are package globals, so New
// sets them for the whole process: the last New's BaseURL and Timeout apply
// to every Client. Call New at start-up; tests in one package must share one
// fake server.
func New(cfg Config, rdb redis.UniversalClient) (*Client, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("wx: config: %w", err)
	}
	if rdb == nil {
		return nil, errors.New("wx: config: a Redis client is required (the access token is shared through it)")
	}
	configureHTTP(cfg.BaseURL, cfg.Timeout)

	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = defaultKeyPrefix
	}
	wc := &tokenCache{WechatCache: cache.NewWechatCache(rdb, prefix)}
	mp := miniprogram.NewMiniProgram(&mpconfig.Config{
		AppID:       cfg.AppID,
		AppSecret:   cfg.AppSecret,
		Cache:       wc,
		UseStableAK: true, // idempotent while valid: instances do not invalidate each other's token
	})
	return &Client{
		mp:       mp,
		cache:    wc,
		tokenKey: fmt.Sprintf("%s_stable_access_token_%s", credential.CacheKeyMiniProgramPrefix, cfg.AppID),
		state:    cfg.MiniprogramState,
		lang:     cfg.Lang,
	}, nil
}

// tokenCache is the token cache as silenceper sees it: Redis, shared by
// every instance, behind a short memo in this process (a push run asks for
// the token once per message; Redis once every tokenMemo is enough).
//
// A token that Redis could not keep is still a good token. silenceper
// returns the cache's Set error instead of the token it just fetched, so
// with Redis down every WeChat call (content checks of patient text, pushes)
// would fail; here it goes ahead, and each call fetches the stable token
// afresh until Redis answers again (stable tokens do not invalidate each
// other).
//
// A token WeChat rejects (40001) is dropped from both (withToken); a token
// another instance replaced is used here at most tokenMemo longer, and a
// rejection drops it at once.
type tokenCache struct {
	*cache.WechatCache
	mu   sync.Mutex
	memo map[string]memoToken
}

type memoToken struct {
	val     string
	expires time.Time
}

// tokenMemo is how long this process reuses a token read from Redis.
const tokenMemo = 10 * time.Second

func (k *tokenCache) Get(key string) interface{} { return k.GetContext(context.Background(), key) }

func (k *tokenCache) GetContext(ctx context.Context, key string) interface{} {
	now := time.Now()
	k.mu.Lock()
	m, ok := k.memo[key]
	k.mu.Unlock()
	if ok && now.Before(m.expires) {
		return m.val
	}
	val := k.WechatCache.GetContext(ctx, key)
	if s, ok := val.(string); ok {
		k.remember(key, s, now.Add(tokenMemo))
	}
	return val
}

func (k *tokenCache) remember(key, val string, expires time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.memo == nil {
		k.memo = map[string]memoToken{}
	}
	k.memo[key] = memoToken{val: val, expires: expires}
}

func (k *tokenCache) forget(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.memo, key)
}

func (k *tokenCache) Set(key string, val interface{}, timeout time.Duration) error {
	return k.SetContext(context.Background(), key, val, timeout)
}

func (k *tokenCache) SetContext(ctx context.Context, key string, val interface{}, timeout time.Duration) error {
	k.forget(key)
	if s, ok := val.(string); ok {
		k.remember(key, s, time.Now().Add(min(tokenMemo, timeout)))
	}
	_ = k.WechatCache.SetContext(ctx, key, val, timeout)
	return nil
}

func (k *tokenCache) Delete(key string) error { return k.DeleteContext(context.Background(), key) }

func (k *tokenCache) DeleteContext(ctx context.Context, key string) error {
	k.forget(key)
	return k.WechatCache.DeleteContext(ctx, key)
}

var _ wechatcache.ContextCache = (*tokenCache)(nil)

// credentialChars is what an AppID or AppSecret may hold: silenceper pastes
// them into URLs unescaped.
var credentialChars = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (cfg *Config) normalize() error {
	var errs []error
	if !credentialChars.MatchString(cfg.AppID) {
		errs = append(errs, errors.New("app id must be non-empty letters, digits, '-' or '_'"))
	}
	if !credentialChars.MatchString(cfg.AppSecret) {
		errs = append(errs, errors.New("app secret must be non-empty letters, digits, '-' or '_'"))
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("base url %q must be an absolute http(s) URL without query", cfg.BaseURL))
		} else {
			cfg.BaseURL = u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/")
		}
	}
	switch {
	case cfg.Timeout < 0:
		errs = append(errs, fmt.Errorf("timeout %v is negative", cfg.Timeout))
	case cfg.Timeout == 0:
		cfg.Timeout = 5 * time.Second
	}
	switch cfg.MiniprogramState {
	case "":
		cfg.MiniprogramState = "formal"
	case "developer", "trial", "formal":
	default:
		errs = append(errs, fmt.Errorf("miniprogram state %q is not developer, trial or formal", cfg.MiniprogramState))
	}
	switch cfg.Lang {
	case "":
		cfg.Lang = "zh_CN"
	case "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		errs = append(errs, fmt.Errorf("lang %q is not zh_CN, en_US, zh_HK or zh_TW", cfg.Lang))
	}
	return errors.Join(errs...)
}

// withToken runs call, which uses the access token and returns a classified
// error. silenceper never drops a cached token WeChat has rejected, so on
// 40001/42001/40014 this deletes it from Redis and runs call once more (the
// stable-token endpoint then answers the token WeChat currently accepts;
// no forced refresh, which WeChat limits to 20 a day).
func (c *Client) withToken(ctx context.Context, op string, call func() error) error {
	err := call()
	if errors.Is(err, ErrTokenInvalid) {
		dropErr := c.cache.DeleteContext(ctx, c.tokenKey)
		// Retry even if the delete failed: with Redis down, silenceper
		// fetches a fresh token anyway.
		err = call()
		if err != nil && dropErr != nil {
			err = fmt.Errorf("%w (dropping the rejected token: %v)", err, dropErr)
		}
	}
	if err != nil {
		return fmt.Errorf("wx: %s: %w", op, err)
	}
	return nil
}
