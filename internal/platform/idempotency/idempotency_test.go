package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/idempotency"
	"github.com/carepath/carepath/internal/platform/outbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

// work writes one outbox event, a side effect the test can count.
func work(payload string) func(tx *gorm.DB) (int, any, error) {
	return func(tx *gorm.DB) (int, any, error) {
		if err := outbox.Add(tx, "test.work", "", map[string]string{"p": payload}); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, map[string]string{"done": payload}, nil
	}
}

func effects(t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Model(&outbox.Event{}).Where("topic = ?", "test.work").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSameKeyReplaysTheFirstResponse(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := idempotency.NewStore(db, time.Now)
	k := idempotency.Key{ActorID: "user-1", Key: "k-1", Hash: idempotency.Hash([]byte("a"))}

	first, err := s.Do(ctx, k, work("first"))
	if err != nil || first.Replayed || first.Status != http.StatusCreated || string(first.Body) != `{"done":"first"}` {
		t.Fatalf("first: %+v %s, %v", first, first.Body, err)
	}
	again, err := s.Do(ctx, k, work("second"))
	if err != nil || !again.Replayed || again.Status != first.Status || string(again.Body) != string(first.Body) {
		t.Fatalf("retry: %+v %s, %v; want the first response replayed", again, again.Body, err)
	}
	if n := effects(t, db); n != 1 {
		t.Fatalf("work ran %d times, want once", n)
	}

	// The same key with another request is a conflict; nothing runs.
	other := k
	other.Hash = idempotency.Hash([]byte("b"))
	if _, err := s.Do(ctx, other, work("other")); !errors.Is(err, idempotency.ErrKeyReused) || apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("same key, other body: %v; want ErrKeyReused (409)", err)
	}
	// Keys belong to their actor: another actor's equal key is a new request.
	mine := k
	mine.ActorID = "user-2"
	if out, err := s.Do(ctx, mine, work("user-2")); err != nil || out.Replayed {
		t.Fatalf("another actor's key: %+v, %v", out, err)
	}
	// No key: the work runs every time.
	for i := 0; i < 2; i++ {
		if _, err := s.Do(ctx, idempotency.Key{ActorID: "user-1"}, work("keyless")); err != nil {
			t.Fatal(err)
		}
	}
	if n := effects(t, db); n != 4 {
		t.Fatalf("effects = %d, want 4", n)
	}
}

func TestFailedWorkLeavesNothingAndFreesTheKey(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := idempotency.NewStore(db, time.Now)
	k := idempotency.Key{ActorID: "user-1", Key: "k-fail", Hash: idempotency.Hash([]byte("a"))}
	boom := errors.New("boom")
	_, err := s.Do(ctx, k, func(tx *gorm.DB) (int, any, error) {
		if _, _, err := work("half")(tx); err != nil {
			return 0, nil, err
		}
		return 0, nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if n := effects(t, db); n != 0 {
		t.Fatalf("a failed request left %d effects", n)
	}
	// A corrected request may reuse the key: nothing was remembered.
	k.Hash = idempotency.Hash([]byte("corrected"))
	if out, err := s.Do(ctx, k, work("ok")); err != nil || out.Replayed {
		t.Fatalf("retry after failure: %+v, %v", out, err)
	}
}

// concurrently sends eight requests with key k at once.
func concurrently(ctx context.Context, s *idempotency.Store, k idempotency.Key, w func(tx *gorm.DB) (int, any, error)) ([]idempotency.Outcome, []error) {
	const n = 8
	var wg sync.WaitGroup
	outs := make([]idempotency.Outcome, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = s.Do(ctx, k, w)
		}()
	}
	wg.Wait()
	return outs, errs
}

func TestConcurrentRequestsWithOneKeyRunOnce(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := idempotency.NewStore(db, time.Now)
	k := idempotency.Key{ActorID: "user-1", Key: "k-race", Hash: idempotency.Hash([]byte("a"))}
	outs, errs := concurrently(ctx, s, k, work("race"))
	fresh := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if !outs[i].Replayed {
			fresh++
		}
		if string(outs[i].Body) != `{"done":"race"}` {
			t.Fatalf("request %d body %s", i, outs[i].Body)
		}
	}
	if fresh != 1 || effects(t, db) != 1 {
		t.Fatalf("%d fresh responses and %d effects, want exactly one of each", fresh, effects(t, db))
	}
}

// A request whose work runs into the effect of a concurrent request with the
// same key (a second answer to one questionnaire) replays that request's
// answer instead of failing.
func TestConcurrentRequestWhoseWorkConflictsReplays(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	s := idempotency.NewStore(db, time.Now)
	k := idempotency.Key{ActorID: "user-1", Key: "k-once", Hash: idempotency.Hash([]byte("a"))}
	already := apperr.New(apperr.KindConflict, "already_done", "已完成")
	once := func(tx *gorm.DB) (int, any, error) {
		var n int64
		if err := tx.Model(&outbox.Event{}).Where("topic = ?", "test.work").Count(&n).Error; err != nil {
			return 0, nil, err
		}
		if n > 0 {
			return 0, nil, already
		}
		return work("once")(tx)
	}
	outs, errs := concurrently(ctx, s, k, once)
	for i := range outs {
		if errs[i] != nil || string(outs[i].Body) != `{"done":"once"}` {
			t.Fatalf("request %d: %s, %v; want the first answer", i, outs[i].Body, errs[i])
		}
	}
	if effects(t, db) != 1 {
		t.Fatalf("%d effects, want one", effects(t, db))
	}
}

func TestPurgeForgetsOldKeys(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	s := idempotency.NewStore(db, clock)
	k := idempotency.Key{ActorID: "user-1", Key: "old", Hash: "h"}
	if _, err := s.Do(ctx, k, work("old")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(idempotency.Retention + time.Hour)
	if n, err := s.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v; want 1", n, err)
	}
	if out, err := s.Do(ctx, k, work("new")); err != nil || out.Replayed {
		t.Fatalf("after purge the key is new again: %+v, %v", out, err)
	}
}

func TestValidKey(t *testing.T) {
	for k, want := range map[string]bool{
		"": false, "0190a6e2-7c1d-7b4e-9d6f-1a2b3c4d5e6f": true, "01J2ZK7Q8R": true, "a:b.c_d-e": true,
		"has space": false, "中文": false, "x" + string(make([]byte, 64)): false,
	} {
		if got := idempotency.ValidKey(k); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", k, got, want)
		}
	}
}
