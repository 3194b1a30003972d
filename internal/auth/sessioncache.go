package auth

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"time"

	"github.com/carepath/carepath/internal/platform/cache"
)

// Revocations carries "this subject's sessions changed" between instances
// (Redis pub/sub in production): at most once, so the cache's TTL is the bound
// when a hint is lost, for example while Redis is down.
type Revocations interface {
	Publish(ctx context.Context, channel string, msg []byte) error
	Subscribe(ctx context.Context, channel string) (<-chan []byte, func(), error)
}

// RevocationChannel is the pub/sub channel of session revocations.
const RevocationChannel = "auth.revoked"

// sessionCacheLimit bounds the cache's memory: past it, new sessions are
// checked against the database every time until entries expire.
const sessionCacheLimit = 100_000

// sessionCache remembers, for a short TTL, that a session was valid and
// whose it was, so that a request costs no session and account reads.
// Bearer sessions are found by session id, admin-page cookies by
// "cookie:" + the cookie's hash. A revocation on this instance evicts at
// once; on other instances through Revocations, or at worst after the TTL.
type sessionCache struct {
	ttl time.Duration

	mu      sync.RWMutex
	live    bool // subscribed to revocations: entries may be trusted
	entries map[string]cachedSession
}

type cachedSession struct {
	actor Actor
	until time.Time
	// Cookie sessions only: what AuthenticateCookie checks besides the account.
	csrf      string
	expiresAt time.Time
	lastSeen  time.Time
}

func newSessionCache(ttl time.Duration) *sessionCache {
	return &sessionCache{ttl: ttl, entries: map[string]cachedSession{}}
}

func cookieKey(secretHash string) string { return "cookie:" + secretHash }

// tokenKey finds an access token already verified: its signature and claims
// cost ~20 µs and 64 allocations to check, a digest well under one. The
// entry carries the actor with its session id, so revoking the session
// evicts it, and it ends when the token expires.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + string(sum[:])
}

func (c *sessionCache) get(key string, now time.Time) (cachedSession, bool) {
	if c == nil {
		return cachedSession{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[key]
	live := c.live
	c.mu.RUnlock()
	if !live || !ok || !now.Before(e.until) {
		return cachedSession{}, false
	}
	return e, true
}

func (c *sessionCache) put(key string, e cachedSession, now time.Time) {
	c.putUntil(key, e, now, time.Time{})
}

// putUntil is put with the entry ending at limit when that comes before the
// TTL (a token's expiry); a zero limit is no limit.
func (c *sessionCache) putUntil(key string, e cachedSession, now, limit time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return
	}
	if len(c.entries) >= sessionCacheLimit {
		c.dropExpired(now)
		if len(c.entries) >= sessionCacheLimit {
			return
		}
	}
	e.until = now.Add(c.ttl)
	if !limit.IsZero() && limit.Before(e.until) {
		e.until = limit
	}
	c.entries[key] = e
}

// seen records a cookie session's new last-seen time without extending the entry.
func (c *sessionCache) seen(key string, at time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.lastSeen = at
		c.entries[key] = e
	}
}

func (c *sessionCache) dropExpired(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, k)
		}
	}
}

// forget evicts a revocation: a session id, or every session of a subject
// ("user:<id>", "staff:<id>"). Revocations are rare; a scan is fine.
func (c *sessionCache) forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if k == key || e.actor.SessionID == key || subjectKey(e.actor.Kind, e.actor.ID) == key {
			delete(c.entries, k)
		}
	}
}

// reset empties the cache and says whether its entries may be trusted.
func (c *sessionCache) reset(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	clear(c.entries)
}

func subjectKey(kind ActorKind, id string) string { return string(kind) + ":" + id }

// UseRevocations turns the session cache on (Config.SessionCacheTTL) and
// shares this instance's revocations through r; log reports a hint that
// could not be published. The cache is trusted only while ListenRevocations
// is subscribed.
func (s *Service) UseRevocations(r Revocations, log *slog.Logger) {
	s.revocations, s.log = r, log
	if s.cfg.SessionCacheTTL > 0 {
		s.sessions = newSessionCache(s.cfg.SessionCacheTTL)
	}
}

// ListenRevocations evicts the sessions other instances revoke, until ctx
// ends. While it is not subscribed (Redis down at start) every request reads
// its session; it retries every retry.
func (s *Service) ListenRevocations(ctx context.Context, retry time.Duration) {
	if s.sessions == nil {
		return
	}
	cache.Follow(ctx, s.revocations, RevocationChannel, retry, s.sessions.reset,
		func(key []byte) { s.sessions.forget(string(key)) },
		func(err error) {
			s.log.Warn("session revocations not subscribed; sessions are read on every request", "error", err.Error())
		})
}

// SessionsEnded tells every instance's cache that a subject's sessions were
// revoked or its account closed; call it after the change is committed.
func (s *Service) SessionsEnded(ctx context.Context, kind ActorKind, id string) {
	s.forget(ctx, subjectKey(kind, id))
}

func (s *Service) forget(ctx context.Context, key string) {
	if s.sessions == nil {
		return
	}
	s.sessions.forget(key)
	if err := s.revocations.Publish(ctx, RevocationChannel, []byte(key)); err != nil {
		// The database already refuses the session; other instances stop
		// trusting their copy within SessionCacheTTL.
		s.log.Warn("session revocation not published", "error", err.Error())
	}
}

// SessionCacheLive says whether checked sessions are being cached: the cache
// is on and subscribed to revocations.
func (s *Service) SessionCacheLive() bool {
	if s.sessions == nil {
		return false
	}
	s.sessions.mu.RLock()
	defer s.sessions.mu.RUnlock()
	return s.sessions.live
}
