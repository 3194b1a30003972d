package observation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// TrendRanges are the chart ranges, in local days ending today.
var TrendRanges = map[string]int{"7d": 7, "30d": 30, "90d": 90, "1y": 365}

// DefaultTrendRange is used when the client names none.
const DefaultTrendRange = "30d"

// Point is one local day of a series.
type Point struct {
	Day   string  `json:"day"` // YYYY-MM-DD in the hospital's zone
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
	Count int64   `json:"count"`
}

// Series is one line of a chart: a component, or for glucose a component in one context.
type Series struct {
	Name    string  `json:"name"`
	Label   string  `json:"label"`
	Code    string  `json:"code"` // LOINC
	Unit    string  `json:"unit"` // UCUM
	Context string  `json:"context,omitempty"`
	Target  *Range  `json:"target,omitempty"`
	Points  []Point `json:"points"` // days with readings only, oldest first
}

// Trend is a chart-ready series set with the latest reading.
type Trend struct {
	PatientID string   `json:"patient_id"`
	Type      string   `json:"type"`
	Range     string   `json:"range"`
	TimeZone  string   `json:"time_zone"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Series    []Series `json:"series"`
	Latest    *View    `json:"latest"`
}

// Trend aggregates a patient's readings of one type by local day over a range.
func (s *Service) Trend(ctx context.Context, patientID, typ, rng string) (Trend, error) {
	spec, ok := SpecOf(typ)
	if !ok {
		return Trend{}, apperr.Invalid("type", "unknown_type", fmt.Sprintf("未知的数据类型 %q，可选：%s", typ, strings.Join(Types, "、")))
	}
	if !spec.Numeric() {
		return Trend{}, ErrNotTrendable
	}
	if rng == "" {
		rng = DefaultTrendRange
	}
	days, ok := TrendRanges[rng]
	if !ok {
		return Trend{}, ErrBadRange
	}
	y, m, d := s.now().In(s.loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, s.loc)
	first := today.AddDate(0, 0, -(days - 1))
	rows, err := s.store.Daily(ctx, patientID, typ, first.Format(time.DateOnly))
	if err != nil {
		return Trend{}, err
	}
	targets := map[string]Range{}
	if s.targets != nil {
		if targets, err = s.targets.TargetRanges(ctx, patientID); err != nil {
			return Trend{}, err
		}
	}
	t := Trend{PatientID: patientID, Type: typ, Range: rng, TimeZone: s.loc.String(),
		From: first.Format(time.DateOnly), To: today.Format(time.DateOnly), Series: seriesOf(spec, rows, targets)}
	if latest, ok, err := s.store.Latest(ctx, patientID, typ); err != nil {
		return Trend{}, err
	} else if ok {
		v := ViewOf(latest)
		t.Latest = &v
	}
	return t, nil
}

// agg is one component's aggregate over one or more DayRows.
type agg struct {
	n             int64
	sum, min, max float64
}

func (a *agg) add(r DayRow, i int) {
	if r.N[i] == 0 {
		return
	}
	if a.n == 0 || r.Min[i] < a.min {
		a.min = r.Min[i]
	}
	if a.n == 0 || r.Max[i] > a.max {
		a.max = r.Max[i]
	}
	a.n += r.N[i]
	a.sum += r.Sum[i]
}

// seriesOf turns day rows (sorted by day) into series: one per component,
// or per component and context when the type splits by context.
func seriesOf(spec Spec, rows []DayRow, targets map[string]Range) []Series {
	contexts := []string{""}
	if spec.SplitByContext {
		contexts = spec.Contexts
	}
	var out []Series
	for i, c := range spec.Components {
		for _, ctx := range contexts {
			s := Series{Name: c.Name, Label: c.Label, Code: c.LOINC, Unit: c.Unit, Context: ctx, Points: []Point{}}
			if ctx != "" {
				s.Name = c.Name + "_" + ctx
			}
			if r, ok := targets[s.Name]; ok {
				s.Target = &r
			} else if r, ok := targets[c.Name]; ok {
				s.Target = &r
			}
			var cur agg
			day := ""
			flush := func() {
				if cur.n > 0 {
					s.Points = append(s.Points, Point{Day: day, Min: cur.min, Max: cur.max, Mean: round2(cur.sum / float64(cur.n)), Count: cur.n})
				}
				cur = agg{}
			}
			for _, r := range rows {
				if ctx != "" && r.Context != ctx {
					continue
				}
				if r.LocalDay != day {
					flush()
					day = r.LocalDay
				}
				cur.add(r, i)
			}
			flush()
			out = append(out, s)
		}
	}
	return out
}
