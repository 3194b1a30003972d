package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(lat, tc.q); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis, as /proc allows.
	stat := "4242 (bench (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 12 0 100 0 0"
	got, err := parseStatCPU(stat, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 * time.Second; got != want {
		t.Errorf("cpu = %v, want %v (250 + 150 ticks at 100 Hz)", got, want)
	}
	if _, err := parseStatCPU("garbage", 100); err == nil {
		t.Error("garbage parsed without error")
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tbench\nVmPeak:\t  900 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n"
	got, err := parseStatusKB(bufio.NewScanner(strings.NewReader(status)), "VmRSS:")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(51200 * 1024); got != want {
		t.Errorf("rss = %d, want %d", got, want)
	}
	if _, err := parseStatusKB(bufio.NewScanner(strings.NewReader("Name:\tx\n")), "VmRSS:"); err == nil {
		t.Error("missing VmRSS gave no error")
	}
}

func TestRatioVerdict(t *testing.T) {
	for _, tc := range []struct {
		got, target float64
		want        string
	}{{0.6, 0.5, "met"}, {0.4, 0.5, "missed"}, {0, 0.5, "missed"}} {
		if got := verdict(tc.got >= tc.target); got != tc.want {
			t.Errorf("verdict(%v ≥ %v) = %q, want %q", tc.got, tc.target, got, tc.want)
		}
	}
}

func TestShape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT * FROM `patients` WHERE id = '0193-ab' LIMIT 1", "SELECT * FROM `patients` WHERE id = ? LIMIT ?"},
		{"SELECT * FROM t WHERE a IN ('x','y', 'z') AND n > 3.5", "SELECT * FROM t WHERE a IN (?…) AND n > ?"},
		{"SELECT 'it''s'\n\t FROM t2", "SELECT ? FROM t2"},
		{"INSERT INTO `v2_log` (a) VALUES (1)", "INSERT INTO `v2_log` (a) VALUES (?)"},
	} {
		if got := shape(tc.in); got != tc.want {
			t.Errorf("shape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
