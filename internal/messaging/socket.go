package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
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
// history over HTTP with before=last_seq+1). The server pings every
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
}

// conn is one socket's server side.
type conn struct {
	svc   *Service
	hub   *Hub
	ws    *websocket.Conn
	c     *client
	subs  map[string]*subscription
	ctrl  chan clientFrame
	staff bool
}

// Serve upgrades an authenticated request to a WebSocket and runs it until
// either side closes. It blocks for the life of the socket.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, a auth.Actor) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{auth.WebSocketProtocol}})
	if err != nil {
		return // Accept has answered the request
	}
	ws.SetReadLimit(4 << 10)
	ctx, cancel := context.WithCancel(s.hub.ctx)
	defer cancel()
	cn := &conn{svc: s, hub: s.hub, ws: ws, subs: map[string]*subscription{}, ctrl: make(chan clientFrame, 16),
		staff: a.Kind == auth.KindStaff}
	cn.c = &client{id: s.hub.nextID(), actor: a, send: newMailbox(s.hub.opts.SendBuffer),
		kick: func(reason string) {
			// Close first: a cancel first could let Serve's CloseNow win, and
			// the client would see an abnormal closure instead of 1013 and the reason.
			go func() {
				ws.Close(websocket.StatusTryAgainLater, reason)
				cancel()
			}()
		},
		shut: func() {
			ws.Close(websocket.StatusGoingAway, "server shutting down")
			cancel()
		},
	}
	if err := s.hub.register(cn.c); err != nil {
		ws.Close(websocket.StatusTryAgainLater, CloseReasonUnavailable)
		return
	}
	defer func() {
		subs := make([]string, 0, len(cn.subs))
		for p := range cn.subs {
			subs = append(subs, p)
		}
		s.hub.unregister(cn.c, subs)
		s.hub.forget(cn.c)
		ws.CloseNow()
	}()
	s.hub.touch(ctx, cn.c)
	go cn.read(ctx, cancel)
	cn.pump(ctx)
}

// read turns client frames into control requests until the socket ends.
func (cn *conn) read(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	for {
		typ, b, err := cn.ws.Read(ctx)
		if err != nil {
			return
		}
		var f clientFrame
		if typ != websocket.MessageText || json.Unmarshal(b, &f) != nil {
			f = clientFrame{Type: "invalid"}
		}
		select {
		case cn.ctrl <- f:
		default: // a client flooding requests is dropped like a slow one
			cn.ws.Close(websocket.StatusPolicyViolation, "too many requests")
			return
		}
	}
}

// pump owns every write to the socket: control answers, catch-up and live
// events, in order, and the heartbeat.
func (cn *conn) pump(ctx context.Context) {
	hb := cn.hub.opts.Heartbeat
	if cn.write(ctx, Event{Type: EventHello, ConnID: cn.c.id, Heartbeat: int(hb.Seconds())}) != nil {
		return
	}
	ticker := time.NewTicker(hb)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-cn.ctrl:
			if cn.handle(ctx, f) != nil {
				return
			}
		case <-cn.c.send.ready:
			for _, o := range cn.c.send.take() {
				if cn.forward(ctx, o) != nil {
					return
				}
			}
		case <-ticker.C:
			pctx, cancel := context.WithTimeout(ctx, hb)
			err := cn.ws.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
			cn.hub.touch(ctx, cn.c)
		}
	}
}

func (cn *conn) write(ctx context.Context, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return cn.writeRaw(ctx, b)
}

func (cn *conn) writeRaw(ctx context.Context, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cn.ws.Write(wctx, websocket.MessageText, b)
}

func (cn *conn) fail(ctx context.Context, patientID string, err error) error {
	code, msg := "internal_error", "服务器内部错误"
	if e, ok := apperr.As(err); ok {
		code, msg = e.Code, e.Message
	} else {
		cn.svc.log.Error("realtime request failed", "error", err.Error())
	}
	return cn.write(ctx, Event{Type: EventError, PatientID: patientID, Code: code, Detail: msg})
}

func (cn *conn) handle(ctx context.Context, f clientFrame) error {
	switch f.Type {
	case "ping":
		return cn.write(ctx, Event{Type: EventPong})
	case "subscribe":
		return cn.subscribe(ctx, f)
	case "unsubscribe":
		if _, ok := cn.subs[f.PatientID]; ok {
			delete(cn.subs, f.PatientID)
			cn.hub.unsubscribe(cn.c, f.PatientID)
		}
		return cn.write(ctx, Event{Type: EventUnsubscribed, PatientID: f.PatientID, Code: "requested"})
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
	last := t.LastSeq
	if err := cn.write(ctx, Event{Type: EventSubscribed, PatientID: f.PatientID, LastSeq: &last}); err != nil {
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
			if err := cn.write(ctx, Event{Type: EventMessage, PatientID: f.PatientID, Message: &v}); err != nil {
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
		return cn.writeRaw(ctx, o.payload)
	}
	sub := cn.subs[o.patientID]
	if sub == nil || (o.seq > 0 && o.seq <= sub.delivered) {
		return nil
	}
	if o.recheck || time.Since(sub.checked) > cn.hub.opts.Recheck {
		if _, err := cn.svc.policy.Check(ctx, cn.c.actor, access.MessagesRead, o.patientID); err != nil {
			delete(cn.subs, o.patientID)
			cn.hub.unsubscribe(cn.c, o.patientID)
			return cn.write(ctx, Event{Type: EventUnsubscribed, PatientID: o.patientID, Code: "access_revoked"})
		}
		sub.checked = time.Now()
		if o.recheck {
			return nil
		}
	}
	if o.seq > sub.delivered {
		sub.delivered = o.seq
	}
	return cn.writeRaw(ctx, o.payload)
}
