package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// report is one scenario's findings.
type report struct {
	name    string
	title   string
	started time.Time
	uptime  []string
	figures [][2]string
	table   string
	checks  []check
	notes   []string
}

// check is one expectation and whether it held.
type check struct {
	what   string
	ok     bool
	detail string
}

func newReport(name, title string) *report {
	r := &report{name: name, title: title, started: time.Now()}
	r.mark("start")
	return r
}

// mark records the machine's load (the machine is shared: read figures next to it).
func (r *report) mark(stage string) {
	out, _ := exec.Command("uptime").Output()
	r.uptime = append(r.uptime, fmt.Sprintf("%s: %s", stage, strings.TrimSpace(string(out))))
}

func (r *report) figure(label, format string, args ...any) {
	r.figures = append(r.figures, [2]string{label, fmt.Sprintf(format, args...)})
}

func (r *report) expect(what string, ok bool, format string, args ...any) {
	r.checks = append(r.checks, check{what: what, ok: ok, detail: fmt.Sprintf(format, args...)})
	verdict := "ok  "
	if !ok {
		verdict = "FAIL"
	}
	logf("%s %s: %s", verdict, what, fmt.Sprintf(format, args...))
}

func (r *report) passed() bool {
	return !slices.ContainsFunc(r.checks, func(c check) bool { return !c.ok })
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Faults: %s\n\n%s, %s\n\n", r.title, r.started.UTC().Format("2006-01-02 15:04:05 UTC"), map[bool]string{true: "**passed**", false: "**FAILED**"}[r.passed()])
	if len(r.figures) > 0 {
		b.WriteString("| figure | value |\n|---|---|\n")
		for _, f := range r.figures {
			fmt.Fprintf(&b, "| %s | %s |\n", f[0], f[1])
		}
		b.WriteString("\n")
	}
	if r.table != "" {
		b.WriteString(r.table + "\n")
	}
	b.WriteString("| expectation | held | detail |\n|---|---|---|\n")
	for _, c := range r.checks {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.what, map[bool]string{true: "yes", false: "**no**"}[c.ok], c.detail)
	}
	for _, n := range r.notes {
		b.WriteString("\n" + n + "\n")
	}
	b.WriteString("\nMachine load (`uptime`; the machine is shared, other builds ran at the same time):\n\n")
	for _, u := range r.uptime {
		b.WriteString("- " + u + "\n")
	}
	return b.String()
}

func (r *report) write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("faults-%s-%s.md", r.name, r.started.Format("20060102-150405")))
	return path, os.WriteFile(path, []byte(r.markdown()), 0o644)
}

// window is a fault: from its injection to the service's return.
type window struct{ from, to time.Time }

// phase names where a request started relative to the fault.
func (w window) phase(at time.Time) string {
	switch {
	case at.Before(w.from):
		return "before"
	case at.Before(w.to):
		return "during"
	default:
		return "after"
	}
}

// loadView reads a load result against a fault window.
type loadView struct {
	res LoadResult
	w   window
}

func (v loadView) at(s Sample) time.Time {
	return v.res.Start.Add(time.Duration(s.At) * time.Millisecond)
}

// codes counts statuses of op's requests in a phase ("" for every op or phase).
func (v loadView) codes(op, phase string) map[int]int {
	out := map[int]int{}
	for _, s := range v.res.Samples {
		if (op == "" || s.Op == op) && (phase == "" || v.w.phase(v.at(s)) == phase) {
			out[s.Status]++
		}
	}
	return out
}

// failures counts non-2xx answers (and no answers) among codes.
func failures(codes map[int]int, except ...int) int {
	n := 0
	for c, k := range codes {
		if c/100 != 2 && !slices.Contains(except, c) {
			n += k
		}
	}
	return n
}

func fmtCodes(codes map[int]int) string {
	if len(codes) == 0 {
		return "–"
	}
	keys := make([]int, 0, len(codes))
	for c := range codes {
		keys = append(keys, c)
	}
	slices.Sort(keys)
	var parts []string
	for _, c := range keys {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, codes[c]))
	}
	return strings.Join(parts, ", ")
}

// maxLatency is the slowest request that started in a phase, and its op.
func (v loadView) maxLatency(phase string) (time.Duration, string) {
	var worst time.Duration
	op := ""
	for _, s := range v.res.Samples {
		if d := time.Duration(s.Micros) * time.Microsecond; v.w.phase(v.at(s)) == phase && d > worst {
			worst, op = d, s.Op
		}
	}
	return worst, op
}

// recovery is how long after the service's return the last failed request
// (started after the return) ended: 0 when every request after the return succeeded.
func (v loadView) recovery() time.Duration {
	var last time.Duration
	for _, s := range v.res.Samples {
		at := v.at(s)
		if at.Before(v.w.to) || s.Status/100 == 2 {
			continue
		}
		if end := at.Add(time.Duration(s.Micros) * time.Microsecond).Sub(v.w.to); end > last {
			last = end
		}
	}
	return last
}

// acked returns the ids of the acknowledged (2xx) writes of ops.
func (v loadView) acked(ops ...string) []string {
	var ids []string
	for _, s := range v.res.Samples {
		if s.ID != "" && slices.Contains(ops, s.Op) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// table is the requests by operation and phase, with the statuses.
func (v loadView) table(ops []string) string {
	var b strings.Builder
	b.WriteString("| operation | requests | before the fault | during the fault | after the fault | max latency during |\n|---|---:|---|---|---|---:|\n")
	for _, op := range ops {
		all := v.codes(op, "")
		n := 0
		for _, k := range all {
			n += k
		}
		if n == 0 {
			continue
		}
		worst := time.Duration(0)
		for _, s := range v.res.Samples {
			if d := time.Duration(s.Micros) * time.Microsecond; s.Op == op && v.w.phase(v.at(s)) == "during" && d > worst {
				worst = d
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", op, n, fmtCodes(v.codes(op, "before")), fmtCodes(v.codes(op, "during")),
			fmtCodes(v.codes(op, "after")), worst.Round(time.Millisecond))
	}
	return b.String()
}
