// Package idempotency makes a retried write return its first result, after
// Stripe's design: the client sends a key with a write; the key, a hash of
// what was asked and the first response are stored in the same transaction
// as the work, so the work and its record commit or vanish together. A retry
// with the same key and the same request replays the stored response; the
// same key with a different request is a 409. Keys are scoped to the actor
// who sent them. It knows nothing of HTTP or of any feature.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
)

const (
	// Header is the request header that carries the key.
	Header = "Idempotency-Key"
	// ReplayedHeader marks a response that replays a stored one.
	ReplayedHeader = "Idempotent-Replayed"
	// MaxKeyLength bounds a client-chosen key.
	MaxKeyLength = 64
	// Retention is how long a key is remembered. Readings may be sent up to
	// 30 days after they were taken, so a mini-program's offline queue can
	// retry well within it.
	Retention = 45 * 24 * time.Hour
	// TaskPurge is the periodic task that forgets keys past Retention.
	TaskPurge = "idempotency:purge"
)

// ErrKeyReused answers a key sent again with a different request.
var ErrKeyReused = apperr.New(apperr.KindConflict, "idempotency_key_reused", "该幂等键已用于另一个内容不同的请求，请为新请求生成新的键")

// Record is one remembered request.
type Record struct {
	ActorID     string
	IdemKey     string
	RequestHash string
	Status      int
	Response    []byte
	CreatedAt   time.Time
}

func (Record) TableName() string { return "idempotency_keys" }

// Key identifies one idempotent request. An empty Key makes Do run the work
// without remembering it.
type Key struct {
	ActorID string
	Key     string
	Hash    string // of what the request asks for; see Hash
}

// Outcome is a response: fresh, or the stored first one replayed.
type Outcome struct {
	Status   int
	Body     []byte // JSON
	Replayed bool
}

// Write sends the stored answer as it was first given, marking a replay.
func (o Outcome) Write(w http.ResponseWriter) {
	if o.Replayed {
		w.Header().Set(ReplayedHeader, "true")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(o.Status)
	_, _ = w.Write(o.Body)
}

// ValidKey reports whether k is an acceptable client key: 1 to 64 characters
// of letters, digits and - _ . : (UUIDs and ULIDs fit).
func ValidKey(k string) bool {
	if k == "" || len(k) > MaxKeyLength {
		return false
	}
	for _, r := range k {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.' || r == ':') {
			return false
		}
	}
	return true
}

// Hash digests the parts of a request that must match on a retry.
func Hash(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Store remembers keys.
type Store struct {
	db     *gorm.DB
	now    func() time.Time
	sealer Sealer
}

// Sealer encrypts stored responses at rest (fieldcrypt).
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(sealed string) (string, error)
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB, now func() time.Time) *Store { return &Store{db: db, now: now} }

// Sealed returns a store that seals the responses it remembers (they repeat
// what the request stored: answers, readings) and opens them on replay.
// A stored response that is valid JSON was written unsealed and is replayed
// as it is (a sealed value, "keyid:base64", never is); keys expire after
// Retention, so no old response needs resealing.
func (s *Store) Sealed(sealer Sealer) *Store { return &Store{db: s.db, now: s.now, sealer: sealer} }

// errKeyTaken says a concurrent request with the same key committed first.
var errKeyTaken = errors.New("idempotency key taken by a concurrent request")

// Do runs work at most once per (actor, key): in one transaction it runs
// work and stores the key with work's status and JSON response, in one
// INSERT after the work (a claim first and an update after would be two).
// A key seen before replays the stored response, or fails with ErrKeyReused
// when the hash differs. When work fails nothing is stored, so the client
// may retry (or correct the request) with the same key. Two requests with
// one key at once: the second's INSERT waits for the first to commit and
// fails on the unique key, its work is rolled back and it replays the
// first's answer; when its work failed first (the first's effect is
// already there), the stored answer is replayed too.
func (s *Store) Do(ctx context.Context, k Key, work func(tx *gorm.DB) (int, any, error)) (Outcome, error) {
	if k.Key != "" {
		if out, ok, err := s.replay(ctx, k); err != nil || ok {
			return out, err
		}
	}
	var out Outcome
	var err error
	// A deadlock victim was rolled back whole: run it again, a few times.
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.run(ctx, k, work, &out); !database.IsDeadlock(err) {
			break
		}
	}
	if errors.Is(err, errKeyTaken) {
		// The other request has committed (the unique key waited for it): answer as it did.
		out, ok, rerr := s.replay(ctx, k)
		if rerr != nil || ok {
			return out, rerr
		}
		return Outcome{}, fmt.Errorf("idempotency key %s: taken but not found", k.Key)
	}
	if err != nil && k.Key != "" {
		// A concurrent request with this key may have committed while this
		// work ran into its effect (a second answer, a second cancel).
		if out, ok, rerr := s.replay(ctx, k); ok || errors.Is(rerr, ErrKeyReused) {
			return out, rerr
		}
	}
	if err != nil {
		return Outcome{}, err
	}
	return out, nil
}

// run is one attempt of Do's transaction.
func (s *Store) run(ctx context.Context, k Key, work func(tx *gorm.DB) (int, any, error), out *Outcome) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		status, v, err := work(tx)
		if err != nil {
			return err
		}
		body, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
		if k.Key != "" {
			stored := body
			if s.sealer != nil {
				sealed, err := s.sealer.Seal(string(body))
				if err != nil {
					return fmt.Errorf("seal idempotent response: %w", err)
				}
				stored = []byte(sealed)
			}
			rec := Record{ActorID: k.ActorID, IdemKey: k.Key, RequestHash: k.Hash, Status: status, Response: stored, CreatedAt: s.now().UTC()}
			if err := tx.Create(&rec).Error; err != nil {
				if errors.Is(err, gorm.ErrDuplicatedKey) {
					return errKeyTaken
				}
				return fmt.Errorf("store idempotency key: %w", err)
			}
		}
		*out = Outcome{Status: status, Body: body}
		return nil
	})
}

func (s *Store) replay(ctx context.Context, k Key) (Outcome, bool, error) {
	var rec Record
	err := s.db.WithContext(ctx).Where("actor_id = ? AND idem_key = ?", k.ActorID, k.Key).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Outcome{}, false, nil
	}
	if err != nil {
		return Outcome{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	if rec.RequestHash != k.Hash {
		return Outcome{}, false, ErrKeyReused
	}
	body := rec.Response
	if !json.Valid(body) {
		if s.sealer == nil {
			return Outcome{}, false, errors.New("idempotency: sealed response and no key to open it")
		}
		plain, err := s.sealer.Open(string(body))
		if err != nil {
			return Outcome{}, false, fmt.Errorf("open idempotent response: %w", err)
		}
		body = []byte(plain)
	}
	return Outcome{Status: rec.Status, Body: body, Replayed: true}, true, nil
}

// Purge forgets keys older than Retention and returns how many went.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("created_at < ?", s.now().UTC().Add(-Retention)).Delete(&Record{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// ErrBadKey answers a key that is not ValidKey.
var ErrBadKey = apperr.Invalid(Header, "invalid_idempotency_key", "幂等键必须是 1 到 64 个字母、数字或 - _ . : 字符")

// CheckKey is nil for no key or a valid one, else ErrBadKey.
func CheckKey(k string) error {
	if k != "" && !ValidKey(k) {
		return ErrBadKey
	}
	return nil
}
