package messaging

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/auth"
)

// TestSlowClientIsDroppedWithoutBlockingOthers is mattermost's rule: fan-out
// never waits for a socket; one whose buffer is full is disconnected once.
func TestSlowClientIsDroppedWithoutBlockingOthers(t *testing.T) {
	h := NewHub(nil, HubOptions{SendBuffer: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	kicks := 0
	var reason string
	slow := &client{id: "slow", actor: auth.Actor{Kind: auth.KindUser, ID: "u1"}, send: newMailbox(2, nil),
		kick: func(r string) { kicks++; reason = r }}
	fast := &client{id: "fast", actor: auth.Actor{Kind: auth.KindUser, ID: "u2"}, send: newMailbox(100, nil),
		kick: func(string) { t.Error("the fast client was kicked") }}
	staff := &client{id: "staff", actor: auth.Actor{Kind: auth.KindStaff, ID: "s1"}, send: newMailbox(100, nil),
		kick: func(string) { t.Error("the staff client was kicked") }}
	for _, c := range []*client{slow, fast, staff} {
		add(h.byPatient, "p1", c)
	}
	// Nobody drains slow's buffer: were fan-out to wait for it, this loop would never end.
	for i := int64(1); i <= 5; i++ {
		h.deliverLocal(envelope{Thread: true, Key: "p1", Seq: i, Event: []byte(`{"type":"message"}`)})
	}
	if kicks != 1 || reason != "slow consumer" {
		t.Errorf("slow client kicked %d times (%q), want once for being slow", kicks, reason)
	}
	if len(fast.send.queue) != 5 || len(staff.send.queue) != 5 {
		t.Errorf("fast clients got %d and %d events, want all 5", len(fast.send.queue), len(staff.send.queue))
	}
	// Internal entries reach staff sockets only.
	h.deliverLocal(envelope{Thread: true, Key: "p1", Seq: 6, Internal: true, Event: []byte(`{"type":"message"}`)})
	if len(fast.send.queue) != 5 || len(staff.send.queue) != 6 {
		t.Errorf("after an internal note: user %d, staff %d events, want 5 and 6", len(fast.send.queue), len(staff.send.queue))
	}
	// Events for another thread or actor go nowhere here.
	h.deliverLocal(envelope{Thread: true, Key: "p2", Seq: 1, Event: []byte(`{}`)})
	h.deliverLocal(envelope{Key: "staff:s1", Event: []byte(`{}`)})
	if len(staff.send.queue) != 6 {
		t.Errorf("staff got %d events, want 6 (it subscribed to p1 only and is not registered by actor)", len(staff.send.queue))
	}
}

// A mailbox keeps frames in order, holds at most its limit, and starts one
// drain for a batch however many frames wait; an idle mailbox has none.
func TestMailboxKeepsOrderAndLimit(t *testing.T) {
	drains := make(chan struct{}, 10)
	m := newMailbox(3, func() { drains <- struct{}{} })
	for i := int64(1); i <= 3; i++ {
		if !m.put(outbound{seq: i}) {
			t.Fatalf("put %d refused below the limit", i)
		}
	}
	if m.put(outbound{seq: 4}) {
		t.Fatal("a fourth frame was queued past the limit of 3")
	}
	<-drains
	select {
	case <-drains:
		t.Fatal("two drains started for one batch")
	case <-time.After(50 * time.Millisecond):
	}
	got := m.next()
	if len(got) != 3 || got[0].seq != 1 || got[2].seq != 3 {
		t.Fatalf("next = %+v, want seq 1, 2, 3 in order", got)
	}
	if !m.put(outbound{seq: 5}) {
		t.Fatal("the mailbox does not accept frames again once drained")
	}
	select {
	case <-drains:
		t.Fatal("a second drain started while the first still runs")
	case <-time.After(50 * time.Millisecond):
	}
	if got := m.next(); len(got) != 1 || m.next() != nil {
		t.Fatalf("the running drain got %d frames then more, want 1 then none", len(got))
	}
	// The drain ended on the empty queue: the next frame starts another.
	m.put(outbound{seq: 6})
	<-drains
}
