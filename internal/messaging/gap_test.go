package messaging_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/wx/fake"
)

// deafTwin is another instance over the same database whose realtime events
// go to a Redis channel nobody listens to: what a lost or late publish looks
// like to the other instances.
func deafTwin(t *testing.T, in instance) instance {
	t.Helper()
	f, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rdb, prefix := dbtest.Redis(t)
	a, err := app.Build(context.Background(), in.app.Config, slog.New(slog.NewTextHandler(io.Discard, nil)),
		app.Options{DB: in.app.DB, Redis: rdb, RedisPrefix: prefix + "deaf:", WeChatBaseURL: f.URL()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Engine)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return instance{app: a, srv: srv}
}

// Entry 1's publish never reaches the socket; when entry 2 arrives live, the
// socket sends 1 from the database first, so the client sees no gap, and
// a staff note in between is never sent to the patient.
func TestAMissedLiveEntryIsFilledFromTheDatabase(t *testing.T) {
	apps, patients := cluster(t, 1)
	a := apps[0]
	deaf := deafTwin(t, a)
	p1 := patients["patient1"]
	patient, cm := a.user(t, "patient1"), a.staffLogin(t, "cm1")
	s, _, err := a.dial(t, patient)
	if err != nil {
		t.Fatal(err)
	}
	if ev := s.subscribe(p1, nil); ev.Type != messaging.EventSubscribed || *ev.LastSeq != 0 {
		t.Fatalf("subscribe = %+v", ev)
	}
	missed := deaf.send(t, deaf.staffLogin(t, "cm1"), p1, "lost-1", "这条的实时推送丢了")
	if status, body := deaf.call(t, http.MethodPost, threadPath(p1)+"/messages", deaf.staffLogin(t, "cm1"),
		map[string]string{"client_msg_id": "note-1", "kind": "note", "text": "内部备注"}); status != http.StatusCreated {
		t.Fatalf("note: %d %s", status, body)
	}
	live := a.send(t, cm, p1, "live-3", "这条正常推送")
	if missed.Seq != 1 || live.Seq != 3 {
		t.Fatalf("seqs %d and %d, want 1 and 3 (the note is 2)", missed.Seq, live.Seq)
	}
	var got []int64
	for len(got) < 2 {
		ev := s.nextOf(messaging.EventMessage)
		got = append(got, ev.Message.Seq)
		if ev.Message.Seq == 1 && ev.Message.Text != missed.Text {
			t.Errorf("filled entry text %q", ev.Message.Text)
		}
	}
	if got[0] != 1 || got[1] != 3 {
		t.Fatalf("patient socket got seqs %v, want [1 3] (the missed one first, never the note)", got)
	}
}

// More entries missed than one read returns (a long Redis hiccup): the
// socket sends all of them, in order, before the live one.
func TestALongRunOfMissedEntriesIsFilledPageByPage(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	apps, patients := clusterTuned(t, 1, rdb, prefix, func(c *config.Config) {
		c.Limits.MessagesPerUser, c.Limits.MessagesPerIP = 1000, 1000
	})
	a := apps[0]
	deaf := deafTwin(t, a)
	p1 := patients["patient1"]
	s, _, err := a.dial(t, a.user(t, "patient1"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := s.subscribe(p1, nil); ev.Type != messaging.EventSubscribed {
		t.Fatalf("subscribe = %+v", ev)
	}
	const missed = 230 // more than a page
	deafCM := deaf.staffLogin(t, "cm1")
	for i := 1; i <= missed; i++ {
		deaf.send(t, deafCM, p1, fmt.Sprintf("lost-%d", i), fmt.Sprintf("丢失的第%d条", i))
	}
	live := a.send(t, a.staffLogin(t, "cm1"), p1, "live", "这条正常推送")
	if live.Seq != missed+1 {
		t.Fatalf("live seq %d, want %d", live.Seq, missed+1)
	}
	for want := int64(1); want <= live.Seq; want++ {
		if ev := s.nextOf(messaging.EventMessage); ev.Message.Seq != want {
			t.Fatalf("patient socket got seq %d, want %d (every missed entry in order, then the live one)", ev.Message.Seq, want)
		}
	}
}
