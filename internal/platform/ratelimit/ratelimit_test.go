package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/ratelimit"
)

// TestLimitPerKey runs on miniredis, or on the real Redis in CI.
func TestLimitPerKey(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	l := ratelimit.New(rdb, prefix)
	ctx := context.Background()
	rule := ratelimit.Rule{Name: "test", Limit: 3, Window: time.Minute}
	for i := 1; i <= 3; i++ {
		r, err := l.Allow(ctx, rule, "user-a")
		if err != nil || !r.Allowed || r.Count != i {
			t.Fatalf("hit %d: %+v, %v; want allowed with count %d", i, r, err, i)
		}
	}
	r, err := l.Allow(ctx, rule, "user-a")
	if err != nil || r.Allowed || r.Count != 4 {
		t.Fatalf("hit 4: %+v, %v; want denied", r, err)
	}
	if r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
		t.Fatalf("retry after %v, want within the window", r.RetryAfter)
	}
	if r, err := l.Allow(ctx, rule, "user-b"); err != nil || !r.Allowed {
		t.Fatalf("another key: %+v, %v; want allowed", r, err)
	}
	other := ratelimit.Rule{Name: "other", Limit: 1, Window: time.Minute}
	if r, err := l.Allow(ctx, other, "user-a"); err != nil || !r.Allowed {
		t.Fatalf("another rule, same key: %+v, %v; want allowed", r, err)
	}
	ttl := rdb.PTTL(ctx, prefix+"ratelimit:test:user-a").Val()
	if ttl <= 0 || ttl > time.Minute {
		t.Fatalf("key TTL %v, want the window", ttl)
	}
	if _, err := l.Allow(ctx, ratelimit.Rule{Name: "bad"}, "x"); err == nil {
		t.Fatal("a rule without limit or window was accepted")
	}
}

func TestWindowEnds(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	l := ratelimit.New(rdb, "t:")
	ctx := context.Background()
	rule := ratelimit.Rule{Name: "w", Limit: 1, Window: time.Minute}
	if r, _ := l.Allow(ctx, rule, "k"); !r.Allowed {
		t.Fatal("first hit denied")
	}
	if r, _ := l.Allow(ctx, rule, "k"); r.Allowed {
		t.Fatal("second hit allowed")
	}
	mr.FastForward(61 * time.Second)
	if r, _ := l.Allow(ctx, rule, "k"); !r.Allowed || r.Count != 1 {
		t.Fatalf("after the window: %+v, want a fresh count", r)
	}
	// A key that lost its expiry (e.g. restored without TTLs) gets one back.
	mr.Set("t:ratelimit:w:stuck", "5")
	if r, _ := l.Allow(ctx, rule, "stuck"); r.Allowed || r.RetryAfter != time.Minute {
		t.Fatalf("stuck key: %+v", r)
	}
	if ttl := mr.TTL("t:ratelimit:w:stuck"); ttl != time.Minute {
		t.Fatalf("stuck key TTL %v, want a minute", ttl)
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	mr.Close()
	if _, err := ratelimit.New(rdb, "t:").Allow(context.Background(), ratelimit.Rule{Name: "x", Limit: 1, Window: time.Second}, "k"); err == nil {
		t.Fatal("no error with Redis down")
	}
}
