package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is one measured scenario (or baseline), as the load and raw
// children report it on stdout (JSON) and the report prints it.
type Result struct {
	Name     string          `json:"name"`
	Count    int             `json:"count"`
	Errors   int             `json:"errors"`
	Elapsed  time.Duration   `json:"elapsed"`
	P50      time.Duration   `json:"p50"`
	P99      time.Duration   `json:"p99"`
	FirstErr string          `json:"first_err,omitempty"`
	Extra    map[string]any  `json:"extra,omitempty"`
	CPU      float64         `json:"cpu"`      // server CPU seconds used during the scenario ÷ elapsed (1.0 = one core)
	PeakRSS  int64           `json:"peak_rss"` // bytes, sampled from /proc during the scenario
	Stmts    []StmtStat      `json:"stmts,omitempty"`
	lat      []time.Duration // not sent
}

// RPS is completed requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Count) / r.Elapsed.Seconds()
}

// summarise sorts the latencies and fills Count, P50 and P99.
func summarise(r *Result, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.Count = len(lat)
	r.P50, r.P99 = percentile(lat, 50), percentile(lat, 99)
}

// percentile is the nearest-rank percentile of sorted latencies (0 when empty).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// procCPU returns the user+system CPU time of a process from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b), 100) // USER_HZ is 100 on Linux
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat
// line; the command name (field 2) may hold spaces, so fields are counted
// after its closing parenthesis.
func parseStatCPU(stat string, hz int) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat: %d fields", len(f))
	}
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat times")
	}
	return time.Duration(u+s) * time.Second / time.Duration(hz), nil
}

// procRSS returns the resident set size of a process, in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseStatusKB(bufio.NewScanner(f), "VmRSS:")
}

// parseStatusKB returns the value of a "Key:  123 kB" line of /proc/<pid>/status in bytes.
func parseStatusKB(sc *bufio.Scanner, key string) (int64, error) {
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("%s not found", key)
}

// procWatch samples a process's RSS until stopped and reports its CPU share
// and the peak RSS seen.
type procWatch struct {
	pid   int
	cpu0  time.Duration
	t0    time.Time
	peak  int64
	stopc chan struct{}
	done  chan struct{}
}

func watchProc(pid int) *procWatch {
	w := &procWatch{pid: pid, t0: time.Now(), stopc: make(chan struct{}), done: make(chan struct{})}
	w.cpu0, _ = procCPU(pid)
	go func() {
		defer close(w.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, err := procRSS(pid); err == nil && rss > w.peak {
				w.peak = rss
			}
			select {
			case <-w.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop returns the CPU used per wall second (1.0 = one core busy) and the peak RSS.
func (w *procWatch) stop() (float64, int64) {
	close(w.stopc)
	<-w.done
	cpu1, _ := procCPU(w.pid)
	return (cpu1 - w.cpu0).Seconds() / time.Since(w.t0).Seconds(), w.peak
}
