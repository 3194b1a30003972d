// Package ratelimit counts attempts in Redis, so that every instance of the
// service shares one count: a fixed window per key (INCR, with the window set
// as the key's expiry on the first hit), done atomically in one Lua script.
// It knows nothing of HTTP or of what is being limited.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rule is one limit: at most Limit hits per Window for each key.
type Rule struct {
	Name   string // part of the Redis key, e.g. "invitation_code:user"
	Limit  int
	Window time.Duration
}

// Result is the outcome of one hit.
type Result struct {
	Allowed    bool
	Count      int           // hits in the current window, this one included
	RetryAfter time.Duration // until the window ends; meaningful when !Allowed
}

// Limiter counts hits in Redis under a key prefix.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
}

// New returns a limiter whose keys start with prefix (e.g. "carepath:").
func New(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix + "ratelimit:"}
}

// hit increments the counter and starts the window on the first hit. A key
// that somehow lost its expiry gets one again, so a count can never stick.
var hit = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// Allow records one hit of key under rule and says whether it is within the
// limit. Hits over the limit still count, so hammering does not shorten the wait.
func (l *Limiter) Allow(ctx context.Context, rule Rule, key string) (Result, error) {
	window := rule.Window.Milliseconds()
	if window < 1 || rule.Limit < 1 {
		return Result{}, fmt.Errorf("ratelimit %s: limit and window must be positive", rule.Name)
	}
	vals, err := hit.Run(ctx, l.rdb, []string{l.prefix + rule.Name + ":" + key}, window).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit %s: %w", rule.Name, err)
	}
	if len(vals) != 2 {
		return Result{}, fmt.Errorf("ratelimit %s: unexpected reply %v", rule.Name, vals)
	}
	r := Result{Count: int(vals[0]), RetryAfter: time.Duration(vals[1]) * time.Millisecond}
	r.Allowed = r.Count <= rule.Limit
	return r, nil
}
