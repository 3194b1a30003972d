package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/scripts/internal/harness"
)

var allOps = []string{opMe, opPlan, opReadings, opReport, opMessage, opReply, opLogin}

// startLoad runs the load child until `until`; wait returns its result.
func (e *env) startLoad(o options, until time.Time) (wait func() (LoadResult, error), err error) {
	spec := LoadSpec{Base: e.base, Workers: o.workers, Until: until, Patients: e.load, Cookie: e.staff.Cookie, CSRF: e.staff.CSRF,
		Mix: []Weight{{opMe, 20}, {opPlan, 15}, {opReadings, 15}, {opReport, 20}, {opMessage, 12}, {opReply, 12}, {opLogin, 3}}}
	f, err := os.CreateTemp(e.dir, "load-*.json")
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(f).Encode(spec); err != nil {
		return nil, err
	}
	f.Close()
	cmd := exec.Command(e.self, "load", "-spec", f.Name())
	cmd.Stderr = os.Stderr
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() (LoadResult, error) {
		var r LoadResult
		if err := cmd.Wait(); err != nil {
			return r, fmt.Errorf("load: %w", err)
		}
		return r, json.Unmarshal([]byte(out.String()), &r)
	}, nil
}

// stored counts which of ids are rows of table.
func (e *env) stored(table string, ids []string) (int, error) {
	total := 0
	for lo := 0; lo < len(ids); lo += 500 {
		var n int64
		if err := e.seeder.DB.Table(table).Where("id IN ?", ids[lo:min(lo+500, len(ids))]).Count(&n).Error; err != nil {
			return 0, err
		}
		total += int(n)
	}
	return total, nil
}

// loadFigures adds what every load scenario reports and checks: requests,
// statuses by phase, the slowest request during the fault, the recovery,
// and acknowledged writes against the rows stored.
func (e *env) loadFigures(r *report, v loadView) error {
	r.table = v.table(allOps)
	r.figure("requests", "%d (%s)", len(v.res.Samples), fmtCodes(v.codes("", "")))
	r.figure("during the fault", "%s", fmtCodes(v.codes("", "during")))
	worst, op := v.maxLatency("during")
	r.figure("max latency during the fault", "%s (%s)", worst.Round(time.Millisecond), op)
	r.figure("time to recover", "%s after the service returned (last failed request started after its return)", v.recovery().Round(time.Millisecond))
	readings, messages := v.acked(opReport), v.acked(opMessage, opReply)
	sr, err := e.stored("observations", readings)
	if err != nil {
		return err
	}
	sm, err := e.stored("thread_messages", messages)
	if err != nil {
		return err
	}
	r.figure("readings acknowledged / stored", "%d / %d", len(readings), sr)
	r.figure("messages acknowledged / stored", "%d / %d", len(messages), sm)
	r.expect("every acknowledged write is stored", sr == len(readings) && sm == len(messages) && len(readings) > 0 && len(messages) > 0,
		"readings %d/%d, messages %d/%d", sr, len(readings), sm, len(messages))
	// The last few seconds: everything answers again.
	tail := loadView{res: v.res, w: window{from: v.w.from, to: time.Now().Add(-5 * time.Second)}}
	if end := v.res.Start.Add(time.Duration(v.res.Samples[len(v.res.Samples)-1].At) * time.Millisecond); end.Before(tail.w.to) {
		tail.w.to = end.Add(-5 * time.Second)
	}
	last := tail.codes("", "after")
	r.expect("recovered by itself (last 5 s of load all 2xx)", failures(last) == 0 && len(last) > 0, "%s", fmtCodes(last))
	return nil
}

// redisScenario: Redis stopped under load.
func redisScenario(ctx context.Context, e *env, o options) (*report, error) {
	r := newReport("redis", "Redis stopped under load")
	start := time.Now()
	until := start.Add(o.duration)
	wait, err := e.startLoad(o, until)
	if err != nil {
		return nil, err
	}
	sock := watchSocket(ctx, e.base, e.load[0], until)
	time.Sleep(o.duration / 4)
	r.mark("Redis stopped")
	w := window{from: time.Now()}
	e.redis.stop()
	gone := window{from: time.Now()} // Redis's port closed: nothing may still reach it
	// The CM answers the quiet patients now: each reply is an outbox event
	// (in the database) that must become a push once Redis is back.
	replied := map[string]bool{}
	for _, p := range e.quiet {
		if e.reply(p.ID) {
			replied[p.ID] = true
		}
	}
	time.Sleep(max(0, o.down-time.Since(gone.from)))
	if err := e.redis.start(); err != nil {
		return nil, err
	}
	w.to = time.Now()
	gone.to = w.to
	r.mark("Redis back")
	res, err := wait()
	if err != nil {
		return nil, err
	}
	v := loadView{res: res, w: w}
	r.figure("Redis down", "%s (stopped with SIGTERM, AOF on; restarted on the same port)", w.to.Sub(w.from).Round(time.Millisecond))
	if err := e.loadFigures(r, v); err != nil {
		return nil, err
	}
	noRedis := []string{opMe, opPlan, opReadings, opReport, opMessage, opReply}
	bad := 0
	for _, op := range noRedis {
		bad += failures(v.codes(op, "during"))
	}
	r.expect("reads and writes that do not need Redis keep answering 2xx", bad == 0, "%d non-2xx of %d during the fault", bad, count(v, noRedis, "during"))
	logins := loadView{res: res, w: gone}.codes(opLogin, "during")
	r.expect("logins answer 503 once Redis is gone (rate limits fail closed)", logins[503] > 0 && failures(logins, 503) == 0 && logins[200] == 0,
		"%s", fmtCodes(logins))

	// Realtime: the socket learns it must poll, and comes back.
	events := sock.wait()
	closedAt, refused, reopened := time.Time{}, 0, time.Time{}
	for _, ev := range events {
		switch {
		case ev.what == "closed 1013 "+messaging.CloseReasonUnavailable && closedAt.IsZero() && !ev.at.Before(w.from):
			closedAt = ev.at
		case ev.what == "refused 1013 "+messaging.CloseReasonUnavailable && ev.at.After(w.from):
			refused++
		case ev.what == "open" && !closedAt.IsZero() && ev.at.After(closedAt) && reopened.IsZero():
			reopened = ev.at
		}
	}
	r.figure("WebSocket", "%s", summarise(events, start))
	r.expect("an open socket is closed with 1013 \"realtime unavailable\" (the client polls)", !closedAt.IsZero(),
		"closed %s after Redis stopped; %d reconnects refused the same way while it was down", since(closedAt, w.from), refused)
	r.expect("a socket opens again once Redis is back", !reopened.IsZero(), "%s after the harness saw Redis answer again (negative: the client was first)", since(reopened, w.to))

	// Pushes: every reply to an offline patient is pushed once, none lost.
	planned, sent, statuses, err := e.settlePushes(ctx, notify.KindCMMessage, 60*time.Second)
	if err != nil {
		return nil, err
	}
	wechat := 0
	for _, m := range e.wechat.Sent() {
		if m.TemplateID == "tmpl-cm-message" {
			wechat++
		}
	}
	var pending int64
	e.seeder.DB.Table("outbox_events").Where("dispatched_at IS NULL").Count(&pending)
	r.figure("pushes (CM replies to offline patients)", "%d planned, %d recorded sent, %d accepted by WeChat; statuses %v; outbox events not relayed: %d",
		planned, sent, wechat, statuses, pending)
	var quiet []string
	for _, p := range e.quiet {
		quiet = append(quiet, p.ID)
	}
	var quietRows, quietSent int64
	e.seeder.DB.Table("push_log").Where("kind = ? AND patient_id IN ?", notify.KindCMMessage, quiet).Count(&quietRows)
	e.seeder.DB.Table("push_log").Where("kind = ? AND patient_id IN ? AND status = ?", notify.KindCMMessage, quiet, notify.StatusSent).Count(&quietSent)
	quietWeChat := 0
	for _, m := range e.wechat.Sent() {
		for _, id := range quiet {
			if strings.Contains(m.Page, id) {
				quietWeChat++
			}
		}
	}
	r.figure("pushes produced while Redis was down", "%d CM replies acknowledged (201) to patients without a socket → %d pushes planned after Redis returned, %d sent, %d accepted by WeChat",
		len(replied), quietRows, quietSent, quietWeChat)
	r.expect("pushes produced while Redis was down are not lost: relayed and sent once when it returns",
		len(replied) == len(e.quiet) && int(quietRows) == len(replied) && int(quietSent) == len(replied) && quietWeChat == len(replied),
		"%d replies → %d planned, %d sent, %d at WeChat", len(replied), quietRows, quietSent, quietWeChat)
	r.expect("every push of the run sent exactly once", planned > 0 && sent == planned && wechat == planned && pending == 0,
		"%d planned, %d sent, %d at WeChat, %d outbox events left", planned, sent, wechat, pending)
	r.notes = append(r.notes, "Phases are by the time a request started: before the fault, during it (Redis stopped → Redis answering again), after it.")
	r.mark("end")
	return r, nil
}

// mariadbScenario: MariaDB restarted under load.
func mariadbScenario(ctx context.Context, e *env, o options) (*report, error) {
	r := newReport("mariadb", "MariaDB restarted under load")
	until := time.Now().Add(o.duration)
	wait, err := e.startLoad(o, until)
	if err != nil {
		return nil, err
	}
	time.Sleep(o.duration / 4)
	r.mark("MariaDB stopped")
	w := window{from: time.Now()}
	e.maria.stop()
	stopped := time.Since(w.from)
	time.Sleep(o.down)
	if err := e.maria.start(); err != nil {
		return nil, err
	}
	w.to = time.Now()
	r.mark("MariaDB back")
	res, err := wait()
	if err != nil {
		return nil, err
	}
	v := loadView{res: res, w: w}
	r.figure("MariaDB down", "%s (SIGTERM, stopped in %s; restarted on the same port and data directory)", w.to.Sub(w.from).Round(time.Millisecond), stopped.Round(time.Millisecond))
	if err := e.loadFigures(r, v); err != nil {
		return nil, err
	}
	during, all := v.codes("", "during"), v.codes("", "")
	r.expect("requests that fail while MariaDB is down answer 503 (requests that reached it before it closed may still succeed)", during[503] > 0 && failures(during, 503) == 0, "%s", fmtCodes(during))
	r.expect("no other failure, in flight at the stop either (no 500, no dropped connection)", failures(all, 503) == 0, "whole run: %s", fmtCodes(all))
	worst, op := v.maxLatency("during")
	r.expect("they fail fast: no request hangs (max latency ≤ 5 s)", worst <= 5*time.Second, "%s (%s)", worst.Round(time.Millisecond), op)
	r.expect("recovers by itself within 15 s of MariaDB's return", v.recovery() <= 15*time.Second, "%s", v.recovery().Round(time.Millisecond))
	r.notes = append(r.notes, "Phases are by the time a request started: before the fault, during it (SIGTERM to MariaDB → MariaDB accepting connections again), after it. "+
		"Writes are not retried by the load: an acknowledged write is one that answered 2xx.")
	r.mark("end")
	return r, nil
}

// settlePushes waits (up to limit) until no push of kind is open and
// returns how many were planned, sent, and their statuses.
func (e *env) settlePushes(ctx context.Context, kind string, limit time.Duration) (planned, sent int, statuses map[string]int, err error) {
	deadline := time.Now().Add(limit)
	for {
		var rows []struct {
			Status string
			N      int
		}
		if err := e.seeder.DB.WithContext(ctx).Table("push_log").Select("status, COUNT(*) AS n").Where("kind = ?", kind).Group("status").Scan(&rows).Error; err != nil {
			return 0, 0, nil, err
		}
		statuses, planned, sent = map[string]int{}, 0, 0
		open := 0
		for _, row := range rows {
			statuses[row.Status] = row.N
			planned += row.N
			if row.Status == notify.StatusSent {
				sent = row.N
			}
			if !notify.Final(row.Status) {
				open += row.N
			}
		}
		if open == 0 || time.Now().After(deadline) {
			return planned, sent, statuses, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func count(v loadView, ops []string, phase string) int {
	n := 0
	for _, op := range ops {
		for _, k := range v.codes(op, phase) {
			n += k
		}
	}
	return n
}

func since(t, from time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(from).Round(time.Millisecond).String()
}

// sockEvent is something the watched socket went through.
type sockEvent struct {
	at   time.Time
	what string // open, closed <code> <reason>, refused <code> <reason>, dial failed
}

type sockWatch struct {
	mu     sync.Mutex
	events []sockEvent
	done   chan struct{}
}

func (s *sockWatch) add(what string) {
	s.mu.Lock()
	s.events = append(s.events, sockEvent{at: time.Now(), what: what})
	s.mu.Unlock()
}

func (s *sockWatch) wait() []sockEvent {
	<-s.done
	return s.events
}

// watchSocket keeps one patient's socket open as the mini-program does:
// subscribe, read, and when it ends reconnect after a second.
func watchSocket(ctx context.Context, base string, p Patient, until time.Time) *sockWatch {
	s := &sockWatch{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for time.Now().Before(until) && ctx.Err() == nil {
			s.session(ctx, base, p, until)
			time.Sleep(time.Second)
		}
	}()
	return s
}

func (s *sockWatch) session(ctx context.Context, base string, p Patient, until time.Time) {
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{"carepath.v1", "bearer." + p.Token}})
	if err != nil {
		s.add("dial failed")
		return
	}
	defer ws.CloseNow()
	first := true
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			switch {
			case ctx.Err() != nil:
			case errors.As(err, &ce) && first:
				s.add(fmt.Sprintf("refused %d %s", ce.Code, ce.Reason))
			case errors.As(err, &ce):
				s.add(fmt.Sprintf("closed %d %s", ce.Code, ce.Reason))
			default:
				s.add("ended without a close frame")
			}
			return
		}
		if first {
			first = false
			s.add("open")
			_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","patient_id":"`+p.ID+`"}`))
		}
		_ = b
	}
}

// summarise lists the socket's life, collapsing repeats.
func summarise(events []sockEvent, start time.Time) string {
	var parts []string
	for i := 0; i < len(events); {
		j := i
		for j < len(events) && events[j].what == events[i].what {
			j++
		}
		part := fmt.Sprintf("%.1f s %s", events[i].at.Sub(start).Seconds(), events[i].what)
		if j-i > 1 {
			part += fmt.Sprintf(" ×%d", j-i)
		}
		parts = append(parts, part)
		i = j
	}
	return strings.Join(parts, "; ")
}

// dueToday is the worker scenario's reminder source: one questionnaire due now per patient.
type dueToday struct{ patients []string }

func (d dueToday) DueReminders(_ context.Context, day time.Time) ([]notify.Request, error) {
	out := make([]notify.Request, len(d.patients))
	for i, p := range d.patients {
		out[i] = notify.Request{Kind: notify.KindQuestionnaireDue, PatientID: p,
			DedupeKey: "faults:" + p + ":" + day.Format("20060102"), At: time.Now()}
	}
	return out, nil
}

// workerScenario: the worker is killed (SIGKILL) mid-push and restarted.
func workerScenario(ctx context.Context, e *env, o options) (*report, error) {
	r := newReport("worker", "Worker killed mid-push")
	tmpl, ok := e.seeder.Notify.Templates().Template(notify.KindQuestionnaireDue)
	if !ok {
		return nil, errors.New("no questionnaire_due template")
	}
	const openIDs = "fake-openid-faults-push-" // the fake accepts sends to fake-openid-*
	// Three credits each: a user who accepted the template several times,
	// so a credit never hides a second send.
	ids, err := harness.SeedPushRecipients(ctx, e.seeder.DB, e.hospital, e.dept, tmpl.TemplateID, openIDs, o.pushes, 3)
	if err != nil {
		return nil, err
	}
	e.wechat.SetDelay(30 * time.Millisecond) // WeChat's round trip: sends are in flight when the worker dies
	sends := func() map[string]int {
		per := map[string]int{}
		for _, m := range e.wechat.Sent() {
			if strings.HasPrefix(m.ToOpenID, openIDs) {
				per[m.ToOpenID]++
			}
		}
		return per
	}
	total := func(per map[string]int) int {
		n := 0
		for _, k := range per {
			n += k
		}
		return n
	}
	e.seeder.Notify.AddReminderSource(dueToday{patients: ids})
	t0 := time.Now()
	planned, err := e.seeder.Notify.PlanDailyReminders(ctx)
	if err != nil {
		return nil, err
	}
	r.figure("pushes planned", "%d (one per patient, each with 3 credits) in %s", planned, time.Since(t0).Round(time.Millisecond))
	for total(sends()) < o.pushes/3 && time.Since(t0) < 60*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	r.mark("worker killed")
	e.worker.Kill()
	killedAt := time.Now()
	atKill := total(sends())
	// The sends in flight when it died: the pushes claimed (status sending)
	// and not yet settled. A send task carries a batch, and claims a chunk of
	// it at a time, so these are pushes, not tasks.
	var inFlight []string
	if err := e.seeder.DB.Table("push_log").Where("kind = ? AND status = ?", notify.KindQuestionnaireDue, notify.StatusSending).
		Pluck("id", &inFlight).Error; err != nil {
		return nil, fmt.Errorf("pushes claimed at the kill: %w", err)
	}
	_, sentRows, statuses, err := e.settlePushes(ctx, notify.KindQuestionnaireDue, 0)
	if err != nil {
		return nil, err
	}
	r.figure("at the kill (SIGKILL)", "%d sends accepted by WeChat; push log: %d sent, statuses %v; %d sends in flight (claimed, not settled)",
		atKill, sentRows, statuses, len(inFlight))
	time.Sleep(time.Second)
	if err := e.restartWorker(); err != nil {
		return nil, err
	}
	r.mark("worker restarted")
	// asynq gives a dead worker's tasks back when their lease has expired
	// (30 s lease + 30 s margin, checked every minute): allow for it.
	_, sentRows, statuses, err = e.settlePushes(ctx, notify.KindQuestionnaireDue, 150*time.Second)
	if err != nil {
		return nil, err
	}
	settled := time.Since(killedAt)
	per := sends()
	dups, twice := 0, 0
	for _, k := range per {
		if k > 1 {
			dups += k - 1
			twice++
		}
	}
	// Each push's fate: the sends WeChat got for its patient, by final status.
	var rows []struct{ ID, Status, OpenID string }
	e.seeder.DB.Table("push_log").Select("push_log.id AS id, push_log.status AS status, users.open_id AS open_id").
		Joins("JOIN users ON users.id = push_log.user_id").Where("push_log.kind = ? AND users.open_id LIKE ?", notify.KindQuestionnaireDue, openIDs+"%").Scan(&rows)
	fate := map[string]int{} // "<status>, <n> sent"
	wasInFlight := map[string]bool{}
	for _, id := range inFlight {
		wasInFlight[id] = true
	}
	lostSilently, sentButNotRecorded, interruptedDelivered, interruptedNot, interruptedNotInFlight := 0, 0, 0, 0, 0
	for _, row := range rows {
		n := per[row.OpenID]
		fate[fmt.Sprintf("%s, %d sent", row.Status, n)]++
		if row.Status == notify.StatusInterrupted && !wasInFlight[row.ID] {
			interruptedNotInFlight++
		}
		switch {
		case row.Status == notify.StatusInterrupted && n == 1:
			interruptedDelivered++
		case row.Status == notify.StatusInterrupted:
			interruptedNot++
		case row.Status == notify.StatusSent && n == 0, row.Status != notify.StatusSent && n == 0 && row.Status != notify.StatusInterrupted:
			lostSilently++
		case row.Status != notify.StatusSent && n > 0:
			sentButNotRecorded++
		}
	}
	inFlightFate := map[string]int{}
	for _, row := range rows {
		if wasInFlight[row.ID] {
			inFlightFate[fmt.Sprintf("%s, %d sent", row.Status, per[row.OpenID])]++
		}
	}
	r.figure("after the restart", "all pushes settled %s after the kill (asynq gives a dead worker's tasks back once their lease has expired: ≈ 60 s, then the retry delay); WeChat accepted %d sends for %d of %d patients; push log: %d sent, statuses %v",
		settled.Round(time.Millisecond), total(per), len(per), o.pushes, sentRows, statuses)
	r.figure("the sends in flight at the kill", "%d: %v", len(inFlight), inFlightFate)
	r.figure("every push by final status and sends WeChat got", "%v", fate)
	r.figure("sent twice", "%d pushes (%d extra sends)", twice, dups)
	r.figure("interrupted by the kill", "%d recorded interrupted: %d had reached WeChat (delivered once), %d had not (lost to the crash, visible in the push log)",
		interruptedDelivered+interruptedNot, interruptedDelivered, interruptedNot)
	open := 0
	for st, n := range statuses {
		if !notify.Final(st) {
			open += n
		}
	}
	r.expect("each push sent at most once", dups == 0, "%d duplicate sends", dups)
	r.expect("every push WeChat accepted is one the log holds as sent or interrupted (none unrecorded)", sentButNotRecorded == 0, "%d", sentButNotRecorded)
	r.expect("no push lost silently: each is sent, or recorded interrupted (only sends in flight at the kill)",
		lostSilently == 0 && open == 0 && interruptedNotInFlight == 0,
		"%d lost without a record, %d still open, %d interrupted of %d in flight, %d interrupted that were not in flight",
		lostSilently, open, interruptedDelivered+interruptedNot, len(inFlight), interruptedNotInFlight)
	r.notes = append(r.notes, "A push is claimed (status sending, with its credit) before WeChat is called. A kill between the claim and recording WeChat's answer "+
		"leaves it claimed; the redelivered task records it interrupted and does not send it again: at most once. Such a push was delivered if WeChat "+
		"had accepted it before the kill, and not otherwise; WeChat offers no idempotency key to tell which.")
	r.mark("end")
	return r, nil
}

// reply sends one CM reply to a patient's thread and reports whether it was acknowledged.
func (e *env) reply(patientID string) bool {
	body := strings.NewReader(fmt.Sprintf(`{"client_msg_id":"quiet-%s","text":"您好，请按时复诊。"}`, patientID))
	req, err := http.NewRequest(http.MethodPost, e.base+"/api/v1/patients/"+patientID+"/thread/messages", body)
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", e.staff.Cookie)
	req.Header.Set("X-CSRF-Token", e.staff.CSRF)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusCreated
}
