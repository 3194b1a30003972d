package alert_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/observation"
)

// BenchmarkEvaluateReading is the rule evaluation a reported reading pays:
// a blood pressure against a week of history at four readings a day
// (go test -run '^$' -bench . -benchmem ./internal/alert/).
func BenchmarkEvaluateReading(b *testing.B) {
	th := alert.Defaults()
	start := at("2026-05-01 07:00")
	var history []observation.Reading
	for i := 0; i < 28; i++ {
		r := bp(fmt.Sprintf("h%02d", i), "2026-05-01 07:00", 128+float64(i%7), 82+float64(i%5))
		r.MeasuredAt = start.Add(time.Duration(i) * 6 * time.Hour)
		history = append(history, r)
	}
	for _, tc := range []struct {
		name string
		r    observation.Reading
	}{
		{"normal", bp("n", "2026-05-08 08:00", 126, 80)},
		{"critical", bp("c", "2026-05-08 08:00", 186, 112)},
	} {
		all := append(append([]observation.Reading{}, history...), tc.r)
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				_ = alert.EvaluateReading(th, tc.r, all, shanghai)
			}
		})
	}
}
