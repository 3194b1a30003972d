package messaging_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/messaging"
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
