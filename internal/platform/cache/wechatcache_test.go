package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/platform/cache"
)

// wechatCacheBackend is one Redis the WechatCache tests run against.
type wechatCacheBackend struct {
	name   string
	rdb    redis.UniversalClient
	prefix string
	mini   *miniredis.Miniredis // nil for a real Redis
}

// wechatCacheBackends returns miniredis, plus the real Redis named by
// CAREPATH_TEST_REDIS_ADDR when it is set. Each gets a random key prefix
// whose keys are removed when the test ends.
func wechatCacheBackends(t *testing.T) []wechatCacheBackend {
	t.Helper()
	m := miniredis.RunT(t)
	mrdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = mrdb.Close() })
	backends := []wechatCacheBackend{{name: "miniredis", rdb: mrdb, prefix: randomWechatCachePrefix(t), mini: m}}

	if addr := os.Getenv("CAREPATH_TEST_REDIS_ADDR"); addr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("CAREPATH_TEST_REDIS_ADDR=%s: ping: %v", addr, err)
		}
		prefix := randomWechatCachePrefix(t)
		t.Cleanup(func() {
			ctx := context.Background()
			iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
			_ = rdb.Close()
		})
		backends = append(backends, wechatCacheBackend{name: "redis", rdb: rdb, prefix: prefix})
	}
	return backends
}

func randomWechatCachePrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "carepath-test:" + hex.EncodeToString(b) + ":"
}

func TestWechatCacheGetSet(t *testing.T) {
	tests := []struct {
		name string
		val  interface{}
		want string
	}{
		{name: "string", val: "token-abc", want: "token-abc"},
		{name: "empty string", val: "", want: ""},
		{name: "bytes", val: []byte("raw"), want: "raw"},
		{name: "int as JSON", val: 42, want: "42"},
		{name: "struct as JSON", val: struct {
			A string `json:"a"`
		}{A: "x"}, want: `{"a":"x"}`},
		{name: "map as JSON", val: map[string]int{"n": 1}, want: `{"n":1}`},
	}
	for _, b := range wechatCacheBackends(t) {
		c := cache.NewWechatCache(b.rdb, b.prefix)
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				key := "k-" + tt.name
				if err := c.Set(key, tt.val, time.Minute); err != nil {
					t.Fatalf("Set: %v", err)
				}
				got := c.Get(key)
				s, ok := got.(string)
				if !ok {
					t.Fatalf("Get(%q) = %#v (%T), want a string", key, got, got)
				}
				if s != tt.want {
					t.Errorf("Get(%q) = %q, want %q", key, s, tt.want)
				}
				if !c.IsExist(key) {
					t.Errorf("IsExist(%q) = false after Set", key)
				}
				raw, err := b.rdb.Get(context.Background(), b.prefix+key).Result()
				if err != nil {
					t.Fatalf("key not stored under prefix %q: %v", b.prefix, err)
				}
				if raw != tt.want {
					t.Errorf("raw Redis value = %q, want %q", raw, tt.want)
				}
			})
		}
	}
}

func TestWechatCacheMissingAndDelete(t *testing.T) {
	for _, b := range wechatCacheBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := cache.NewWechatCache(b.rdb, b.prefix)
			if got := c.Get("missing"); got != nil {
				t.Errorf("Get(missing) = %#v, want untyped nil", got)
			}
			if c.IsExist("missing") {
				t.Error("IsExist(missing) = true")
			}
			if err := c.Delete("missing"); err != nil {
				t.Errorf("Delete(missing) = %v, want nil", err)
			}
			if err := c.Set("k", "v", time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete("k"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if got := c.Get("k"); got != nil {
				t.Errorf("Get after Delete = %#v, want nil", got)
			}
		})
	}
}

func TestWechatCacheTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		minTTL  time.Duration
		maxTTL  time.Duration
	}{
		{name: "zero is clamped, not forever", timeout: 0, minTTL: time.Millisecond, maxTTL: time.Second},
		{name: "negative is clamped, not keep-ttl", timeout: -5 * time.Second, minTTL: time.Millisecond, maxTTL: time.Second},
		{name: "sub-second is clamped", timeout: 10 * time.Millisecond, minTTL: 11 * time.Millisecond, maxTTL: time.Second},
		{name: "normal", timeout: 6900 * time.Second, minTTL: 6890 * time.Second, maxTTL: 6900 * time.Second},
	}
	for _, b := range wechatCacheBackends(t) {
		c := cache.NewWechatCache(b.rdb, b.prefix)
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				key := "ttl-" + tt.name
				if err := c.Set(key, "v", tt.timeout); err != nil {
					t.Fatalf("Set: %v", err)
				}
				ttl, err := b.rdb.PTTL(context.Background(), b.prefix+key).Result()
				if err != nil {
					t.Fatal(err)
				}
				if ttl < tt.minTTL || ttl > tt.maxTTL {
					t.Errorf("TTL after Set(timeout=%v) = %v, want in [%v, %v]", tt.timeout, ttl, tt.minTTL, tt.maxTTL)
				}
			})
		}
	}
}

func TestWechatCacheExpires(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	c := cache.NewWechatCache(rdb, "p:")

	if err := c.Set("k", "v", 0); err != nil {
		t.Fatal(err)
	}
	m.FastForward(1500 * time.Millisecond)
	if got := c.Get("k"); got != nil {
		t.Errorf("Get after the clamped 1s timeout = %#v, want nil (a 0 timeout must not mean forever)", got)
	}
}

func TestWechatCacheRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	c := cache.NewWechatCache(rdb, "p:")
	if err := c.Set("k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	m.Close()

	if got := c.Get("k"); got != nil {
		t.Errorf("Get with Redis down = %#v, want untyped nil", got)
	}
	if c.IsExist("k") {
		t.Error("IsExist with Redis down = true")
	}
	if err := c.Set("k", "v", time.Minute); err == nil {
		t.Error("Set with Redis down = nil error")
	}
	if err := c.Delete("k"); err == nil {
		t.Error("Delete with Redis down = nil error")
	}
}

func TestWechatCacheContextBounded(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	c := cache.NewWechatCache(rdb, "p:")
	if err := c.Set("k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := c.GetContext(ctx, "k"); got != nil {
		t.Errorf("GetContext with a cancelled context = %#v, want nil", got)
	}
	if err := c.SetContext(ctx, "k", "v", time.Minute); err == nil {
		t.Error("SetContext with a cancelled context = nil error")
	}
}
