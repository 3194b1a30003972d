package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Once remembers keys for a while in Redis, shared by every instance: the
// first use of a key within its TTL is told apart from the ones after it
// (e.g. a signed request's nonce, so that a replay is not acted on twice).
type Once struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewOnce returns a Once keeping its keys under prefix.
func NewOnce(rdb redis.UniversalClient, prefix string) *Once {
	return &Once{rdb: rdb, prefix: prefix}
}

func (o *Once) key(parts []string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return o.prefix + hex.EncodeToString(h.Sum(nil))
}

// First records the key made of parts for ttl and reports whether this is
// its first use. An error (Redis down) records nothing.
func (o *Once) First(ctx context.Context, ttl time.Duration, parts ...string) (bool, error) {
	ok, err := o.rdb.SetNX(ctx, o.key(parts), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("once: %w", err)
	}
	return ok, nil
}

// Forget drops the key, so that its next use is a first one again (the work
// its first use stood for failed).
func (o *Once) Forget(ctx context.Context, parts ...string) error {
	if err := o.rdb.Del(ctx, o.key(parts)).Err(); err != nil {
		return fmt.Errorf("once: %w", err)
	}
	return nil
}
