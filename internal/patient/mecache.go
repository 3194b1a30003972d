package patient

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/cache"
)

// MeChangedChannel is the pub/sub channel that tells every instance that an
// account, a patient record, a family link or a staff account changed.
const MeChangedChannel = "me.changed"

// meTables are the tables a /me answer is read from.
var meTables = []string{"users", "patients", "family_links", "staff"}

// meSettle is when a write made in a transaction is announced: the
// statement runs before the commit, so a /me read between the two could keep
// what the commit replaces. A write outside one is announced at once.
const meSettle = 2 * time.Second

// meCacheLimit bounds the cache's memory.
const meCacheLimit = 100_000

// MeCache keeps each caller's encoded /me answer for a short TTL. /me is the
// mini-program's first call on every launch and three statements and a
// decrypt; its answer changes only when one of meTables is written. Every
// such write (seen by a gorm callback, whoever makes it; login bookkeeping
// aside) empties the cache here and on the other instances through pub/sub
// — a write in a transaction meSettle later, once committed — and the TTL
// bounds a lost hint. Entries are trusted only while the hints are
// subscribed.
type MeCache struct {
	ttl   time.Duration
	hints auth.Revocations
	log   *slog.Logger

	gen     atomic.Uint64 // bumped by every change: an answer read across one is not kept
	mu      sync.RWMutex
	live    bool
	entries map[string]meEntry
}

type meEntry struct {
	body  []byte
	until time.Time
}

// NewMeCache returns a cache keeping answers for ttl (0: none), sharing
// changes through hints.
func NewMeCache(ttl time.Duration, hints auth.Revocations, log *slog.Logger) *MeCache {
	if ttl <= 0 {
		return nil
	}
	return &MeCache{ttl: ttl, hints: hints, log: log, entries: map[string]meEntry{}}
}

func (c *MeCache) get(key string, now time.Time) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[key]
	if !c.live || !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.body, true
}

// version is read before an answer is built; put keeps the answer only if
// nothing changed meanwhile.
func (c *MeCache) version() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

func (c *MeCache) put(key string, body []byte, version uint64, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen.Load() != version {
		return
	}
	if len(c.entries) >= meCacheLimit {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= meCacheLimit {
			return
		}
	}
	c.entries[key] = meEntry{body: body, until: now.Add(c.ttl)}
}

// drop forgets every answer.
func (c *MeCache) drop() {
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// changed drops every answer here and tells the other instances.
func (c *MeCache) changed(ctx context.Context) {
	c.drop()
	if err := c.hints.Publish(context.WithoutCancel(ctx), MeChangedChannel, []byte("1")); err != nil {
		c.log.Warn("/me change hint not published; other instances keep answers up to their TTL", "error", err.Error())
	}
}

// Listen drops answers when other instances report changes, until ctx ends;
// while it is not subscribed nothing is kept. It retries every retry.
func (c *MeCache) Listen(ctx context.Context, retry time.Duration) {
	if c == nil {
		return
	}
	cache.Follow(ctx, c.hints, MeChangedChannel, retry, c.setLive, func([]byte) { c.drop() }, func(error) {})
}

func (c *MeCache) setLive(live bool) {
	c.drop()
	c.mu.Lock()
	c.live = live
	c.mu.Unlock()
}

// Live reports whether answers are kept (the hints are subscribed).
func (c *MeCache) Live() bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.live
}

// WatchWrites registers gorm callbacks that report every write to meTables
// through db, by model, table or raw SQL, as a change.
func (c *MeCache) WatchWrites(db *gorm.DB) error {
	if c == nil {
		return nil
	}
	watch := func(tx *gorm.DB) {
		if tx.Error != nil || !touchesMe(tx.Statement) || loginBookkeepingOnly(tx.Statement) {
			return
		}
		if _, inTx := tx.Statement.ConnPool.(gorm.TxCommitter); inTx {
			// Not committed yet: drop here now, and tell every instance (this
			// one again: a read meanwhile kept the old answer) once it surely is.
			c.drop()
			time.AfterFunc(meSettle, func() { c.changed(context.Background()) })
			return
		}
		ctx := tx.Statement.Context
		if ctx == nil {
			ctx = context.Background()
		}
		c.changed(ctx)
	}
	// After gorm's own transaction around a single write has committed (its
	// ConnPool is then the pool again); inside the caller's transaction it is
	// still that *sql.Tx. Named per cache: instances of one process (tests)
	// may share a *gorm.DB.
	name := fmt.Sprintf("carepath:me_cache:%p", c)
	cb := db.Callback()
	if err := cb.Create().After("gorm:commit_or_rollback_transaction").Register(name, watch); err != nil {
		return err
	}
	if err := cb.Update().After("gorm:commit_or_rollback_transaction").Register(name, watch); err != nil {
		return err
	}
	if err := cb.Delete().After("gorm:commit_or_rollback_transaction").Register(name, watch); err != nil {
		return err
	}
	return cb.Raw().After("gorm:raw").Register(name, watch)
}

// loginBookkeeping are the columns a login writes (users and staff) that no
// /me answer shows.
var loginBookkeeping = map[string]bool{"last_login_at": true, "failed_logins": true, "locked_until": true, "updated_at": true}

// loginBookkeepingOnly reports whether a statement is an update of users' or
// staff's login bookkeeping alone (gorm's Update and Updates with a map): it
// changes no answer, and would otherwise empty every instance's cache at
// every login.
func loginBookkeepingOnly(st *gorm.Statement) bool {
	if st.Table != "users" && st.Table != "staff" {
		return false
	}
	set, ok := st.Dest.(map[string]any)
	if !ok || len(set) == 0 {
		return false
	}
	for column := range set {
		if !loginBookkeeping[column] {
			return false
		}
	}
	return true
}

// touchesMe reports whether a statement writes one of meTables. Raw SQL is
// matched on its text; a false alarm only empties the cache.
func touchesMe(st *gorm.Statement) bool {
	for _, t := range meTables {
		if st.Table == t {
			return true
		}
	}
	if st.Table != "" {
		return false
	}
	sql := strings.ToLower(st.SQL.String())
	if !strings.HasPrefix(strings.TrimSpace(sql), "select") {
		for _, t := range meTables {
			if strings.Contains(sql, t) {
				return true
			}
		}
	}
	return false
}
