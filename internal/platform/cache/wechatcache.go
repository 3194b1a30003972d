package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// wechatCacheCallTimeout bounds each Redis call made through WechatCache:
// silenceper's Cache interface carries no context, and a hung Redis must not
// hang every WeChat call with it.
const wechatCacheCallTimeout = 2 * time.Second

// WechatCache stores silenceper/wechat's shared state (the stable access
// token) in Redis, so every instance of the service uses one token.
//
// It satisfies silenceper's cache.Cache and cache.ContextCache interfaces
// structurally; the compile-time check lives in package wx, which is the only
// package allowed to import silenceper/wechat.
type WechatCache struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewWechatCache returns a cache that keeps every key under prefix.
func NewWechatCache(rdb redis.UniversalClient, prefix string) *WechatCache {
	return &WechatCache{rdb: rdb, prefix: prefix}
}

// Get returns the value as a Go string, or untyped nil when the key is
// missing or Redis fails: silenceper does val.(string) on anything non-nil,
// and on nil it fetches a fresh (idempotent, stable) token instead.
func (c *WechatCache) Get(key string) interface{} {
	return c.GetContext(context.Background(), key)
}

// GetContext is Get bounded by ctx as well as by the per-call timeout.
func (c *WechatCache) GetContext(ctx context.Context, key string) interface{} {
	ctx, cancel := context.WithTimeout(ctx, wechatCacheCallTimeout)
	defer cancel()
	val, err := c.rdb.Get(ctx, c.prefix+key).Result()
	if err != nil {
		return nil
	}
	return val
}

// Set stores val for timeout. Strings and byte slices are stored as they
// are, anything else as JSON. A timeout under one second (silenceper passes
// expires_in-300, which can be zero or negative) is raised to one second,
// because go-redis v9 reads 0 as "never expires" and -1 as "keep the TTL".
func (c *WechatCache) Set(key string, val interface{}, timeout time.Duration) error {
	return c.SetContext(context.Background(), key, val, timeout)
}

// SetContext is Set bounded by ctx as well as by the per-call timeout.
func (c *WechatCache) SetContext(ctx context.Context, key string, val interface{}, timeout time.Duration) error {
	var s string
	switch v := val.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("wechat cache: set %s: encode %T: %w", key, val, err)
		}
		s = string(b)
	}
	if timeout < time.Second {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wechatCacheCallTimeout)
	defer cancel()
	if err := c.rdb.Set(ctx, c.prefix+key, s, timeout).Err(); err != nil {
		return fmt.Errorf("wechat cache: set %s: %w", key, err)
	}
	return nil
}

// IsExist reports whether key exists; a Redis failure reads as false.
func (c *WechatCache) IsExist(key string) bool {
	return c.IsExistContext(context.Background(), key)
}

// IsExistContext is IsExist bounded by ctx as well as by the per-call timeout.
func (c *WechatCache) IsExistContext(ctx context.Context, key string) bool {
	ctx, cancel := context.WithTimeout(ctx, wechatCacheCallTimeout)
	defer cancel()
	n, err := c.rdb.Exists(ctx, c.prefix+key).Result()
	return err == nil && n > 0
}

// Delete removes key; deleting a missing key is not an error.
func (c *WechatCache) Delete(key string) error {
	return c.DeleteContext(context.Background(), key)
}

// DeleteContext is Delete bounded by ctx as well as by the per-call timeout.
func (c *WechatCache) DeleteContext(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, wechatCacheCallTimeout)
	defer cancel()
	if err := c.rdb.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("wechat cache: delete %s: %w", key, err)
	}
	return nil
}
