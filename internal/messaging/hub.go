package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/internal/auth"
)

// Event types sent to sockets.
const (
	EventHello        = "hello"        // first frame: the connection's id and heartbeat
	EventSubscribed   = "subscribed"   // a thread subscription started; catch-up follows
	EventUnsubscribed = "unsubscribed" // a subscription ended (asked for, or access withdrawn)
	EventMessage      = "message"      // a thread entry (also a recall or transfer entry)
	EventRead         = "read"         // a participant's read position moved
	EventInbox        = "inbox"        // staff: a thread of their caseload changed
	EventAlert        = "alert"        // staff: an alert was raised on one of their patients
	EventPong         = "pong"         // answer to a client's {"type":"ping"}
	EventError        = "error"        // a client frame was refused
)

// Event is one frame sent to a socket. Type says which fields are set.
type Event struct {
	Type      string       `json:"type"`
	PatientID string       `json:"patient_id,omitempty"`
	LastSeq   *int64       `json:"last_seq,omitempty"` // subscribed
	Message   *MessageView `json:"message,omitempty"`
	Read      *ReadEvent   `json:"read,omitempty"`
	Inbox     *InboxEvent  `json:"inbox,omitempty"`
	Alert     *Alert       `json:"alert,omitempty"`
	ConnID    string       `json:"conn_id,omitempty"`           // hello
	Heartbeat int          `json:"heartbeat_seconds,omitempty"` // hello
	Code      string       `json:"code,omitempty"`              // error, unsubscribed
	Detail    string       `json:"message_text,omitempty"`      // error: human text (zh-CN)
}

// ReadEvent is a participant's new read position.
type ReadEvent struct {
	Reader      SenderView `json:"reader"`
	LastReadSeq int64      `json:"last_read_seq"`
	ReadAt      time.Time  `json:"read_at"`
}

// InboxEvent tells a case manager that a thread of theirs changed.
type InboxEvent struct {
	LastSeq      int64      `json:"last_seq"`
	WaitingSince *time.Time `json:"waiting_since,omitempty"`
}

// Alert is what the alert feature publishes through the hub to the staff it
// names: ids and a classification, never a reading (the page loads the
// alert through its own access-checked route).
type Alert struct {
	ID        string    `json:"id"`
	PatientID string    `json:"patient_id"`
	Kind      string    `json:"kind"`     // e.g. bp_high, glucose_low, no_report
	Severity  string    `json:"severity"` // e.g. high, medium, low
	RaisedAt  time.Time `json:"raised_at"`
	StaffIDs  []string  `json:"-"` // recipients
}

// actorKey names an actor's sockets across instances.
func actorKey(kind auth.ActorKind, id string) string { return string(kind) + ":" + id }

// envelope is what travels over Redis pub/sub between instances.
type envelope struct {
	Thread   bool            `json:"t,omitempty"` // Key is a patient id (thread subscribers), else an actor key
	Key      string          `json:"k"`
	Seq      int64           `json:"s,omitempty"`
	Internal bool            `json:"i,omitempty"` // staff only
	Recheck  string          `json:"r,omitempty"` // a patient id whose access the actor's sockets must re-ask now
	Event    json.RawMessage `json:"e"`
}

// outbound is one frame queued for a socket.
type outbound struct {
	patientID string // set for thread events
	seq       int64
	payload   []byte
	recheck   bool // ask the policy again now; write nothing if still allowed
}

// client is a socket as the hub sees it.
type client struct {
	id       string
	actor    auth.Actor
	send     *mailbox
	dropped  atomic.Bool
	nextPing atomic.Int64        // unix nanoseconds; the heartbeat sweep pings the socket then
	kick     func(reason string) // closes the connection; must not block
	shut     func()              // closes with 1001 at shutdown; may block briefly
	abort    func()              // closes the connection at once, no handshake
	ping     func()              // pings and waits for the pong (or disconnects); run in a goroutine of its own
}

// offer queues a frame without ever blocking: a client whose buffer is
// full is disconnected (it reconnects with its cursor and loses nothing),
// so one slow reader never holds up the others.
func (c *client) offer(o outbound) {
	if !c.send.put(o) && c.dropped.CompareAndSwap(false, true) {
		c.kick("slow consumer")
	}
}

// mailbox is a socket's queue of frames. It grows with the backlog up to
// limit instead of reserving limit slots up front: thousands of idle sockets
// hold no buffer (a channel of 256 frames cost 14 KiB per socket). No
// goroutine waits on an idle mailbox either: the first frame put into an
// empty one starts drain in a goroutine, which takes batches until the queue
// is empty and then ends (an idle socket's waiting writer cost a goroutine
// stack of 8 KiB).
type mailbox struct {
	mu       sync.Mutex
	queue    []outbound
	limit    int
	draining bool   // a drain goroutine runs (or has stopped for good)
	drain    func() // started when frames arrive and none runs; nil in tests
}

func newMailbox(limit int, drain func()) *mailbox {
	return &mailbox{limit: limit, drain: drain}
}

// put queues o unless limit frames already wait.
func (m *mailbox) put(o outbound) bool {
	m.mu.Lock()
	if len(m.queue) >= m.limit {
		m.mu.Unlock()
		return false
	}
	m.queue = append(m.queue, o)
	start := !m.draining && m.drain != nil
	m.draining = m.draining || start
	m.mu.Unlock()
	if start {
		go m.drain()
	}
	return true
}

// next returns the waiting frames, oldest first, and empties the queue;
// with none waiting it returns nil and the drain that called it must end
// (the next put starts another).
func (m *mailbox) next() []outbound {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queue
	m.queue = nil
	if len(q) == 0 {
		m.draining = false
	}
	return q
}

// HubOptions tune the hub.
type HubOptions struct {
	Prefix     string        // the app's Redis key prefix
	SendBuffer int           // frames queued per socket
	Heartbeat  time.Duration // ping interval
	Recheck    time.Duration // how often a socket re-asks the access policy for a thread; 0 = every event
}

// Hub routes events to this instance's sockets, and through Redis pub/sub
// to every other instance's. Redis pub/sub is at-most-once; the database
// is the truth and clients fill gaps by cursor.
type Hub struct {
	rdb     redis.UniversalClient
	opts    HubOptions
	channel string
	log     *slog.Logger

	mu        sync.RWMutex
	byActor   map[string]map[*client]struct{}
	byPatient map[string]map[*client]struct{}
	clients   map[*client]struct{}
	pubsub    *redis.PubSub
	closing   bool
	beating   bool // the heartbeat sweep runs

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the Redis reader and every socket
	seq    atomic.Int64
}

// NewHub returns a hub. It subscribes to Redis when its first socket connects.
func NewHub(rdb redis.UniversalClient, opts HubOptions, log *slog.Logger) *Hub {
	if opts.SendBuffer < 1 {
		opts.SendBuffer = 256
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 25 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{rdb: rdb, opts: opts, channel: opts.Prefix + "rt:events", log: log,
		byActor: map[string]map[*client]struct{}{}, byPatient: map[string]map[*client]struct{}{}, clients: map[*client]struct{}{},
		ctx: ctx, cancel: cancel}
}

var errHubClosed = errors.New("messaging: hub is shutting down")

// listen subscribes to the events channel once; the caller holds h.mu.
func (h *Hub) listen() error {
	if h.pubsub != nil {
		return nil
	}
	ps := h.rdb.Subscribe(h.ctx, h.channel)
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return fmt.Errorf("subscribe %s: %w", h.channel, err)
	}
	h.pubsub = ps
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.receive(ps)
	}()
	if !h.beating {
		h.beating = true
		go h.heartbeat()
	}
	return nil
}

// heartbeat is the one sweep that pings every socket of the instance once
// per HubOptions.Heartbeat, each at its own phase (sockets connect at
// different times, so pings spread out rather than arriving all at once).
// A socket's ping runs in a short-lived goroutine that waits for the pong,
// marks the actor present and ends; one that gets no pong within a
// heartbeat, or cannot even send the ping (a full send path), is
// disconnected. It runs until the hub stops.
func (h *Hub) heartbeat() {
	hb := h.opts.Heartbeat
	// Fine steps: sockets due within one step are pinged together, and
	// thousands of them (with their presence writes to Redis) at once would
	// hold up deliveries.
	t := time.NewTicker(max(hb/250, 10*time.Millisecond))
	defer t.Stop()
	var due []*client
	for {
		select {
		case <-h.ctx.Done():
			return
		case now := <-t.C:
			due = h.duePings(now, due[:0])
			for _, c := range due {
				go c.ping()
			}
			clear(due)
		}
	}
}

// duePings appends the sockets whose ping is due at now and schedules their next.
func (h *Hub) duePings(now time.Time, due []*client) []*client {
	at, next := now.UnixNano(), now.Add(h.opts.Heartbeat).UnixNano()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if n := c.nextPing.Load(); n != 0 && n <= at && c.nextPing.CompareAndSwap(n, next) {
			due = append(due, c)
		}
	}
	return due
}

// CloseReasonUnavailable is the close reason (with code 1013, try again
// later) of a socket the server cannot keep realtime: Redis pub/sub is
// down. A client polls GET …/thread/messages?after=seq meanwhile and retries
// the socket with backoff; the first socket that opens again catches up by cursor.
const CloseReasonUnavailable = "realtime unavailable"

// receive hands events to this instance's sockets until the subscription
// breaks or the hub closes it. A broken subscription (Redis stopped or
// unreachable) would leave every socket here silently missing events, so
// the hub drops it and closes the sockets with 1013 CloseReasonUnavailable:
// their clients fall back to polling, and new sockets are refused the same
// way until Redis answers again.
func (h *Hub) receive(ps *redis.PubSub) {
	probe := max(h.opts.Heartbeat/5, time.Second)
	unanswered := 0
	for {
		msg, err := ps.ReceiveTimeout(h.ctx, probe)
		var ne net.Error
		switch {
		case err == nil:
			unanswered = 0
		case errors.As(err, &ne) && ne.Timeout() && unanswered == 0:
			// Quiet for a while: ask Redis for a pong to tell quiet from gone.
			unanswered++
			if err := ps.Ping(h.ctx); err != nil {
				h.lost(ps, err)
				return
			}
			continue
		default:
			h.lost(ps, err)
			return
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // subscription confirmations and pongs
		}
		var env envelope
		if err := json.Unmarshal([]byte(m.Payload), &env); err != nil {
			h.log.Warn("realtime: bad envelope", "error", err.Error())
			continue
		}
		h.deliverLocal(env)
	}
}

// lost drops a broken subscription and closes this instance's sockets with
// 1013 CloseReasonUnavailable. A subscription the hub closed itself
// (shutdown) is not a loss.
func (h *Hub) lost(ps *redis.PubSub, err error) {
	h.mu.Lock()
	if h.pubsub != ps {
		h.mu.Unlock()
		return
	}
	h.pubsub = nil
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	ps.Close()
	if h.ctx.Err() != nil {
		return
	}
	h.log.Warn("realtime: redis subscription lost; sockets closed so clients poll", "error", err.Error(), "sockets", len(clients))
	for _, c := range clients {
		c.kick(CloseReasonUnavailable)
	}
}

// deliverLocal hands an event to this instance's sockets it is meant for.
func (h *Hub) deliverLocal(env envelope) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	targets := h.byActor[env.Key]
	o := outbound{payload: env.Event}
	if env.Recheck != "" {
		o.patientID, o.recheck = env.Recheck, true
	}
	if env.Thread {
		targets = h.byPatient[env.Key]
		o.patientID, o.seq = env.Key, env.Seq
	}
	for c := range targets {
		if env.Internal && c.actor.Kind != auth.KindStaff {
			continue
		}
		c.offer(o)
	}
}

func (h *Hub) publish(ctx context.Context, env envelope, ev Event) {
	raw, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("realtime: encode event", "error", err.Error())
		return
	}
	env.Event = raw
	b, err := json.Marshal(env)
	if err != nil {
		h.log.Error("realtime: encode envelope", "error", err.Error())
		return
	}
	// Best effort: the event is already committed, and clients catch up by cursor.
	if err := h.rdb.Publish(context.WithoutCancel(ctx), h.channel, b).Err(); err != nil {
		h.log.Warn("realtime: publish", "error", err.Error())
	}
}

// PublishThread sends an event to every socket subscribed to the patient's
// thread, on every instance. seq (0 for none) lets a socket skip what its
// catch-up already sent; internal events reach staff only.
func (h *Hub) PublishThread(ctx context.Context, patientID string, seq int64, internal bool, ev Event) {
	h.publish(ctx, envelope{Thread: true, Key: patientID, Seq: seq, Internal: internal}, ev)
}

// PublishActor sends an event to every socket of one actor ("staff:<id>" or "user:<id>").
func (h *Hub) PublishActor(ctx context.Context, key string, ev Event) {
	h.publish(ctx, envelope{Key: key, Internal: true}, ev)
}

// PublishAlert delivers an alert to the sockets of the staff it names, on
// every instance. The alert feature calls it (or a task handler for its
// alert.raised outbox topic does).
func (h *Hub) PublishAlert(ctx context.Context, a Alert) {
	for _, id := range a.StaffIDs {
		h.PublishActor(ctx, actorKey(auth.KindStaff, id), Event{Type: EventAlert, PatientID: a.PatientID, Alert: &a})
	}
}

// Recheck makes every socket of a WeChat user, on every instance, ask the
// access policy about patientID at once: a revoked family link (or a scope
// taken away) ends that subscription with "access_revoked" immediately,
// rather than at the next periodic re-check.
func (h *Hub) Recheck(ctx context.Context, userID, patientID string) {
	h.publish(ctx, envelope{Key: actorKey(auth.KindUser, userID), Recheck: patientID}, Event{Type: EventUnsubscribed, PatientID: patientID})
}

func (h *Hub) presenceKey(key string) string { return h.opts.Prefix + "rt:presence:" + key }

// Online reports whether an actor has a live socket on any instance. When
// Redis cannot answer it says no, so a notification is sent rather than lost.
func (h *Hub) Online(ctx context.Context, key string) bool {
	n, err := h.rdb.ZCount(ctx, h.presenceKey(key), strconv.FormatInt(time.Now().Unix(), 10), "+inf").Result()
	if err != nil {
		h.log.Warn("realtime: presence", "error", err.Error())
		return false
	}
	return n > 0
}

// touch marks a socket alive for two heartbeats.
func (h *Hub) touch(ctx context.Context, c *client) {
	key := h.presenceKey(actorKey(c.actor.Kind, c.actor.ID))
	ttl := 2*h.opts.Heartbeat + 5*time.Second
	pipe := h.rdb.TxPipeline()
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(time.Now().Add(ttl).Unix()), Member: c.id})
	pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(time.Now().Unix()-1, 10))
	pipe.Expire(ctx, key, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		h.log.Warn("realtime: presence", "error", err.Error())
	}
}

func (h *Hub) forget(c *client) {
	key := h.presenceKey(actorKey(c.actor.Kind, c.actor.ID))
	if err := h.rdb.ZRem(context.Background(), key, c.id).Err(); err != nil {
		h.log.Warn("realtime: presence", "error", err.Error())
	}
}

// register adds a socket; the first one starts the Redis subscription.
func (h *Hub) register(c *client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return errHubClosed
	}
	if err := h.listen(); err != nil {
		return err
	}
	c.nextPing.Store(time.Now().Add(h.opts.Heartbeat).UnixNano())
	h.clients[c] = struct{}{}
	add(h.byActor, actorKey(c.actor.Kind, c.actor.ID), c)
	h.wg.Add(1)
	return nil
}

func (h *Hub) unregister(c *client, subs []string) {
	h.mu.Lock()
	delete(h.clients, c)
	remove(h.byActor, actorKey(c.actor.Kind, c.actor.ID), c)
	for _, p := range subs {
		remove(h.byPatient, p, c)
	}
	h.mu.Unlock()
	h.wg.Done()
}

func (h *Hub) subscribe(c *client, patientID string) {
	h.mu.Lock()
	add(h.byPatient, patientID, c)
	h.mu.Unlock()
}

func (h *Hub) unsubscribe(c *client, patientID string) {
	h.mu.Lock()
	remove(h.byPatient, patientID, c)
	h.mu.Unlock()
}

func add(m map[string]map[*client]struct{}, key string, c *client) {
	set := m[key]
	if set == nil {
		set = map[*client]struct{}{}
		m[key] = set
	}
	set[c] = struct{}{}
}

func remove(m map[string]map[*client]struct{}, key string, c *client) {
	if set := m[key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// Connections is the number of sockets on this instance.
func (h *Hub) Connections() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

func (h *Hub) nextID() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(h.seq.Add(1), 36)
}

// Shutdown refuses new sockets and closes every open one with 1001 (going
// away), waiting until they are gone or ctx ends. net/http's Shutdown does
// not wait for hijacked connections, so the server calls this itself.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closing = true
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		go c.shut()
	}
	done := make(chan struct{})
	go func() {
		h.mu.Lock()
		ps := h.pubsub
		h.pubsub = nil
		h.mu.Unlock()
		if ps != nil {
			ps.Close()
		}
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		h.log.Warn("realtime: sockets still open at shutdown deadline", "count", h.Connections())
		for _, c := range clients {
			c.abort()
		}
	}
	h.cancel()
}

// Close stops the hub at once (the app's Close); Shutdown is the graceful way.
func (h *Hub) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	h.Shutdown(ctx)
}
