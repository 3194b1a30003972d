package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carepath/carepath/scripts/internal/harness"
)

// LoadSpec is what the orchestrator hands the load child: who calls, what,
// until when. The child is a process of its own so a fault in the harness's
// process (or its garbage collector) never shapes the figures.
type LoadSpec struct {
	Base     string    `json:"base"`
	Workers  int       `json:"workers"`
	Until    time.Time `json:"until"`
	Patients []Patient `json:"patients"`
	Cookie   string    `json:"cookie"` // the CM's desk session
	CSRF     string    `json:"csrf"`
	Mix      []Weight  `json:"mix"`
}

// Patient is a logged-in patient of the load.
type Patient struct {
	ID    string `json:"id"`
	Token string `json:"token"`
	Code  string `json:"code"` // the fake WeChat login code's name part
}

// Weight is how often an operation is picked.
type Weight struct {
	Op string `json:"op"`
	N  int    `json:"n"`
}

// The operations of the mix.
const (
	opMe       = "GET /me"
	opPlan     = "GET plan"
	opReadings = "GET readings"
	opReport   = "POST reading (Idempotency-Key)"
	opMessage  = "POST patient message"
	opReply    = "POST CM reply"
	opLogin    = "POST WeChat login"
)

// writeOps are the acknowledged writes counted against the database.
var writeOps = map[string]bool{opReport: true, opMessage: true, opReply: true}

// Sample is one request: when it started (ms since the load's start), the
// status (0: no HTTP answer), the latency and, for an acknowledged write, the id.
type Sample struct {
	At     int64  `json:"at"`
	Op     string `json:"op"`
	Status int    `json:"status"`
	Micros int64  `json:"us"`
	ID     string `json:"id,omitempty"`
}

// LoadResult is what the load child prints.
type LoadResult struct {
	Start   time.Time `json:"start"`
	Samples []Sample  `json:"samples"`
}

func runLoad(args []string) error {
	s, err := harness.ReadSpec[LoadSpec](args)
	if err != nil {
		return err
	}
	// Longer than the server's request deadline (30 s): a hang shows as a hang.
	client := &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: s.Workers * 2}}
	var picks []string
	for _, w := range s.Mix {
		for range w.N {
			picks = append(picks, w.Op)
		}
	}
	res := LoadResult{Start: time.Now()}
	var mu sync.Mutex
	var seq atomic.Int64
	var wg sync.WaitGroup
	for w := range s.Workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for time.Now().Before(s.Until) {
				p := s.Patients[rng.IntN(len(s.Patients))]
				op := picks[rng.IntN(len(picks))]
				t0 := time.Now()
				status, id := call(client, s, p, op, rng, seq.Add(1))
				smp := Sample{At: t0.Sub(res.Start).Milliseconds(), Op: op, Status: status, Micros: time.Since(t0).Microseconds(), ID: id}
				mu.Lock()
				res.Samples = append(res.Samples, smp)
				mu.Unlock()
				if status == 0 || status >= 500 {
					time.Sleep(50 * time.Millisecond) // a client backs off a little; no tight error loop
				}
			}
		})
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// call sends one operation and returns the status and, for an acknowledged write, the id.
func call(client *http.Client, s LoadSpec, p Patient, op string, rng *rand.Rand, n int64) (int, string) {
	pp := s.Base + "/api/v1/patients/" + p.ID
	method, url, token, cookie := http.MethodGet, "", p.Token, false
	var body any
	idemKey := ""
	switch op {
	case opMe:
		url = s.Base + "/api/v1/me"
	case opPlan:
		url = pp + "/plan"
	case opReadings:
		url = pp + "/observations?type=blood_pressure&limit=20"
	case opReport:
		method, url = http.MethodPost, pp+"/observations"
		idemKey = fmt.Sprintf("faults-%d-%d", os.Getpid(), n)
		at := time.Now().Add(-time.Duration(rng.IntN(3*24*60)) * time.Minute).Format(time.RFC3339)
		body = map[string]any{"type": "blood_pressure", "systolic": 110 + rng.IntN(30), "diastolic": 70 + rng.IntN(18),
			"pulse": 60 + rng.IntN(30), "measured_at": at, "source": "device"}
	case opMessage:
		method, url = http.MethodPost, pp+"/thread/messages"
		body = map[string]any{"client_msg_id": fmt.Sprintf("faults-p-%d-%d", os.Getpid(), n), "text": "今天血压正常，按时服药。"}
	case opReply:
		method, url, token, cookie = http.MethodPost, pp+"/thread/messages", "", true
		body = map[string]any{"client_msg_id": fmt.Sprintf("faults-c-%d-%d", os.Getpid(), n), "text": "收到，请继续每天记录血压。"}
	case opLogin:
		method, url, token = http.MethodPost, s.Base+"/api/v1/auth/wechat/login", ""
		body = map[string]any{"code": fmt.Sprintf("test-%s~%d-%d", p.Code, os.Getpid(), n)}
	default:
		return 0, ""
	}
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, ""
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if cookie {
		req.Header.Set("Cookie", s.Cookie)
		req.Header.Set("X-CSRF-Token", s.CSRF)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !writeOps[op] || resp.StatusCode/100 != 2 {
		return resp.StatusCode, ""
	}
	var out struct {
		ID      string `json:"id"`
		Reading struct {
			ID string `json:"id"`
		} `json:"reading"`
	}
	_ = json.Unmarshal(b, &out)
	if out.Reading.ID != "" {
		return resp.StatusCode, out.Reading.ID
	}
	return resp.StatusCode, out.ID
}
