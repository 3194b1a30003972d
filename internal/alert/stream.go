package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

// Channel is the pub/sub channel alert events fan out on.
const Channel = "alerts"

// PubSub is the realtime fan-out (platform/cache.PubSub over Redis).
type PubSub interface {
	Publish(ctx context.Context, channel string, msg []byte) error
	Subscribe(ctx context.Context, channel string) (<-chan []byte, func(), error)
}

// Stream delivers alert.raised events to connected staff clients as
// server-sent events, each checked against the access policy for the
// listening staff member. It is the event stream the messaging feature's
// realtime layer (WebSocket) will take over: it subscribes to Channel, or
// handles TopicRaised itself.
type Stream struct {
	ps        PubSub
	policy    *access.Policy
	heartbeat time.Duration
	done      chan struct{}
	closeOnce sync.Once
}

// NewStream builds the stream.
func NewStream(ps PubSub, policy *access.Policy) *Stream {
	return &Stream{ps: ps, policy: policy, heartbeat: 25 * time.Second, done: make(chan struct{})}
}

// Close ends every open stream (on server shutdown, so that draining does
// not wait for clients that never hang up).
func (s *Stream) Close() { s.closeOnce.Do(func() { close(s.done) }) }

// HandleRaised is the asynq handler of TopicRaised: the outbox relay hands
// each committed alert event to it, and it publishes the event to every
// instance's connected clients.
func (s *Stream) HandleRaised(ctx context.Context, t *asynq.Task) error {
	var ev RaisedEvent
	if err := json.Unmarshal(t.Payload(), &ev); err != nil {
		return fmt.Errorf("%s: bad payload: %v: %w", TopicRaised, err, asynq.SkipRetry)
	}
	return s.ps.Publish(ctx, Channel, t.Payload())
}

// Serve handles GET /api/v1/alerts/stream: text/event-stream of
// "alert.raised" events for the staff member's patients. Events carry ids
// and severity only; the client loads the alert by id. A reconnecting
// client reloads GET /api/v1/alerts (pub/sub is at most once).
func (s *Stream) Serve(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	ctx := c.Request.Context()
	events, stop, err := s.ps.Subscribe(ctx, Channel)
	if err != nil {
		web.Error(c, apperr.Unavailable("redis", err))
		return
	}
	defer stop()
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-cache")
	c.Header("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	c.Status(http.StatusOK)
	write := func(s string) bool {
		if _, err := c.Writer.WriteString(s); err != nil {
			return false
		}
		c.Writer.Flush()
		return true
	}
	if !write(": connected\n\n") {
		return
	}
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-tick.C:
			if !write(": ping\n\n") {
				return
			}
		case msg, ok := <-events:
			if !ok {
				return
			}
			var ev RaisedEvent
			if json.Unmarshal(msg, &ev) != nil {
				continue
			}
			if _, err := s.policy.Check(ctx, a, access.ClinicalManage, ev.PatientID); err != nil {
				continue
			}
			if !write(fmt.Sprintf("id: %s\nevent: %s\ndata: %s\n\n", ev.AlertID, TopicRaised, msg)) {
				return
			}
		}
	}
}
