package notify_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/config"
)

// batchEnv subscribes patient1..3 to questionnaire_due (one credit each)
// and plans one reminder for each as the daily job does: one send task
// carrying the three pushes.
func batchEnv(t *testing.T, configure ...func(*config.Config)) (*env, []string, []string) {
	t.Helper()
	e := newEnv(t, configure...)
	var reqs []notify.Request
	var users, openIDs []string
	for _, name := range []string{"patient1", "patient2", "patient3"} {
		openID := "fake-openid-" + name
		u, p := e.Demo.Users[openID], e.Demo.Patients[name]
		if u == "" || p == "" {
			t.Fatalf("the demo has no %s", name)
		}
		e.subscribe(t, e.LoginWeChat(name).AccessToken, notify.KindQuestionnaireDue, "accept", 1)
		reqs = append(reqs, notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: p, Recipients: []string{u},
			DedupeKey: "batch:" + name, At: e.Clock.Now()})
		users, openIDs = append(users, u), append(openIDs, openID)
	}
	// Two planners of the same page: one task.
	for range 2 {
		if n, err := e.App.Notify.HandleBatch(context.Background(), reqs); err != nil || n != 3 {
			t.Fatalf("HandleBatch = %d, %v", n, err)
		}
	}
	tasks := e.q.pending()
	if len(tasks) != 1 {
		t.Fatalf("%d send tasks, want one batch", len(tasks))
	}
	var payload struct {
		PushIDs []string `json:"push_ids"`
	}
	if err := json.Unmarshal(tasks[0].payload, &payload); err != nil || len(payload.PushIDs) != 3 {
		t.Fatalf("batch task payload %s (%v), want three push ids", tasks[0].payload, err)
	}
	return e, users, openIDs
}

func (e *env) sentTo(openID string) int {
	n := 0
	for _, m := range e.Fake.Sent() {
		if m.ToOpenID == openID {
			n++
		}
	}
	return n
}

// TestBatchWithOneFailingPush: in a batch where WeChat fails one push for
// a while, the others go once; the failing one gets its credit back and is
// retried by a task of its own until it goes, once; running the batch again
// (a redelivery) sends nothing more.
func TestBatchWithOneFailingPush(t *testing.T) {
	e, users, openIDs := batchEnv(t)
	batch := e.q.pending()[0]
	e.Fake.FailNextSend(openIDs[1], -1)
	if errs := e.run(t); len(errs) > 0 {
		t.Fatalf("the batch asked for a retry of itself: %v", errs)
	}
	if e.sentTo(openIDs[0]) != 1 || e.sentTo(openIDs[2]) != 1 || e.sentTo(openIDs[1]) != 0 {
		t.Fatalf("after the batch: %+v, want patient1 and patient3 once", e.Fake.Sent())
	}
	p2 := e.pushes(t, "batch:patient2")[0]
	if p2.Status != notify.StatusRetrying || p2.Attempts != 1 {
		t.Fatalf("the failing push: %s after %d attempts, want retrying after 1", p2.Status, p2.Attempts)
	}
	if got := e.quota(t, users[1], notify.KindQuestionnaireDue); got != 1 {
		t.Fatalf("the failing push's credit: %d left, want 1 (given back)", got)
	}
	retry := e.q.pending()
	if len(retry) != 1 || string(retry[0].payload) != `{"push_id":"`+p2.ID+`"}` {
		t.Fatalf("pending after the batch: %d tasks, want the failing push's retry", len(retry))
	}
	if errs := e.run(t); len(errs) > 0 {
		t.Fatal(errs)
	}
	batch.done = false // the batch delivered again
	if errs := e.run(t); len(errs) > 0 {
		t.Fatal(errs)
	}
	for i, o := range openIDs {
		if got := e.sentTo(o); got != 1 {
			t.Errorf("%s got %d messages, want 1", o, got)
		}
		if got := e.quota(t, users[i], notify.KindQuestionnaireDue); got != 0 {
			t.Errorf("%s has %d credits left, want 0", o, got)
		}
	}
	for _, key := range []string{"batch:patient1", "batch:patient2", "batch:patient3"} {
		if p := e.pushes(t, key)[0]; p.Status != notify.StatusSent {
			t.Errorf("%s: %s, want sent", key, p.Status)
		}
	}
	if p := e.pushes(t, "batch:patient2")[0]; p.Attempts != 2 {
		t.Errorf("the retried push: %d attempts, want 2", p.Attempts)
	}
}

// TestBatchRedeliveredAfterAKill: a worker killed mid-batch left one push
// claimed: the redelivered batch records it interrupted and sends it never,
// sends the others once, and a third delivery sends nothing.
func TestBatchRedeliveredAfterAKill(t *testing.T) {
	e, users, openIDs := batchEnv(t)
	ctx := context.Background()
	claimed := e.pushes(t, "batch:patient2")[0]
	if got, err := e.App.Notify.Store.Claim(ctx, claimed, true, e.Clock.Now()); err != nil || got != notify.Claimed {
		t.Fatalf("Claim = %d, %v", got, err)
	}
	batch := e.q.pending()[0]
	for range 2 {
		batch.done = false
		if errs := e.run(t); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	if e.sentTo(openIDs[0]) != 1 || e.sentTo(openIDs[2]) != 1 || e.sentTo(openIDs[1]) != 0 {
		t.Fatalf("sent %+v, want patient1 and patient3 once, patient2 never", e.Fake.Sent())
	}
	if p := e.pushes(t, "batch:patient2")[0]; p.Status != notify.StatusInterrupted {
		t.Fatalf("the claimed push: %s, want interrupted", p.Status)
	}
	if got := e.quota(t, users[1], notify.KindQuestionnaireDue); got != 0 {
		t.Fatalf("the interrupted push's credit: %d left, want 0 (not given back)", got)
	}
}

// TestBatchKeepsTheDailyCapAndCredits: a user's two pushes in one batch
// with one credit send once; pushes of one batch to one patient count
// against the daily cap as they go.
func TestBatchKeepsTheDailyCapAndCredits(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Notify.DailyCap = 3 })
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	e.subscribe(t, tok, notify.KindQuestionnaireDue, "accept", 1)
	e.subscribe(t, tok, notify.KindAppointmentReminder, "accept", 5)
	plan := func(kind string, keys ...string) {
		t.Helper()
		var reqs []notify.Request
		for _, key := range keys {
			reqs = append(reqs, notify.Request{Kind: kind, PatientID: p1, Recipients: []string{u1}, DedupeKey: key, At: e.Clock.Now()})
		}
		if _, err := e.App.Notify.HandleBatch(context.Background(), reqs); err != nil {
			t.Fatal(err)
		}
	}
	status := func(key string) string { return e.pushes(t, key)[0].Status }

	plan(notify.KindQuestionnaireDue, "q-a", "q-b")
	if errs := e.run(t); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := []string{status("q-a"), status("q-b")}; !(got[0] == notify.StatusSent && got[1] == notify.StatusNoQuota) &&
		!(got[0] == notify.StatusNoQuota && got[1] == notify.StatusSent) {
		t.Fatalf("two pushes with one credit: %v, want one sent and one no_quota", got)
	}
	if got := e.quota(t, u1, notify.KindQuestionnaireDue); got != 0 {
		t.Fatalf("%d credits left, want 0", got)
	}

	plan(notify.KindAppointmentReminder, "a-a", "a-b", "a-c") // one sent today already; a cap of 3
	if errs := e.run(t); len(errs) > 0 {
		t.Fatal(errs)
	}
	sent, capped := 0, 0
	for _, key := range []string{"a-a", "a-b", "a-c"} {
		switch status(key) {
		case notify.StatusSent:
			sent++
		case notify.StatusCapped:
			capped++
		}
	}
	if sent != 2 || capped != 1 || len(e.Fake.Sent()) != 3 {
		t.Fatalf("batch of three under a cap of 3 with one sent today: %d sent, %d capped, %d messages; want 2, 1, 3", sent, capped, len(e.Fake.Sent()))
	}
}

// TestSettleAndClaimKeepsTheSettlementsWhenTheClaimFallsBack: a chunk's
// answers are recorded in the transaction that claims the next chunk; when
// that claim cannot be made at once (a push held by another delivery), it
// falls back to one push at a time and the answers still stand.
func TestSettleAndClaimKeepsTheSettlementsWhenTheClaimFallsBack(t *testing.T) {
	e, users, _ := batchEnv(t)
	ctx := context.Background()
	st := e.App.Notify.Store
	now := e.Clock.Now()
	p1, p2, p3 := e.pushes(t, "batch:patient1")[0], e.pushes(t, "batch:patient2")[0], e.pushes(t, "batch:patient3")[0]
	if got, err := st.ClaimBatch(ctx, []notify.Push{p1}, []bool{true}, now); err != nil || got[0] != notify.Claimed {
		t.Fatalf("ClaimBatch = %v, %v", got, err)
	}
	if got, err := st.Claim(ctx, p3, true, now); err != nil || got != notify.Claimed { // another delivery holds it
		t.Fatalf("Claim = %d, %v", got, err)
	}
	got, err := st.SettleAndClaim(ctx, []notify.Settlement{{Push: p1, Status: notify.StatusSent, Outcome: notify.StatusSent}},
		[]notify.Push{p2, p3}, []bool{true, true}, now)
	if err != nil || got[0] != notify.Claimed || got[1] != notify.ClaimedElsewhere {
		t.Fatalf("SettleAndClaim = %v, %v; want p2 claimed, p3 held elsewhere", got, err)
	}
	for key, want := range map[string]string{"batch:patient1": notify.StatusSent, "batch:patient2": notify.StatusSending, "batch:patient3": notify.StatusSending} {
		if p := e.pushes(t, key)[0]; p.Status != want {
			t.Errorf("%s: %s, want %s", key, p.Status, want)
		}
	}
	for i, want := range []int{0, 0, 0} {
		if got := e.quota(t, users[i], notify.KindQuestionnaireDue); got != want {
			t.Errorf("user %d: %d credits, want %d (one taken each, once)", i+1, got, want)
		}
	}
}

// TestStoppingWorkerDoesNotCutOffASend: the worker stops (the task's context
// ends) while WeChat is answering a batch's sends. The calls already made
// finish and are recorded sent — a call cut off would be settled for a retry
// and, had WeChat already taken it, delivered twice — and the batch is not
// asked to run again.
func TestStoppingWorkerDoesNotCutOffASend(t *testing.T) {
	e, users, openIDs := batchEnv(t)
	batch := e.q.pending()[0]
	e.Fake.SetDelay(300 * time.Millisecond)
	ctx, stop := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, stop)
	if err := e.App.Handlers()[notify.TaskSend](ctx, asynq.NewTask(notify.TaskSend, batch.payload)); err != nil {
		t.Fatalf("the batch stopped mid-send asked to run again: %v", err)
	}
	e.Fake.SetDelay(0)
	for i, name := range []string{"patient1", "patient2", "patient3"} {
		if p := e.pushes(t, "batch:"+name)[0]; p.Status != notify.StatusSent {
			t.Fatalf("%s's push is %s after a stop mid-send, want sent", name, p.Status)
		}
		if got := e.sentTo(openIDs[i]); got != 1 {
			t.Fatalf("%s got %d messages, want 1", name, got)
		}
		if got := e.quota(t, users[i], notify.KindQuestionnaireDue); got != 0 {
			t.Fatalf("%s's credit: %d left, want 0 (spent)", name, got)
		}
	}
}
