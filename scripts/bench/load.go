package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carepath/carepath/scripts/internal/harness"
)

// LoadSpec is what the orchestrator hands the load generator (a child
// process, so the server's CPU and memory are its own).
type LoadSpec struct {
	Name     string        `json:"name"`
	Base     string        `json:"base"`
	Workers  int           `json:"workers"`
	Warmup   time.Duration `json:"warmup"`
	Duration time.Duration `json:"duration"`
	// Ops: each iteration picks one at random (e.g. one per patient).
	Ops []Op `json:"ops"`
	// StopOnRefused: the SIGTERM scenario; once the listener is gone
	// (connection refused) the worker stops: that request was never accepted.
	StopOnRefused bool `json:"stop_on_refused"`
	// Rate, when set, starts this many operations per second at a fixed pace
	// (open loop, at most 4×Workers in flight) instead of Workers clients
	// back to back: latency at a given load rather than at saturation.
	Rate float64 `json:"rate,omitempty"`
}

// Op is one request, or a group sent in parallel (a screen's calls); the
// latency of a group is that of its slowest request.
type Op struct {
	Method  string `json:"method,omitempty"`
	Path    string `json:"path,omitempty"`
	Token   string `json:"token,omitempty"`
	Cookie  string `json:"cookie,omitempty"`
	Reading bool   `json:"reading,omitempty"` // POST a fresh blood pressure with a fresh Idempotency-Key
	Group   []Op   `json:"group,omitempty"`
	InOrder bool   `json:"in_order,omitempty"` // the group's requests one after another (paging), not in parallel
}

func runLoad(args []string) error {
	s, err := harness.ReadSpec[LoadSpec](args)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: s.Workers * 8, MaxIdleConnsPerHost: s.Workers * 8}}
	if s.Warmup > 0 {
		drive(client, s, s.Warmup)
	}
	r := drive(client, s, s.Duration)
	return json.NewEncoder(os.Stdout).Encode(r)
}

var keySeq atomic.Int64

func drive(client *http.Client, s LoadSpec, d time.Duration) Result {
	rngs := make([]*rand.Rand, s.Workers)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	}
	if s.Rate > 0 {
		seed := uint64(time.Now().UnixNano())
		return openLoop(s.Name, s.Rate, 4*s.Workers, d, func(i int) error {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			return do(client, s.Base, s.Ops[rng.IntN(len(s.Ops))], rng)
		})
	}
	var refused atomic.Int64
	res := closedLoop(s.Name, s.Workers, d, func(w int) error {
		rng := rngs[w]
		err := do(client, s.Base, s.Ops[rng.IntN(len(s.Ops))], rng)
		if err != nil && s.StopOnRefused && strings.Contains(err.Error(), "connection refused") {
			refused.Add(1)
			return errStopWorker
		}
		return err
	})
	if s.StopOnRefused {
		res.Extra["refused_after_close"] = int(refused.Load())
	}
	return res
}

func do(client *http.Client, base string, op Op, rng *rand.Rand) error {
	if len(op.Group) > 0 && op.InOrder {
		for _, g := range op.Group {
			if err := do(client, base, g, rng); err != nil {
				return err
			}
		}
		return nil
	}
	if len(op.Group) > 0 {
		errc := make(chan error, len(op.Group))
		for _, g := range op.Group {
			go func(g Op) { errc <- do(client, base, g, rng2(rng)) }(g)
		}
		var errs []error
		for range op.Group {
			errs = append(errs, <-errc)
		}
		return errors.Join(errs...)
	}
	var body io.Reader
	method := op.Method
	if op.Reading {
		body = bytes.NewReader(reading(rng, time.Now()))
		method = http.MethodPost
	}
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, base+op.Path, body)
	if err != nil {
		return err
	}
	if op.Token != "" {
		req.Header.Set("Authorization", "Bearer "+op.Token)
	}
	if op.Cookie != "" {
		req.Header.Set("Cookie", op.Cookie)
	}
	if op.Reading {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), keySeq.Add(1)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, op.Path, resp.Status)
	}
	return nil
}

// rng2 gives a goroutine of a group a generator of its own (rand.Rand is not safe to share).
func rng2(r *rand.Rand) *rand.Rand { return rand.New(rand.NewPCG(r.Uint64(), r.Uint64())) }

// reading is a blood pressure taken in the last six days; one in twenty is
// critical, so alerts are raised and then folded.
func reading(rng *rand.Rand, now time.Time) []byte {
	sys, dia := 110+rng.IntN(30), 70+rng.IntN(18)
	if rng.IntN(20) == 0 {
		sys, dia = 182+rng.IntN(20), 100+rng.IntN(15)
	}
	at := now.Add(-time.Duration(rng.IntN(6*24*60)) * time.Minute).Format(time.RFC3339)
	b, _ := json.Marshal(map[string]any{"type": "blood_pressure", "systolic": sys, "diastolic": dia, "pulse": 60 + rng.IntN(30), "measured_at": at, "source": "device"})
	return b
}
