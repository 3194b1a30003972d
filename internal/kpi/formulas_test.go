package kpi_test

import (
	"testing"
	"time"

	"github.com/carepath/carepath/internal/kpi"
	"github.com/carepath/carepath/internal/platform/apperr"
)

func TestNPS(t *testing.T) {
	for _, tc := range []struct {
		answers []float64
		want    *float64
	}{
		{nil, nil},
		{[]float64{10, 9, 8, 7, 6, 0}, pct(0)},               // 2 promoters, 2 detractors of 6
		{[]float64{10, 10, 10, 9}, pct(100)},                 // all promoters
		{[]float64{9, 8, 3}, pct(0)},                         // 1 − 1 of 3
		{[]float64{10, 9, 9, 8, 7, 7, 6, 5, 10, 9}, pct(30)}, // 5 promoters, 2 detractors of 10
		{[]float64{6, 6, 7}, pct(-66.7)},                     // −2 of 3
	} {
		if got := kpi.NPS(tc.answers); !eqPtr(got.Score, tc.want) || got.Responses != len(tc.answers) {
			t.Errorf("NPS(%v) = %+v %v; want %v", tc.answers, got, show(got.Score), show(tc.want))
		}
	}
}

func TestMedianAndPercentile(t *testing.T) {
	for _, tc := range []struct {
		xs       []float64
		med, p90 float64
	}{
		{[]float64{7}, 7, 7},
		{[]float64{3, 1}, 2, 3},
		{[]float64{5, 1, 3}, 3, 5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5.5, 9},    // rank ⌈9⌉ = 9
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 10}, // rank ⌈9.9⌉ = 10
	} {
		med, _ := kpi.Median(tc.xs)
		p90, _ := kpi.Percentile(tc.xs, 90)
		if med != tc.med || p90 != tc.p90 {
			t.Errorf("%v: median %v p90 %v; want %v %v", tc.xs, med, p90, tc.med, tc.p90)
		}
	}
	if _, ok := kpi.Median(nil); ok {
		t.Error("median of nothing")
	}
}

func TestParsePeriod(t *testing.T) {
	// 00:30 on 10 April in Shanghai is still 9 April in UTC.
	svc := kpi.NewService(nil, nil, shanghai, func() time.Time { return at(4, 10, 0, 30) })
	p, err := svc.ParsePeriod("", "")
	if err != nil || !p.From.Equal(at(3, 12, 0, 0)) || !p.To.Equal(at(4, 11, 0, 0)) {
		t.Errorf("default period %v–%v (%v); want 12 March–11 April local midnight (30 days including today)", p.From, p.To, err)
	}
	for _, tc := range []struct{ from, to, code string }{
		{"2026-03-01", "2026-03-01", "invalid_range"},
		{"2026-03-02", "2026-03-01", "invalid_range"},
		{"2025-03-01", "2026-03-03", "range_too_long"},
		{"2026/03/01", "", "invalid_date"},
		{"", "tomorrow", "invalid_date"},
	} {
		_, err := svc.ParsePeriod(tc.from, tc.to)
		if e, ok := apperr.As(err); !ok || e.Code != tc.code || e.Kind != apperr.KindInvalid {
			t.Errorf("ParsePeriod(%q, %q) = %v; want %s", tc.from, tc.to, err, tc.code)
		}
	}
	if _, err := svc.ParsePeriod("2025-03-01", "2026-03-02"); err != nil {
		t.Errorf("366 days refused: %v", err)
	}
}

// TestReadmissions: a planned admission (the next chemotherapy cycle)
// counts in the all-cause rate and not in the unplanned one; an unplanned
// admission counts in both; both share the denominator and the window
// (day d+1 … d+30 after the discharge, the window closing in [from, to)).
func TestReadmissions(t *testing.T) {
	const from, to = kpi.Day(100), kpi.Day(131) // d+31 in [100, 131): discharges on days 69 … 99
	type counts struct{ all, unplanned, den int }
	for _, tc := range []struct {
		name       string
		discharges []kpi.Stay
		admissions []kpi.Stay
		want       counts
	}{
		{"planned on day 10", []kpi.Stay{{PatientID: "a", Day: 80}}, []kpi.Stay{{PatientID: "a", Day: 90, Planned: true}}, counts{1, 0, 1}},
		{"unplanned on day 10", []kpi.Stay{{PatientID: "a", Day: 80}}, []kpi.Stay{{PatientID: "a", Day: 90}}, counts{1, 1, 1}},
		{"planned then unplanned", []kpi.Stay{{PatientID: "a", Day: 80}},
			[]kpi.Stay{{PatientID: "a", Day: 85, Planned: true}, {PatientID: "a", Day: 105}}, counts{1, 1, 1}},
		{"unplanned on day 30", []kpi.Stay{{PatientID: "a", Day: 80}}, []kpi.Stay{{PatientID: "a", Day: 110}}, counts{1, 1, 1}},
		{"planned on day 30", []kpi.Stay{{PatientID: "a", Day: 80}}, []kpi.Stay{{PatientID: "a", Day: 110, Planned: true}}, counts{1, 0, 1}},
		{"unplanned on day 31", []kpi.Stay{{PatientID: "a", Day: 80}}, []kpi.Stay{{PatientID: "a", Day: 111}}, counts{0, 0, 1}},
		{"on the discharge day", []kpi.Stay{{PatientID: "a", Day: 80}}, []kpi.Stay{{PatientID: "a", Day: 80}}, counts{0, 0, 1}},
		{"another patient", []kpi.Stay{{PatientID: "a", Day: 80}}, []kpi.Stay{{PatientID: "b", Day: 90}}, counts{0, 0, 1}},
		{"window closes at from", []kpi.Stay{{PatientID: "a", Day: 69}}, []kpi.Stay{{PatientID: "a", Day: 70}}, counts{1, 1, 1}},
		{"window closed before from", []kpi.Stay{{PatientID: "a", Day: 68}}, []kpi.Stay{{PatientID: "a", Day: 70}}, counts{0, 0, 0}},
		{"window closes at to", []kpi.Stay{{PatientID: "a", Day: 100}}, []kpi.Stay{{PatientID: "a", Day: 101}}, counts{0, 0, 0}},
		{"two discharges, one planned readmission each way", []kpi.Stay{{PatientID: "a", Day: 70}, {PatientID: "b", Day: 75}},
			[]kpi.Stay{{PatientID: "a", Day: 71, Planned: true}, {PatientID: "b", Day: 76}}, counts{2, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := kpi.Readmissions(tc.discharges, tc.admissions, from, to)
			unplanned := kpi.Readmissions(tc.discharges, kpi.Unplanned(tc.admissions), from, to)
			got := counts{all.Numerator, unplanned.Numerator, all.Denominator}
			if got != tc.want || unplanned.Denominator != all.Denominator {
				t.Errorf("all %d/%d, unplanned %d/%d; want %d/%d and %d/%d", all.Numerator, all.Denominator,
					unplanned.Numerator, unplanned.Denominator, tc.want.all, tc.want.den, tc.want.unplanned, tc.want.den)
			}
		})
	}
}
