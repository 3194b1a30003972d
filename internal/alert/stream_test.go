package alert_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/outbox"
)

type sseEvent struct{ id, event, data string }

type sseClient struct {
	events    chan sseEvent
	connected chan struct{}
	closed    chan struct{}
}

// openStream connects to the alert stream as a staff member and waits
// until the server has subscribed.
func openStream(t *testing.T, base, cookie string) *sseClient {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/alerts/stream", nil)
	req.AddCookie(&http.Cookie{Name: "carepath_session", Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{events: make(chan sseEvent, 16), connected: make(chan struct{}), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		first := true
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ": connected") && first:
				first = false
				close(c.connected)
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.event != "":
				c.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	select {
	case <-c.connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream never said it was connected")
	}
	return c
}

// next waits for the next event; the deadline only guards against a hang.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event arrived")
	}
	return sseEvent{}
}

// TestNewAlertsReachConnectedCaseManagers runs the real path: the report
// commits the alert and its outbox event, the relay hands it to asynq, the
// worker publishes it on Redis, and each connected CM receives the alerts
// of their own patients only.
func TestNewAlertsReachConnectedCaseManagers(t *testing.T) {
	e := apitest.New(t)
	srv := httptest.NewServer(e.App.Engine)
	defer srv.Close()
	defer e.App.AlertStream.Close() // before srv.Close, which waits for open streams
	// The demo's own alerts were announced when it was seeded: not part of this test.
	e.App.DB.Model(&outbox.Event{}).Where("dispatched_at IS NULL").Update("dispatched_at", time.Now().UTC())
	ctx, cancel := context.WithCancel(context.Background())
	workerDone := make(chan error, 1)
	go func() { workerDone <- e.App.RunWorker(ctx) }()
	defer func() {
		cancel()
		if err := <-workerDone; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()

	cm1, cm2 := e.LoginStaff("cm1"), e.LoginStaff("cm2")
	s1, s2 := openStream(t, srv.URL, cm1.Cookie), openStream(t, srv.URL, cm2.Cookie)

	p2, p6 := e.Demo.Patients["patient2"], e.Demo.Patients["patient6"]
	bp := reportAs(t, e, e.LoginWeChat("patient2").AccessToken, p2, bpAt(e, 186, 112, time.Minute)) // cm1's patient
	ev := s1.next(t)
	if ev.event != "alert.raised" || ev.id != bp.Alerts[0].ID || !strings.Contains(ev.data, `"severity":"critical"`) || carriesReading(t, ev.data, 186, 112) {
		t.Fatalf("cm1 got %+v, want alert %s without values", ev, bp.Alerts[0].ID)
	}
	low := reportAs(t, e, e.LoginWeChat("patient6").AccessToken, p6,
		obj{"type": "glucose", "value": 3.2, "context": "random", "measured_at": ago(e, time.Minute)}) // cm2's patient
	if ev := s2.next(t); ev.id != low.Alerts[0].ID {
		t.Fatalf("cm2's first event is %+v, want only their patient's alert %s", ev, low.Alerts[0].ID)
	}

	// Shutting down ends open streams, so the server can drain.
	e.App.AlertStream.Close()
	for _, c := range []*sseClient{s1, s2} {
		select {
		case <-c.closed:
		case <-time.After(10 * time.Second):
			t.Fatal("a stream stayed open after Close")
		}
	}
}

// carriesReading reports whether an event's JSON payload carries a reading:
// a field named like a value, or a number (or a "186/112"-like text) equal
// to one of the reading's values. Ids are not searched as text, since a UUID
// may contain "186".
func carriesReading(t *testing.T, data string, values ...float64) bool {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("event data is not JSON: %v", err)
	}
	found := false
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch key {
		case "value", "values", "systolic", "diastolic", "reading", "readings":
			found = true
		}
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(k, c)
			}
		case []any:
			for _, c := range x {
				walk(key, c)
			}
		case float64:
			if slices.Contains(values, x) {
				found = true
			}
		case string:
			for _, n := range values {
				if x == fmt.Sprint(n) || strings.Contains(x, fmt.Sprint(n)+"/") || strings.Contains(x, fmt.Sprint(n)+" mmHg") {
					found = true
				}
			}
		}
	}
	walk("", v)
	return found
}
