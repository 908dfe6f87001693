package experiment

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"since": func(start, t time.Time) string { return fmt.Sprintf("%.1fs", t.Sub(start).Seconds()) },
	"took":  func(a, b time.Time) string { return b.Sub(a).Round(time.Millisecond).String() },
	"value": func(p ProbeRecord) string { return p.ValueString() },
	"plus":  func(a, b float64) float64 { return a + b },
	"minus": func(a, b float64) float64 { return a - b },
	"half":  func(a float64) float64 { return a / 2 },
	"step": func(i int) string {
		if i < 0 {
			return "—"
		}
		return strconv.Itoa(i + 1)
	},
}).Parse(reportHTML))

// WriteReport writes j as a self-contained HTML page: the verdict, plots of
// the success rate and the p99 latency per second with the method's steps
// marked, and tables of the steps, the probe evaluations and the
// rollbacks. It loads nothing from elsewhere: the plots are inline SVG.
func (j *Journal) WriteReport(w io.Writer) error {
	data := struct {
		J        *Journal
		Headline string
		Class    string
		Charts   []chart
	}{J: j}
	switch {
	case j.Held:
		data.Headline, data.Class = "Hypothesis held", "held"
	case j.Status == StatusInterrupted:
		data.Headline, data.Class = "Interrupted", "other"
	case j.Status == StatusFailed:
		data.Headline, data.Class = "Run failed", "bad"
	case j.Status == StatusAborted && !j.Deviated:
		data.Headline, data.Class = "No steady state", "bad"
	default:
		data.Headline, data.Class = "Hypothesis violated", "bad"
	}
	data.Charts = []chart{j.successChart(), j.latencyChart()}
	return reportTemplate.Execute(w, data)
}

// Plot geometry, in SVG user units.
const (
	chartW, chartH           = 900.0, 260.0
	padL, padR, padT, padB   = 56.0, 16.0, 58.0, 34.0
	plotW, plotH             = chartW - padL - padR, chartH - padT - padB
	markerRows               = 3
	markerRowHeight          = 14.0
	secondsTicks, valueTicks = 10, 5
	successFloorCeil         = 90.0
	latencyHeadroom          = 1.1
	defaultLatencyMax        = 100.0
	thresholdReach           = 3.0
	labelCharWidth           = 6.2
)

// chart is one plot, laid out for the template.
type chart struct {
	Title     string
	Unit      string
	W, H      float64
	X0, Y0    float64 // plot area's top left
	PW, PH    float64
	Lines     []string // polyline point lists; a gap in the data starts a new line
	XTicks    []tick
	YTicks    []tick
	Markers   []marker
	Threshold *tick
	Dots      []dot
	Note      string
	Empty     bool
}

type tick struct {
	Pos   float64
	Label string
}

type marker struct {
	X      float64
	LabelY float64
	Label  string
}

type dot struct {
	X, Y  float64
	OK    bool
	Title string
}

// axes maps seconds and values to the plot area.
type axes struct {
	span   float64 // seconds shown
	lo, hi float64
}

func (a axes) x(sec float64) float64 {
	return round1(padL + plotW*math.Min(math.Max(sec/a.span, 0), 1))
}

func (a axes) y(v float64) float64 {
	f := (v - a.lo) / (a.hi - a.lo)
	return round1(padT + plotH*(1-math.Min(math.Max(f, 0), 1)))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func (j *Journal) span() float64 {
	s := j.End.Sub(j.Start).Seconds()
	if s <= 0 {
		s = 1
	}
	return s
}

func (j *Journal) successChart() chart {
	lo := successFloorCeil
	for _, s := range j.Series {
		if s.Requests > 0 {
			lo = math.Min(lo, 100*float64(s.Requests-s.Errors)/float64(s.Requests))
		}
	}
	var threshold *float64
	for _, p := range j.Probes {
		if p.Type == ProbeSuccessRate {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(p.Threshold, ">= "), "%"), 64)
			threshold = &v
			lo = math.Min(lo, v)
			break
		}
	}
	lo = math.Max(0, math.Min(successFloorCeil, math.Floor(lo/10)*10))
	a := axes{span: j.span(), lo: lo, hi: 100}
	c := j.newChart("Success rate per second", "%", a)
	c.Lines = j.lines(a, func(s Second) (float64, bool) {
		if s.Requests == 0 {
			return 0, false
		}
		return 100 * float64(s.Requests-s.Errors) / float64(s.Requests), true
	})
	if threshold != nil {
		c.Threshold = &tick{Pos: a.y(*threshold), Label: "min " + strconv.FormatFloat(*threshold, 'f', -1, 64) + "%"}
	}
	c.Dots = j.dots(a, ProbeSuccessRate)
	return c
}

func (j *Journal) latencyChart() chart {
	top := 0.0
	for _, s := range j.Series {
		top = math.Max(top, s.P99MS)
	}
	var threshold *float64
	for _, p := range j.Probes {
		if p.Type == ProbeLatency {
			if i := strings.LastIndex(p.Threshold, "<= "); i >= 0 {
				if d, err := time.ParseDuration(p.Threshold[i+3:]); err == nil {
					v := float64(d) / 1e6
					threshold = &v
				}
			}
			break
		}
	}
	// The threshold is drawn when it is near the data; far above, it
	// would flatten the data into the axis.
	if threshold != nil && (top == 0 || *threshold <= thresholdReach*top) {
		top = math.Max(top, *threshold)
	}
	if top == 0 {
		top = defaultLatencyMax
	}
	a := axes{span: j.span(), lo: 0, hi: niceCeil(top * latencyHeadroom)}
	c := j.newChart("p99 latency per second", "ms", a)
	c.Lines = j.lines(a, func(s Second) (float64, bool) { return s.P99MS, s.Requests > 0 })
	if threshold != nil {
		label := "max " + strconv.FormatFloat(*threshold, 'f', -1, 64) + " ms"
		if *threshold <= a.hi {
			c.Threshold = &tick{Pos: a.y(*threshold), Label: label}
		} else {
			c.Note = label + " is above the plot"
		}
	}
	c.Dots = j.dots(a, ProbeLatency)
	return c
}

func (j *Journal) newChart(title, unit string, a axes) chart {
	c := chart{Title: title, Unit: unit, W: chartW, H: chartH, X0: padL, Y0: padT, PW: plotW, PH: plotH, Empty: len(j.Series) == 0}
	step := niceCeil(a.span / secondsTicks)
	for s := 0.0; s <= a.span+1e-9; s += step {
		c.XTicks = append(c.XTicks, tick{Pos: a.x(s), Label: strconv.FormatFloat(s, 'f', -1, 64) + "s"})
	}
	for i := range valueTicks + 1 {
		v := a.lo + (a.hi-a.lo)*float64(i)/valueTicks
		c.YTicks = append(c.YTicks, tick{Pos: a.y(v), Label: strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)})
	}
	// Step labels go in rows above the plot, each in the first row where
	// it does not overlap the label before it. Waits are left out: the gap
	// between the other steps shows them.
	var rowEnd [markerRows]float64
	for _, s := range j.Steps {
		if s.Type == StepWait {
			continue
		}
		m := marker{X: a.x(s.Start.Sub(j.Start).Seconds()), Label: strconv.Itoa(s.Index+1) + ". " + s.Name}
		row := 0
		for r := range rowEnd {
			if rowEnd[r] <= m.X {
				row = r
				break
			}
			if rowEnd[r] < rowEnd[row] {
				row = r
			}
		}
		rowEnd[row] = m.X + 3 + labelCharWidth*float64(len([]rune(m.Label))) + 8
		m.LabelY = padT - 8 - markerRowHeight*float64(row)
		c.Markers = append(c.Markers, m)
	}
	return c
}

// lines returns the polylines of the series' values, split where a second
// has no value.
func (j *Journal) lines(a axes, value func(Second) (float64, bool)) []string {
	var out []string
	var b strings.Builder
	for _, s := range j.Series {
		v, ok := value(s)
		if !ok {
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		sec := s.Time.Sub(j.Start).Seconds() + 0.5
		fmt.Fprintf(&b, "%g,%g", a.x(sec), a.y(v))
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func (j *Journal) dots(a axes, t ProbeType) []dot {
	var out []dot
	for _, p := range j.Probes {
		if p.Type != t {
			continue
		}
		out = append(out, dot{
			X: a.x(p.Time.Sub(j.Start).Seconds()), Y: a.y(p.Value), OK: p.OK,
			Title: fmt.Sprintf("%s (%s): %g %s, want %s", p.Probe, p.Phase, p.Value, p.Unit, p.Threshold),
		})
	}
	return out
}

// niceCeil returns the smallest 1, 2 or 5 times a power of ten that is at
// least v (v > 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}
