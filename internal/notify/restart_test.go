package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/platform/queue"
)

// TestWorkerRestartLosesNothing: pushes waiting in Redis survive a worker
// stopping mid-queue; the next worker sends each exactly once.
func TestWorkerRestartLosesNothing(t *testing.T) {
	e := apitest.New(t)
	qname := fmt.Sprintf("notify-restart-%d", time.Now().UnixNano())
	e.App.Notify.UseQueue(queue.NewClient(e.App.Redis), qname)
	t.Cleanup(func() { asynq.NewInspectorFromRedisClient(e.App.Redis).DeleteQueue(qname, true) })
	e.DeliverEvents() // the demo's pushes, no credits: settled without sending
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	const n = 12
	tok := e.LoginWeChat("patient1").AccessToken
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindReadingAttention)
	results := make([]map[string]string, 0, 3)
	for range 3 {
		results = append(results, map[string]string{"template_id": tmpl.TemplateID, "result": "accept"})
	}
	for range (n + 2) / 3 {
		e.Do(apitest.Request{Method: "POST", Path: "/api/v1/subscriptions", Token: tok, Body: map[string]any{"results": results}})
	}
	// Urgent, so quiet hours (the real clock decides asynq's schedule) do not delay them.
	for i := range n {
		if err := e.App.Notify.Handle(context.Background(), notify.Request{Kind: notify.KindReadingAttention, PatientID: p1,
			Recipients: []string{u1}, DedupeKey: fmt.Sprintf("restart-%d", i), Urgent: true, At: e.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	e.Fake.SetDelay(50 * time.Millisecond) // slow enough to stop the first worker part-way
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func(stopAfter int) {
		w := queue.NewWorkerOn(e.App.Redis, map[string]int{qname: 1}, 2, time.UTC, log)
		w.Handle(notify.TaskSend, e.App.Handlers()[notify.TaskSend])
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		deadline := time.Now().Add(60 * time.Second)
		for len(e.Fake.Sent()) < stopAfter && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	run(2)
	first := len(e.Fake.Sent())
	if first >= n {
		t.Fatalf("the first worker sent everything (%d); the test did not stop it mid-queue", first)
	}
	run(n)
	sent := e.Fake.Sent()
	if len(sent) != n {
		t.Fatalf("sent %d after the restart, want %d (first worker %d)", len(sent), n, first)
	}
	var count int64
	e.App.DB.Model(&notify.Push{}).Where("dedupe_key LIKE ? AND status = ?", "restart-%", notify.StatusSent).Count(&count)
	if count != n {
		t.Fatalf("%d pushes marked sent, want %d", count, n)
	}
	if got := quotaOf(e, u1, tmpl.TemplateID); got != (n+2)/3*3-n {
		t.Fatalf("credits left %d, want %d", got, (n+2)/3*3-n)
	}
}

func quotaOf(e *apitest.Env, userID, templateID string) int {
	var sub notify.Subscription
	e.App.DB.Where("user_id = ? AND template_id = ?", userID, templateID).Take(&sub)
	return sub.Quota
}

// TestSendIsRecordedBeforeWeChatIsCalled: a push is claimed (status
// sending, credit taken) before the call. A worker killed after that — maybe
// after WeChat accepted — leaves it claimed; the redelivered task records it
// as interrupted and never messages the patient a second time, even with
// credits left. Two deliveries of one task at once send one message.
func TestSendIsRecordedBeforeWeChatIsCalled(t *testing.T) {
	e := apitest.New(t)
	e.DeliverEvents() // the demo's pushes, no credits: settled without sending
	p1, u1 := e.Demo.Patients["patient1"], e.Demo.Users["fake-openid-patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	tmpl, _ := e.App.Notify.Templates().Template(notify.KindReadingAttention)
	accept := map[string]string{"template_id": tmpl.TemplateID, "result": "accept"}
	e.Do(apitest.Request{Method: "POST", Path: "/api/v1/subscriptions", Token: tok,
		Body: map[string]any{"results": []map[string]string{accept, accept, accept}}})
	ctx := context.Background()
	plan := func(key string) notify.Push {
		t.Helper()
		if err := e.App.Notify.Handle(ctx, notify.Request{Kind: notify.KindReadingAttention, PatientID: p1,
			Recipients: []string{u1}, DedupeKey: key, Urgent: true, At: e.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		var p notify.Push
		if err := e.App.DB.Where("dedupe_key = ?", key).First(&p).Error; err != nil {
			t.Fatal(err)
		}
		return p
	}
	status := func(id string) string {
		var p notify.Push
		e.App.DB.Where("id = ?", id).First(&p)
		return p.Status
	}

	// A worker claimed the push and died before recording WeChat's answer.
	died := plan("interrupted")
	if got, err := e.App.Notify.Store.Claim(ctx, died, true, e.Clock.Now()); err != nil || got != notify.Claimed {
		t.Fatalf("Claim = %d, %v; want claimed", got, err)
	}
	before := len(e.Fake.Sent())
	if err := e.App.Notify.Send(ctx, died.ID, false); err != nil {
		t.Fatal(err)
	}
	if got := len(e.Fake.Sent()) - before; got != 0 {
		t.Errorf("the redelivered task sent %d messages, want 0 (WeChat may already have it)", got)
	}
	if got := status(died.ID); got != notify.StatusInterrupted {
		t.Errorf("status after the redelivery = %q, want %q", got, notify.StatusInterrupted)
	}
	if got := quotaOf(e, u1, tmpl.TemplateID); got != 2 {
		t.Errorf("credits left %d, want 2 (the interrupted send's credit is not given back)", got)
	}

	// Two deliveries of one task at once: one message.
	twice := plan("twice")
	before = len(e.Fake.Sent())
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- e.App.Notify.Send(ctx, twice.ID, false) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := len(e.Fake.Sent()) - before; got != 1 {
		t.Errorf("two deliveries sent %d messages, want 1", got)
	}
	if got := status(twice.ID); got != notify.StatusSent {
		t.Errorf("status = %q, want sent", got)
	}
}
