package main

import (
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// target is the goal for one scenario: a ratio to a baseline of the
// same run and/or an absolute p99.
type target struct {
	baseline string  // name of the baseline result
	ratio    float64 // throughput ÷ baseline throughput at least this (0: none)
	p99      time.Duration
	// reference: the ratio is shown for comparison, it is not a goal.
	reference bool
}

// ceilingOneSelect is the plain JSON endpoint answering the raw one-row
// SELECT: what any route that reads the database once could at best reach.
const ceilingOneSelect = "ceiling: plain JSON endpoint + one-row SELECT"

// ceilingOneInsert is the same for a route that writes one row.
const ceilingOneInsert = "ceiling: plain JSON endpoint + INSERT in a transaction"

// ceilingAuthenticated is the product server answering an authenticated
// request without reading anything: the middleware chain and authentication
// every route pays, /me included.
const ceilingAuthenticated = "ceiling: authenticated route that reads nothing"

// halfLoad names a scenario's second run, paced at half the requests per
// second its saturated run reached.
const halfLoad = " at half of max load"

// targets maps scenario names to the targets. Throughput is judged
// at saturation (16 clients back to back), latency at half of that load: at
// saturation a closed loop's latency is its queue (clients ÷ throughput).
var targets = map[string]target{
	"GET /api/v1/me":                             {baseline: "baseline: plain JSON endpoint", ratio: 0.5},
	"GET /api/v1/me" + halfLoad:                  {p99: 20 * time.Millisecond},
	"patient home screen":                        {baseline: "raw: one-row prepared SELECT", ratio: 0.4},
	"CM reads a patient's recent readings":       {baseline: "raw: one-row prepared SELECT", ratio: 0.4},
	"report a reading":                           {baseline: "raw: single INSERT in a transaction", ratio: 0.6},
	"report a reading" + halfLoad:                {p99: 50 * time.Millisecond},
	"a year's trend" + halfLoad:                  {p99: 30 * time.Millisecond},
	"catch-up of 500 missed messages" + halfLoad: {p99: 100 * time.Millisecond},
	"SIGTERM under load (GET /me)":               {},
	ceilingOneSelect:                             {baseline: "raw: one-row prepared SELECT", reference: true},
	ceilingOneInsert:                             {baseline: "raw: single INSERT in a transaction", reference: true},
	ceilingAuthenticated:                         {baseline: "baseline: plain JSON endpoint", reference: true},
}

type report struct {
	opts     options
	started  time.Time
	seeded   string
	results  []Result
	uptimes  []string
	children []string
}

// uptime records the machine's load (shared with other work) at a point of the run.
func (r *report) uptime(label string) {
	out, err := exec.Command("uptime").Output()
	line := strings.TrimSpace(string(out))
	if err != nil {
		line = err.Error()
	}
	r.uptimes = append(r.uptimes, fmt.Sprintf("%s: `%s`", label, line))
	logf("uptime (%s): %s", label, line)
}

func (r *report) add(res Result) { r.results = append(r.results, res) }

func (r *report) child(title, out string, err error) {
	s := "### " + title + "\n\n" + out
	if err != nil {
		s += fmt.Sprintf("\n\nfailed: %v\n", err)
	}
	r.children = append(r.children, s)
	fmt.Fprintln(os.Stderr, s)
}

func (r *report) byName(name string) (Result, bool) {
	for _, res := range r.results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// ratio of a scenario to its baseline, and whether it is known.
func (r *report) ratio(res Result) (float64, target, bool) {
	t, ok := targets[res.Name]
	if !ok || t.baseline == "" {
		return 0, t, false
	}
	b, ok := r.byName(t.baseline)
	if !ok || b.RPS() == 0 {
		return 0, t, false
	}
	return res.RPS() / b.RPS(), t, true
}

func (r *report) markdown(chart string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# CarePath load run %s (%s)\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"), host)
	fmt.Fprintf(&b, "Server: the app package in a process of its own, MariaDB + Redis on 127.0.0.1, database pool %d; load from a child process, %d clients, %s per scenario after %s warm-up. Seeded: %s.\n\n",
		r.opts.pool, r.opts.workers, r.opts.duration, r.opts.warmup, r.seeded)
	b.WriteString("Machine load during the run (shared machine; compare ratios to the same-run baselines, not absolute figures):\n\n")
	for _, u := range r.uptimes {
		b.WriteString("- " + u + "\n")
	}
	b.WriteString("\n| scenario | requests | req/s | p50 ms | p99 ms | errors | server CPU (cores) | server peak RSS MiB | vs baseline | target | verdict |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, res := range r.results {
		ratio, t, ok := r.ratio(res)
		rs, tg, vd := "", "", ""
		var fails []string
		if ok {
			rs = fmt.Sprintf("%.3f × %s", ratio, strings.TrimPrefix(strings.TrimPrefix(t.baseline, "raw: "), "baseline: "))
			if !t.reference {
				tg = fmt.Sprintf("≥ %.2f×", t.ratio)
				if ratio < t.ratio {
					fails = append(fails, "ratio")
				}
			}
		}
		if t.p99 > 0 {
			tg = strings.TrimPrefix(tg+fmt.Sprintf("; p99 ≤ %s", t.p99), "; ")
			if res.P99 > t.p99 {
				fails = append(fails, "p99")
			}
		}
		if res.Name == "SIGTERM under load (GET /me)" {
			tg = "0 failed, drained ≤ 20 s, sockets 1001"
			if res.Errors > 0 {
				fails = append(fails, "failed requests")
			}
		}
		if tg != "" {
			vd = verdict(len(fails) == 0)
			if len(fails) > 0 {
				vd += " (" + strings.Join(fails, ", ") + ")"
			}
		}
		cpu, rss := "", ""
		if res.CPU > 0 {
			cpu = fmt.Sprintf("%.2f", res.CPU)
		}
		if res.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f", mib(res.PeakRSS))
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.2f | %.2f | %d | %s | %s | %s | %s | %s |\n",
			res.Name, res.Count, res.RPS(), ms(res.P50), ms(res.P99), res.Errors, cpu, rss, rs, tg, vd)
	}
	for _, res := range r.results {
		if len(res.Extra) > 0 || res.FirstErr != "" {
			keys := make([]string, 0, len(res.Extra))
			for k := range res.Extra {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, fmt.Sprintf("%s: %v", k, res.Extra[k]))
			}
			if res.FirstErr != "" {
				kv = append(kv, "first error: "+res.FirstErr)
			}
			fmt.Fprintf(&b, "\n- %s — %s", res.Name, strings.Join(kv, "; "))
		}
	}
	b.WriteString("\n\n## SQL per request (shapes, most frequent first)\n")
	for _, res := range r.results {
		if len(res.Stmts) == 0 || res.Count == 0 {
			continue
		}
		total := 0
		for _, s := range res.Stmts {
			total += s.Count
		}
		fmt.Fprintf(&b, "\n**%s**: %.1f statements per request\n\n| per request | mean ms | statement |\n|---:|---:|---|\n", res.Name, float64(total)/float64(res.Count))
		for i, s := range res.Stmts {
			if i == 12 {
				break
			}
			sql := s.SQL
			if len(sql) > 220 {
				sql = sql[:220] + "…"
			}
			fmt.Fprintf(&b, "| %.2f | %.2f | `%s` |\n", float64(s.Count)/float64(res.Count), ms(s.Total)/float64(s.Count), strings.ReplaceAll(sql, "|", "\\|"))
		}
	}
	b.WriteString("\n\n![throughput vs baseline](" + chart + ")\n\n")
	for _, c := range r.children {
		b.WriteString(c + "\n\n")
	}
	return b.String()
}

// svg draws each scenario's throughput ratio to its baseline as a bar, with
// the target as a mark.
func (r *report) svg() string {
	type bar struct {
		name          string
		ratio, target float64
		reference     bool
	}
	var bars []bar
	for _, res := range r.results {
		if ratio, t, ok := r.ratio(res); ok {
			bars = append(bars, bar{res.Name, ratio, t.ratio, t.reference})
		}
	}
	const w, left, rowH = 760, 280, 28
	scale := 1.0
	for _, x := range bars {
		scale = max(scale, x.ratio, x.target)
	}
	plot := float64(w - left - 60)
	h := 40 + rowH*len(bars)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="10" y="18" font-weight="bold">throughput ÷ same-run baseline (bar) and target (red mark)</text>`+"\n")
	for i, x := range bars {
		y := 30 + i*rowH
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", y+16, html.EscapeString(x.name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="18" fill="%s"/>`+"\n", left, y+3, plot*x.ratio/scale, map[bool]string{true: "#4a8", false: "#d84"}[x.ratio >= x.target])
		if x.reference { // a comparison, not a goal: grey, no mark
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="18" fill="#999"/>`+"\n", left, y+3, plot*x.ratio/scale)
		} else {
			tx := float64(left) + plot*x.target/scale
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="red" stroke-width="2"/>`+"\n", tx, tx, y, y+24)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.3f</text>`+"\n", float64(left)+plot*x.ratio/scale+4, y+16, x.ratio)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stamp := r.started.UTC().Format("20060102-150405")
	chart := "bench-" + stamp + ".svg"
	if err := os.WriteFile(filepath.Join(dir, chart), []byte(r.svg()), 0o644); err != nil {
		return err
	}
	md := r.markdown(chart)
	path := filepath.Join(dir, "bench-"+stamp+".md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	logf("written to %s", path)
	return nil
}
