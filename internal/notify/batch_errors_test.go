package notify_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/notify"
)

// failPushLogUpdates runs fn after each update of push_log that succeeded
// so far (fn may add an error to it: the statement fails) until the test ends.
func failPushLogUpdates(t *testing.T, e *env, fn func(db *gorm.DB, sql string)) {
	t.Helper()
	cb := func(db *gorm.DB) {
		if db.Statement.Table == "push_log" && db.Error == nil {
			fn(db, db.Statement.SQL.String())
		}
	}
	if err := e.App.DB.Callback().Update().After("gorm:update").Register("test:fail_push_log", cb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.App.DB.Callback().Update().Remove("test:fail_push_log") })
}

var errDeadlock = errors.New("Error 1213: Deadlock found (injected)")

// batchPushes are the pushes of the one pending batch task, in the order it
// sends them.
func batchPushes(t *testing.T, e *env) []notify.Push {
	t.Helper()
	var payload struct {
		PushIDs []string `json:"push_ids"`
	}
	if err := json.Unmarshal(e.q.pending()[0].payload, &payload); err != nil {
		t.Fatal(err)
	}
	out := make([]notify.Push, len(payload.PushIDs))
	for i, id := range payload.PushIDs {
		if err := e.App.DB.First(&out[i], "id = ?", id).Error; err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestBatchFallbackClaimFailingSettlesOnce: chunk 2's claim falls back to
// one push at a time (a credit went meanwhile) and one of those claims fails
// (a deadlock). Chunk 1's answer (WeChat busy: retrying, credit given back)
// is recorded once: not one refund and one attempt too many.
func TestBatchFallbackClaimFailingSettlesOnce(t *testing.T) {
	e, users, openIDs := batchEnv(t)
	e.App.Notify.TuneSends(64, 1) // one push a chunk
	e.Fake.FailNextSend(openIDs[0], -1)
	settles := 0
	failPushLogUpdates(t, e, func(db *gorm.DB, sql string) {
		switch {
		case strings.Contains(sql, "status IN"):
			if strings.Contains(sql, "id = ?") && settles > 0 { // a claim of one push
				db.AddError(errDeadlock)
			}
		default: // a settlement
			settles++
			if settles == 1 { // chunk 2's transaction: patient2's credit goes, the claim falls back
				db.Session(&gorm.Session{NewDB: true}).Exec("UPDATE push_subscriptions SET quota = 0 WHERE user_id = ?", users[1])
			}
		}
	})
	if errs := e.run(t); len(errs) == 0 {
		t.Fatal("the failed claim did not ask for the batch to run again")
	}
	p1 := e.pushes(t, "batch:patient1")[0]
	var attempts int64
	if err := e.App.DB.Model(&notify.Attempt{}).Where("push_id = ?", p1.ID).Count(&attempts).Error; err != nil {
		t.Fatal(err)
	}
	if q := e.quota(t, users[0], notify.KindQuestionnaireDue); p1.Status != notify.StatusRetrying || q != 1 || p1.Attempts != 1 || attempts != 1 {
		t.Errorf("patient1's push: %s, credits %d, attempts %d, attempt rows %d; want retrying, 1, 1, 1 (recorded once)",
			p1.Status, q, p1.Attempts, attempts)
	}
}

// TestBatchFallbackClaimFailingLosesNoPush: two pushes to one user with two
// credits are claimed one at a time; the second claim fails (a deadlock).
// The first is not left claimed but never sent (the redelivery would record
// it interrupted): the redelivered batch sends both, once each.
func TestBatchFallbackClaimFailingLosesNoPush(t *testing.T) {
	e := newEnv(t)
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	e.subscribe(t, e.LoginWeChat("patient1").AccessToken, notify.KindQuestionnaireDue, "accept", 2)
	var reqs []notify.Request
	for _, key := range []string{"q-a", "q-b"} {
		reqs = append(reqs, notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: p1, Recipients: []string{u1}, DedupeKey: key, At: e.Clock.Now()})
	}
	if _, err := e.App.Notify.HandleBatch(t.Context(), reqs); err != nil {
		t.Fatal(err)
	}
	claims := 0
	failPushLogUpdates(t, e, func(db *gorm.DB, sql string) {
		if strings.Contains(sql, "id = ? AND status IN") {
			if claims++; claims == 2 {
				db.AddError(errDeadlock)
			}
		}
	})
	if errs := e.run(t); len(errs) == 0 {
		t.Fatal("the failed claim did not ask for the batch to run again")
	}
	for _, tk := range e.q.pending() {
		tk.done = false // asynq runs the batch again
	}
	if errs := e.run(t); len(errs) > 0 {
		t.Fatalf("the redelivered batch: %v", errs)
	}
	for _, key := range []string{"q-a", "q-b"} {
		if p := e.pushes(t, key)[0]; p.Status != notify.StatusSent {
			t.Errorf("%s: %s, want sent", key, p.Status)
		}
	}
	if n, q := e.sentTo("fake-openid-patient1"), e.quota(t, u1, notify.KindQuestionnaireDue); n != 2 || q != 0 {
		t.Errorf("%d messages sent, %d credits left; want 2 and 0", n, q)
	}
}

// TestBatchCheckErrorKeepsThePreviousChunksAnswers: an error while chunk 2
// is checked (here recording a push found claimed as interrupted; a
// relative's receive_push query could fail too) does not lose chunk 1's
// answer: WeChat's "busy" is recorded (retrying, credit given back) and the
// push is retried until it goes.
func TestBatchCheckErrorKeepsThePreviousChunksAnswers(t *testing.T) {
	e, users, openIDs := batchEnv(t)
	e.App.Notify.TuneSends(64, 1) // one push a chunk
	ps := batchPushes(t, e)
	first, second := ps[0], ps[1]
	// The second push is found claimed (a send that died): checking it
	// records it interrupted, which fails.
	if got, err := e.App.Notify.Store.Claim(t.Context(), second, true, e.Clock.Now()); err != nil || got != notify.Claimed {
		t.Fatalf("Claim = %d, %v", got, err)
	}
	firstUser := -1
	for i, u := range users {
		if u == first.UserID {
			firstUser = i
			e.Fake.FailNextSend(openIDs[i], -1) // busy once
		}
	}
	failPushLogUpdates(t, e, func(db *gorm.DB, sql string) {
		if strings.Contains(sql, "status = ?") { // Interrupt
			db.AddError(errDeadlock)
		}
	})
	if errs := e.run(t); len(errs) == 0 {
		t.Fatal("the failed check did not ask for the batch to run again")
	}
	p := e.pushes(t, first.DedupeKey)[0]
	if q := e.quota(t, first.UserID, notify.KindQuestionnaireDue); p.Status != notify.StatusRetrying || p.Attempts != 1 || q != 1 {
		t.Fatalf("the first push after the failed batch: %s, %d attempts, %d credits; want retrying, 1, 1", p.Status, p.Attempts, q)
	}
	for range 3 {
		for _, tk := range e.q.pending() {
			tk.done = false
		}
		e.run(t)
	}
	if p := e.pushes(t, first.DedupeKey)[0]; p.Status != notify.StatusSent || e.sentTo(openIDs[firstUser]) != 1 {
		t.Errorf("the first push: %s, sent %d times; want sent once after a retry", p.Status, e.sentTo(openIDs[firstUser]))
	}
}

// TestBatchFollowUpErrorSendsTheClaimedChunk: enqueuing the retry of chunk
// 1's push (WeChat busy) fails once, after chunk 2 is claimed. Chunk 2 is
// still sent and recorded, not left claimed (the redelivery would record it
// interrupted); the batch run again sends what is left, each push once.
func TestBatchFollowUpErrorSendsTheClaimedChunk(t *testing.T) {
	e, _, openIDs := batchEnv(t)
	e.App.Notify.TuneSends(64, 1) // one push a chunk
	ps := batchPushes(t, e)
	first := ps[0]
	for _, o := range openIDs {
		if e.Demo.Users[o] == first.UserID {
			e.Fake.FailNextSend(o, -1) // busy once
		}
	}
	failed := false
	e.q.fail = func(id string) error {
		if id == "push:"+first.ID+":retry" && !failed {
			failed = true
			return errors.New("redis: connection refused (injected)")
		}
		return nil
	}
	if errs := e.run(t); len(errs) == 0 || !failed {
		t.Fatalf("the failed enqueue (%v) did not ask for the batch to run again: %v", failed, errs)
	}
	if second := e.pushes(t, ps[1].DedupeKey)[0]; second.Status != notify.StatusSent {
		t.Fatalf("the second push, claimed when the enqueue failed: %s, want sent", second.Status)
	}
	for range 3 {
		for _, tk := range e.q.pending() {
			tk.done = false
		}
		e.run(t)
	}
	for _, o := range openIDs {
		if n := e.sentTo(o); n != 1 {
			t.Errorf("%s: %d messages, want 1", o, n)
		}
	}
}
