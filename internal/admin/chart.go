package admin

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// chart draws a series as an inline SVG: the target band, the line, and a
// red marker on readings that raised an alert. Server-drawn, so the page
// needs no chart library and prints as it shows.
func chart(s Series) template.HTML {
	const w, h, pad = 560.0, 160.0, 24.0
	if len(s.Points) == 0 {
		return template.HTML(`<p class="empty">暂无数据</p>`)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range s.Points {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	if s.Low != nil {
		lo = math.Min(lo, *s.Low)
	}
	if s.High != nil {
		hi = math.Max(hi, *s.High)
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	t0, t1 := s.Points[0].At, s.Points[len(s.Points)-1].At
	span := t1.Sub(t0).Seconds()
	x := func(i int) float64 {
		if span <= 0 {
			return pad + (w-2*pad)*float64(i)/math.Max(1, float64(len(s.Points)-1))
		}
		return pad + (w-2*pad)*s.Points[i].At.Sub(t0).Seconds()/span
	}
	y := func(v float64) float64 { return h - pad - (h-2*pad)*(v-lo)/(hi-lo) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(s.Label))
	if s.Low != nil && s.High != nil {
		fmt.Fprintf(&b, `<rect class="band" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, pad, y(*s.High), w-2*pad, y(*s.Low)-y(*s.High))
	}
	var pts []string
	for i, p := range s.Points {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(p.Value)))
	}
	fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(pts, " "))
	for i, p := range s.Points {
		class := "dot"
		if p.Alert {
			class = "dot alert"
		}
		fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="3"><title>%s %g</title></circle>`, class, x(i), y(p.Value), p.At.Format("01-02 15:04"), p.Value)
	}
	fmt.Fprintf(&b, `<text x="2" y="%.1f">%g</text><text x="2" y="%.1f">%g</text></svg>`, y(hi)+4, hi, y(lo)+4, lo)
	return template.HTML(b.String())
}
