package messaging_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

// TestHeartbeatDropsASilentClientAndKeepsALiveOne: the hub's heartbeat
// sweep pings every socket; one whose client never answers is closed, one
// that answers keeps receiving.
func TestHeartbeatDropsASilentClientAndKeepsALiveOne(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	insts, patients := clusterTuned(t, 1, rdb, prefix, func(c *config.Config) { c.Messaging.Heartbeat = time.Second })
	in, pid := insts[0], patients["patient1"]
	cm := in.staffLogin(t, "cm1")
	live, _, err := in.dial(t, in.user(t, "patient1"))
	if err != nil {
		t.Fatal(err)
	}
	live.subscribe(pid, nil)
	// The live client reads all along, so it answers pings.
	events := make(chan messaging.Event, 64)
	go func() {
		defer close(events)
		for {
			ev, err := live.read(time.Minute)
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	// The silent one reads its hello and then nothing: its pings go unanswered.
	silent, _, err := in.dial(t, in.user(t, "patient2"))
	if err != nil {
		t.Fatal(err)
	}
	apitest.WaitFor(t, "the silent socket to be dropped", func() bool { return in.app.Hub.Connections() == 1 })
	if _, err := silent.read(10 * time.Second); err == nil {
		t.Error("the silent socket still delivers after it was dropped")
	}
	sent := in.send(t, cm, pid, "hb-1", "心跳之后仍然送达")
	for ev := range events {
		if ev.Type == messaging.EventMessage && ev.Message.ID == sent.ID {
			return
		}
	}
	t.Fatal("the live socket was closed instead of receiving the message")
}

// TestSlowSubscribeKeepsALiveClient: a subscribe whose catch-up takes
// longer than a heartbeat (a busy database, a long backlog) must not cost
// the socket: the client reads all along and answers every ping, so it
// keeps its socket and receives the catch-up. (The socket's reader once
// waited for each frame's handler, nobody read the pong, and the heartbeat
// dropped the client, which reconnected into the same catch-up.) Frames
// are still handled one at a time in arrival order: a ping sent behind the
// subscribe is answered after its catch-up.
func TestSlowSubscribeKeepsALiveClient(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	insts, patients := clusterTuned(t, 1, rdb, prefix, func(c *config.Config) { c.Messaging.Heartbeat = time.Second })
	in, pid := insts[0], patients["patient1"]
	cm := in.staffLogin(t, "cm1")
	sent := in.send(t, cm, pid, "slow-1", "慢查询期间仍然在线")
	hold := holdCatchUp(t, in, 3*time.Second) // three heartbeats
	s, _, err := in.dial(t, in.user(t, "patient1"))
	if err != nil {
		t.Fatal(err)
	}
	hold.on.Store(true)
	s.sendFrame(map[string]any{"type": "subscribe", "patient_id": pid, "after_seq": 0})
	s.sendFrame(map[string]any{"type": "ping"})
	var got []string
	for len(got) == 0 || got[len(got)-1] != messaging.EventPong {
		ev, err := s.read(10 * time.Second) // reading: the client library answers pings
		if err != nil {
			t.Fatalf("live client dropped during its catch-up (after %v): %v", got, err)
		}
		if ev.Type == messaging.EventMessage && ev.Message.ID != sent.ID {
			continue // the thread's other entries, if any
		}
		got = append(got, ev.Type)
	}
	if want := []string{messaging.EventSubscribed, messaging.EventMessage, messaging.EventPong}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("frames = %v, want %v", got, want)
	}
}

// TestClosedSocketStopsItsCatchUp: a client that goes away during its
// catch-up does not leave the server querying for it: the query's context
// is cancelled when the socket ends.
func TestClosedSocketStopsItsCatchUp(t *testing.T) {
	in, s, hold := subscribeHeld(t)
	s.ws.CloseNow()
	apitest.WaitFor(t, "the catch-up query to be cancelled", hold.cancelled.Load)
	apitest.WaitFor(t, "the socket to leave the hub", func() bool { return in.app.Hub.Connections() == 0 })
}

// TestFramesPilingUpBehindASlowSubscribeAreBounded: frames wait for their
// turn behind a subscribe still catching up, but not without limit: a
// client that keeps sending (within the rate) while nothing is answered is
// closed with 1008 "too many requests" once floodBurst frames wait.
func TestFramesPilingUpBehindASlowSubscribeAreBounded(t *testing.T) {
	_, s, _ := subscribeHeld(t)
	ping := []byte(`{"type":"ping"}`)
	for i := 0; i < 24; i++ { // floodBurst (16) wait, the 17th is one too many
		time.Sleep(200 * time.Millisecond) // 5 a second: under the rate limit
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.ws.Write(ctx, websocket.MessageText, ping)
		cancel()
		if err != nil {
			break // closed already
		}
	}
	wantTooManyRequests(t, s, messaging.EventPong) // no ping behind the held subscribe is answered
}

// catchUpHold holds the app's thread_messages queries (a catch-up's pages)
// once on is set: a busy database.
type catchUpHold struct{ on, started, cancelled atomic.Bool }

// holdCatchUp makes each such query wait d, or until its context ends.
func holdCatchUp(t *testing.T, in instance, d time.Duration) *catchUpHold {
	t.Helper()
	h := &catchUpHold{}
	const name = "test:hold_catch_up"
	if err := in.app.DB.Callback().Row().Before("gorm:row").Register(name, func(db *gorm.DB) {
		if !h.on.Load() || db.Statement.Table != "thread_messages" {
			return
		}
		h.started.Store(true)
		select {
		case <-db.Statement.Context.Done():
			h.cancelled.Store(true)
		case <-time.After(d):
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.app.DB.Callback().Row().Remove(name) })
	return h
}

// subscribeHeld opens patient1's socket on a one-instance cluster and
// subscribes it from seq 0 to a thread with one entry, whose catch-up query
// is held (for a minute, or until the socket ends); it returns once that
// query has started.
func subscribeHeld(t *testing.T) (instance, *socket, *catchUpHold) {
	t.Helper()
	insts, patients := cluster(t, 1)
	in, pid := insts[0], patients["patient1"]
	in.send(t, in.staffLogin(t, "cm1"), pid, "held-1", "x")
	hold := holdCatchUp(t, in, time.Minute)
	s, _, err := in.dial(t, in.user(t, "patient1"))
	if err != nil {
		t.Fatal(err)
	}
	hold.on.Store(true)
	s.sendFrame(map[string]any{"type": "subscribe", "patient_id": pid, "after_seq": 0})
	apitest.WaitFor(t, "the catch-up query to start", hold.started.Load)
	return in, s, hold
}

// wantTooManyRequests reads the socket until it ends, which must be with
// 1008 "too many requests"; an event of type never ("" for none) fails.
func wantTooManyRequests(t *testing.T, s *socket, never string) {
	t.Helper()
	for {
		ev, err := s.read(10 * time.Second)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "too many requests" {
				t.Errorf("socket ended with %v, want close 1008 too many requests", err)
			}
			return
		}
		if never != "" && ev.Type == never {
			t.Fatalf("got a %s frame, want none", never)
		}
	}
}

// TestFloodingClientIsClosed: a client sending frames far faster than anyone
// types or navigates is closed with 1008 "too many requests".
func TestFloodingClientIsClosed(t *testing.T) {
	insts, _ := cluster(t, 1)
	in := insts[0]
	s, _, err := in.dial(t, in.user(t, "patient1"))
	if err != nil {
		t.Fatal(err)
	}
	ping := []byte(`{"type":"ping"}`)
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.ws.Write(ctx, websocket.MessageText, ping)
		cancel()
		if err != nil {
			break // closed already
		}
	}
	wantTooManyRequests(t, s, "")
}

// TestFrameSentWithTheHandshakeIsHandled: a client may send its first frame
// in the same packet as the upgrade request; the server hands the socket
// over with buffers of its own and must not lose those bytes.
func TestFrameSentWithTheHandshakeIsHandled(t *testing.T) {
	insts, _ := cluster(t, 1)
	in := insts[0]
	patient := in.user(t, "patient1")
	c, err := net.Dial("tcp", strings.TrimPrefix(in.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /api/v1/ws HTTP/1.1\r\nHost: " + c.RemoteAddr().String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: carepath.v1, bearer." + patient.token + "\r\n\r\n"
	payload := []byte(`{"type":"ping"}`)
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := c.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	for _, want := range []string{messaging.EventHello, messaging.EventPong} {
		var ev messaging.Event
		if err := json.Unmarshal(readServerFrame(t, br), &ev); err != nil || ev.Type != want {
			t.Fatalf("frame = %+v (%v), want %s", ev, err, want)
		}
	}
}

// readServerFrame reads one unmasked, unfragmented frame's payload.
func readServerFrame(t *testing.T, r *bufio.Reader) []byte {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		t.Fatal("unexpectedly large frame")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return b
}
