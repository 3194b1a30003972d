package followup_test

import (
	"testing"
	"time"

	"github.com/carepath/carepath/internal/followup"
)

// TestTimeliness checks the rate on a fixed set computed by hand: of the six
// windows closing in March (Shanghai), three were recorded in time → 50.0%.
func TestTimeliness(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, shanghai) }
	closes := func(d int) time.Time { return day(d, 0) } // local midnight
	at := func(tm time.Time) *time.Time { return &tm }
	list := []followup.Followup{
		{WindowEnd: closes(5), Status: "done", RecordedAt: at(day(4, 10))},   // in time
		{WindowEnd: closes(10), Status: "done", RecordedAt: at(day(9, 23))},  // in time, last hour
		{WindowEnd: closes(12), Status: "done", RecordedAt: at(day(12, 0))},  // at the close: late
		{WindowEnd: closes(20), Status: "pending"},                           // never made
		{WindowEnd: closes(25), Status: "done", RecordedAt: at(day(26, 9))},  // late
		{WindowEnd: closes(31), Status: "done", RecordedAt: at(day(30, 15))}, // in time
		{WindowEnd: day(32, 0), Status: "pending"},                           // closes 1 April: outside
		{WindowEnd: day(0, 0), Status: "done", RecordedAt: at(day(-2, 8))},   // closed 28 Feb: outside
	}
	from, to := day(1, 0), day(32, 0)
	if got, ok := followup.Timeliness(list, from, to); !ok || got != 50 {
		t.Errorf("Timeliness = %v, %v; want 50, true", got, ok)
	}
	if got, ok := followup.Timeliness(list[:3], from, to); !ok || got != 66.7 {
		t.Errorf("Timeliness of the first three = %v, %v; want 66.7, true", got, ok)
	}
	if _, ok := followup.Timeliness(nil, from, to); ok {
		t.Error("a rate with no follow-ups due")
	}
}
