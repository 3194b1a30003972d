package messaging

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
)

// The WebSocket protocol (subprotocol carepath.v1), JSON text frames.
//
// Client → server:
//
//	{"type":"subscribe","patient_id":"…","after_seq":12}  // after_seq optional: catch up from it
//	{"type":"unsubscribe","patient_id":"…"}
//	{"type":"ping"}                                       // answered by {"type":"pong"}
//
// Server → client: Event frames (hello, subscribed, message, read, inbox,
// alert, unsubscribed, pong, error). After "subscribed" the server sends
// every entry with seq > after_seq from the database, then live entries;
// an entry is sent once per subscription, in seq order. Without after_seq
// the live stream starts after the "subscribed" frame's last_seq (load the
// history over HTTP with before=last_seq+1). A live entry that arrives
// after a gap (its predecessor published by another instance not yet
// arrived, or lost) is preceded by the missing entries from the database. The server pings every
// heartbeat; a client that does not answer, or falls send_buffer frames
// behind, is disconnected and should reconnect with its last seq. While
// Redis pub/sub is down, open sockets are closed and new ones refused with
// 1013 and CloseReasonUnavailable: the client polls GET …/thread/messages
// ?after=seq meanwhile and retries the socket with backoff.

// clientFrame is a frame from the client.
type clientFrame struct {
	Type      string `json:"type"`
	PatientID string `json:"patient_id"`
	AfterSeq  *int64 `json:"after_seq"`
}

// subscription is one thread a socket follows.
type subscription struct {
	delivered int64 // highest seq sent; live entries at or below it are skipped
	checked   time.Time
	threadID  string // "" until the thread exists (it is created by its first entry)
}

// Buffers of a socket's connection. net/http hands a hijacked connection
// over with a 4 KiB reader and a 4 KiB writer; a socket reads small client
// frames and writes one event at a time, so it keeps small ones (a larger
// event goes out in two writes instead of one).
const (
	socketReadBuffer  = 256
	socketWriteBuffer = 512
)

// Flood protection: a client may send floodBurst frames at once, then
// floodRate a second on average, and have at most floodBurst of them waiting
// for their turn (behind a slow subscribe); one that sends faster is
// disconnected with 1008 "too many requests".
const (
	floodBurst = 16
	floodRate  = 8
)

// conn is one socket's server side. An idle socket costs one goroutine, the
// one blocked reading it, with a small stack: the HTTP handler returns once
// the socket is set up, client frames are handled by a goroutine started
// when they arrive (handleFrames; database queries grow stacks, and a grown
// stack stays with its goroutine), live events are written by a goroutine
// started when they arrive (mailbox.drain), and the hub's one heartbeat
// sweep pings. The reader keeps reading while a frame is handled: the
// library reads the client's pongs inside Read, so a reader waiting for a
// slow subscribe would let the heartbeat drop a live client. Nor does an
// idle socket hold a context: it ends by closing the connection, which
// wakes the reader; a frame's requests run under a context that lives while
// frames are handled and is cancelled when the socket ends.
type conn struct {
	svc   *Service
	hub   *Hub
	ws    *websocket.Conn
	c     *client
	staff bool

	// mu is held while writing, so control answers, catch-up and live
	// events go out one sequence at a time, and guards subs and ended.
	mu    sync.Mutex
	subs  map[string]*subscription
	ended bool // the socket has left the hub: a frame still handled subscribes nothing

	// fmu guards the client frames waiting for their turn, in arrival order
	// (the reader appends; handleFrames takes), and the handler goroutine's
	// state.
	fmu      sync.Mutex
	frames   []frame
	handling bool               // a handleFrames goroutine runs (or has stopped for good)
	stop     context.CancelFunc // cancels the running handler's requests; nil when none runs

	// The reading goroutine's own: flood protection's token bucket.
	tokens float64
	filled time.Time
}

// frame is a client frame as read, waiting to be handled.
type frame struct {
	typ websocket.MessageType
	b   []byte
}

// Serve upgrades an authenticated request to a WebSocket, says hello and
// returns: one goroutine reads the socket until either side closes it.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, a auth.Actor) {
	offerOnlyOurProtocol(r.Header)
	lh := &leanHijack{ResponseWriter: w}
	ws, err := websocket.Accept(lh, r, &websocket.AcceptOptions{Subprotocols: []string{auth.WebSocketProtocol}})
	if err != nil {
		return // Accept has answered the request
	}
	nc := lh.nc
	ws.SetReadLimit(4 << 10)
	ctx := s.hub.ctx
	hb := s.hub.opts.Heartbeat
	cn := &conn{svc: s, hub: s.hub, ws: ws, staff: a.Kind == auth.KindStaff, tokens: floodBurst, filled: time.Now()}
	cn.c = &client{id: s.hub.nextID(), actor: a, send: newMailbox(s.hub.opts.SendBuffer, cn.drain),
		kick: func(reason string) {
			// The close handshake first (the client sees 1013 and the reason), then
			// the connection, whatever the handshake's outcome: that ends the reader.
			go func() {
				ws.Close(websocket.StatusTryAgainLater, reason)
				ws.CloseNow()
			}()
		},
		shut: func() {
			ws.Close(websocket.StatusGoingAway, "server shutting down")
			ws.CloseNow()
		},
		// The connection itself: the library's CloseNow only waits once a
		// close handshake (shut's) is under way.
		abort: func() { nc.Close() },
		ping:  cn.ping,
	}
	// Hold mu until hello is out: a live event queued meanwhile waits for it.
	cn.mu.Lock()
	if err := s.hub.register(cn.c); err != nil {
		cn.mu.Unlock()
		ws.Close(websocket.StatusTryAgainLater, CloseReasonUnavailable)
		ws.CloseNow()
		return
	}
	s.hub.touch(ctx, cn.c)
	err = cn.write(Event{Type: EventHello, ConnID: cn.c.id, Heartbeat: int(hb.Seconds())})
	cn.mu.Unlock()
	if err != nil {
		cn.end()
		return
	}
	go cn.read()
}

// end releases the socket once: it closes the connection and leaves the hub.
func (cn *conn) end() {
	cn.fmu.Lock()
	if cn.stop != nil {
		cn.stop() // a frame's database requests stop
	}
	cn.frames = nil
	cn.fmu.Unlock()
	cn.ws.CloseNow() // a drain or a frame's handler still writing stops
	cn.mu.Lock()
	cn.ended = true
	subs := make([]string, 0, len(cn.subs))
	for p := range cn.subs {
		subs = append(subs, p)
	}
	cn.mu.Unlock()
	cn.hub.unregister(cn.c, subs)
	cn.hub.forget(cn.c)
}

// read reads client frames until the socket ends; then it releases the
// socket. It queues each frame for handleFrames and reads on, so the
// client's pongs (and close) are read while a frame is handled.
func (cn *conn) read() {
	defer cn.end()
	for {
		// No context: the read ends when the connection closes (a context
		// with a Done channel would cost each socket a registration in it).
		typ, b, err := cn.ws.Read(context.Background())
		if err != nil {
			return
		}
		if !cn.allow(time.Now()) || !cn.queue(frame{typ: typ, b: b}) {
			cn.ws.Close(websocket.StatusPolicyViolation, "too many requests")
			return
		}
	}
}

// queue appends a client frame for handling, starting handleFrames when none
// runs; false means floodBurst frames already wait.
func (cn *conn) queue(f frame) bool {
	cn.fmu.Lock()
	defer cn.fmu.Unlock()
	if len(cn.frames) >= floodBurst {
		return false
	}
	cn.frames = append(cn.frames, f)
	if !cn.handling {
		cn.handling = true
		ctx, cancel := context.WithCancel(cn.hub.ctx)
		cn.stop = cancel
		go cn.handleFrames(ctx, cancel)
	}
	return true
}

// handleFrames handles the queued client frames one at a time, in arrival
// order, until the queue is empty; then it ends (the next frame starts
// another). ctx is cancelled when the socket ends. A frame whose answer
// cannot be written closes the socket, and the reader's end releases it.
func (cn *conn) handleFrames(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	for {
		cn.fmu.Lock()
		if len(cn.frames) == 0 {
			cn.frames = nil // an idle socket holds no queue
			cn.handling, cn.stop = false, nil
			cn.fmu.Unlock()
			return
		}
		fr := cn.frames[0]
		cn.frames[0] = frame{}
		cn.frames = cn.frames[1:]
		cn.fmu.Unlock()
		var f clientFrame
		if fr.typ != websocket.MessageText || json.Unmarshal(fr.b, &f) != nil {
			f = clientFrame{Type: "invalid"}
		}
		cn.mu.Lock()
		err := net.ErrClosed
		if !cn.ended {
			err = cn.handle(ctx, f)
		}
		cn.mu.Unlock()
		if err != nil {
			cn.ws.CloseNow()
			return // handling stays set: nothing more is handled
		}
	}
}

// allow takes a token from the flood bucket, refilled at floodRate a second
// up to floodBurst; false means the client sends faster than it may.
func (cn *conn) allow(now time.Time) bool {
	cn.tokens = min(floodBurst, cn.tokens+now.Sub(cn.filled).Seconds()*floodRate)
	cn.filled = now
	if cn.tokens < 1 {
		return false
	}
	cn.tokens--
	return true
}

// drain writes queued live events, in order, until the mailbox is empty.
// The mailbox starts it when frames arrive; a write that fails closes the
// socket, and the reader's end releases it.
func (cn *conn) drain() {
	for {
		batch := cn.c.send.next()
		if batch == nil {
			return
		}
		cn.mu.Lock()
		for _, o := range batch {
			if cn.forward(cn.hub.ctx, o) != nil {
				cn.mu.Unlock()
				cn.ws.CloseNow()
				return // the mailbox stays marked draining: nothing more is written
			}
		}
		cn.mu.Unlock()
	}
}

// ping is the socket's heartbeat, run by the hub's sweep in a goroutine of
// its own: a client that does not answer within a heartbeat (or whose
// send path is stuck that long) is disconnected.
func (cn *conn) ping() {
	ctx, cancel := context.WithTimeout(cn.hub.ctx, cn.hub.opts.Heartbeat)
	err := cn.ws.Ping(ctx)
	cancel()
	if err != nil {
		cn.ws.CloseNow()
		return
	}
	cn.hub.touch(cn.hub.ctx, cn.c)
}

// offerOnlyOurProtocol narrows the offered subprotocols to CarePath's
// (when offered; the access token, "bearer.<token>" beside it, has been
// checked by now). The library keeps the one it picks for the socket's life,
// and a substring of the request's header would keep the whole header
// value, token included, in memory with it.
func offerOnlyOurProtocol(h http.Header) {
	const key = "Sec-WebSocket-Protocol"
	for _, v := range h.Values(key) {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == auth.WebSocketProtocol {
				h.Set(key, auth.WebSocketProtocol)
				return
			}
		}
	}
	h.Del(key)
}

// leanHijack hands coder/websocket the hijacked connection with buffers of
// socketReadBuffer and socketWriteBuffer bytes instead of net/http's 4 KiB
// each. Bytes the client sent right after its handshake, already in
// net/http's reader, move into the new one. It keeps the connection (nc), so
// that shutdown can close it whatever the library is doing.
type leanHijack struct {
	http.ResponseWriter
	nc net.Conn
}

// WriteHeaderNow lets gin's writer send the 101 before the hijack, as
// coder/websocket asks of it.
func (w *leanHijack) WriteHeaderNow() {
	if g, ok := w.ResponseWriter.(interface{ WriteHeaderNow() }); ok {
		g.WriteHeaderNow()
	}
}

func (w *leanHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("messaging: the response cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	var src io.Reader = nc
	n := brw.Reader.Buffered()
	if n > 0 {
		early, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
	}
	br := bufio.NewReaderSize(src, max(socketReadBuffer, n))
	if n > 0 {
		if _, err := br.Peek(n); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	w.nc = nc
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, socketWriteBuffer)), nil
}

func (cn *conn) write(ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return cn.writeRaw(b)
}

// writeTimeout bounds one frame's write: a client that takes longer is
// disconnected (it reconnects with its cursor and loses nothing).
const writeTimeout = 10 * time.Second

// writeRaw writes one frame. The timeout is a timer that closes the
// connection, as the library does when a write's context expires; it is not
// a context because the library keeps the last write's context for the
// socket's life (a timer context and its timer, 0.2 KiB per idle socket).
// The connection's closing (end, kick, shutdown) stops a write under way.
func (cn *conn) writeRaw(b []byte) error {
	t := time.AfterFunc(writeTimeout, func() { cn.ws.CloseNow() })
	defer t.Stop()
	return cn.ws.Write(context.Background(), websocket.MessageText, b)
}

func (cn *conn) fail(ctx context.Context, patientID string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the socket ended: nobody to answer, nothing to log
	}
	code, msg := "internal_error", "服务器内部错误"
	if e, ok := apperr.As(err); ok {
		code, msg = e.Code, e.Message
	} else {
		cn.svc.log.Error("realtime request failed", "error", err.Error())
	}
	return cn.write(Event{Type: EventError, PatientID: patientID, Code: code, Detail: msg})
}

func (cn *conn) handle(ctx context.Context, f clientFrame) error {
	switch f.Type {
	case "ping":
		return cn.write(Event{Type: EventPong})
	case "subscribe":
		return cn.subscribe(ctx, f)
	case "unsubscribe":
		if _, ok := cn.subs[f.PatientID]; ok {
			delete(cn.subs, f.PatientID)
			cn.hub.unsubscribe(cn.c, f.PatientID)
		}
		return cn.write(Event{Type: EventUnsubscribed, PatientID: f.PatientID, Code: "requested"})
	default:
		return cn.fail(ctx, "", apperr.Invalid("type", "invalid_frame", "无法识别的消息帧：type 应为 subscribe、unsubscribe 或 ping"))
	}
}

// subscribe checks access, starts live delivery, then sends what the
// client missed since its cursor. Live entries queued meanwhile are
// skipped by seq, so each entry arrives once and in order.
func (cn *conn) subscribe(ctx context.Context, f clientFrame) error {
	a := cn.c.actor
	if _, err := cn.svc.policy.Check(ctx, a, access.MessagesRead, f.PatientID); err != nil {
		return cn.fail(ctx, f.PatientID, err)
	}
	if f.AfterSeq != nil && *f.AfterSeq < 0 {
		return cn.fail(ctx, f.PatientID, apperr.Invalid("after_seq", "invalid_cursor", "after_seq 不能为负数"))
	}
	sub := cn.subs[f.PatientID]
	if sub == nil {
		if cn.subs == nil {
			cn.subs = map[string]*subscription{}
		}
		sub = &subscription{}
		cn.subs[f.PatientID] = sub
		cn.hub.subscribe(cn.c, f.PatientID)
	}
	sub.checked = time.Now()
	t, err := cn.svc.store.ThreadOf(ctx, f.PatientID)
	if errors.Is(err, ErrThreadNotFound) {
		t, err = Thread{PatientID: f.PatientID}, nil
	}
	if err != nil {
		return cn.fail(ctx, f.PatientID, err)
	}
	sub.threadID = t.ID
	last := t.LastSeq
	if err := cn.write(Event{Type: EventSubscribed, PatientID: f.PatientID, LastSeq: &last}); err != nil {
		return err
	}
	if f.AfterSeq == nil {
		sub.delivered = max(sub.delivered, last)
		return nil
	}
	after := max(*f.AfterSeq, 0)
	for t.ID != "" {
		msgs, err := cn.svc.store.Since(ctx, t.ID, after, cn.staff, 200)
		if err != nil {
			return cn.fail(ctx, f.PatientID, err)
		}
		for _, v := range cn.svc.views(ctx, f.PatientID, msgs) {
			if err := cn.write(Event{Type: EventMessage, PatientID: f.PatientID, Message: &v}); err != nil {
				return err
			}
			after = v.Seq
		}
		if len(msgs) < 200 {
			break
		}
	}
	sub.delivered = max(sub.delivered, after)
	return nil
}

// forward writes a live event, skipping entries already sent and
// re-asking the access policy now and then: a revoked family link or a
// reassigned patient stops delivery within HubOptions.Recheck.
func (cn *conn) forward(ctx context.Context, o outbound) error {
	if o.patientID == "" {
		return cn.writeRaw(o.payload)
	}
	sub := cn.subs[o.patientID]
	if sub == nil || (o.seq > 0 && o.seq <= sub.delivered) {
		return nil
	}
	if o.recheck || time.Since(sub.checked) > cn.hub.opts.Recheck {
		if _, err := cn.svc.policy.Check(ctx, cn.c.actor, access.MessagesRead, o.patientID); err != nil {
			delete(cn.subs, o.patientID)
			cn.hub.unsubscribe(cn.c, o.patientID)
			return cn.write(Event{Type: EventUnsubscribed, PatientID: o.patientID, Code: "access_revoked"})
		}
		sub.checked = time.Now()
		if o.recheck {
			return nil
		}
	}
	if o.seq > sub.delivered+1 {
		cn.fillGap(ctx, o.patientID, sub, o.seq)
	}
	if o.seq > sub.delivered {
		sub.delivered = o.seq
	}
	return cn.writeRaw(o.payload)
}

// gapPage is how many missed entries fillGap reads at a time.
const gapPage = 200

// fillGap sends the entries between the last one delivered and the live one
// at seq from the database, a page at a time. Two instances publish
// independently, so entry N+1 may arrive before N (which would then be
// skipped as already delivered), and publishes are lost while Redis
// hiccups. A patient's "gap" is often a staff note: the read returns
// nothing, and nothing is sent. When a read fails the live entry still goes
// out, as before: the client catches up by cursor when it reconnects.
func (cn *conn) fillGap(ctx context.Context, patientID string, sub *subscription, seq int64) {
	var err error
	if sub.threadID == "" {
		var t Thread
		t, err = cn.svc.store.ThreadOf(ctx, patientID)
		sub.threadID = t.ID
	}
	for after := sub.delivered; err == nil && after < seq-1; {
		var msgs []Message
		msgs, err = cn.svc.store.Since(ctx, sub.threadID, after, cn.staff, int(min(seq-after-1, gapPage)))
		if err != nil || len(msgs) == 0 {
			break
		}
		for _, v := range cn.svc.views(ctx, patientID, msgs) {
			if v.Seq >= seq {
				return
			}
			if cn.write(Event{Type: EventMessage, PatientID: patientID, Message: &v}) != nil {
				return
			}
			sub.delivered = v.Seq
		}
		after = msgs[len(msgs)-1].Seq
	}
	if err != nil && ctx.Err() == nil {
		cn.svc.log.Warn("realtime: missed entries not filled", "seq", seq, "error", err.Error())
	}
}
