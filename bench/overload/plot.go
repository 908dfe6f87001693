package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// plot returns an SVG with two panels: goodput (% of capacity) and p99 latency
// of successful requests (log scale), both against offered load.
func plot(cfg config, res results) string {
	const w, h, pw, ph, left, top = 920, 360, 340, 240, 70, 50
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">Overload: backend of %d × %v (capacity %.0f req/s), open-loop load</text>`+"\n",
		left, cfg.conc, cfg.service, cfg.capacity())

	// x: offered load 0.5×..4.5× on a linear scale.
	xs := func(x0 int, l float64) float64 { return float64(x0) + (l-0.5)/4*pw }

	panel := func(x0 int, title, ylabel string, yticks []float64, ytick func(float64) string,
		y func(float64) float64, val func(phase) (float64, bool), target float64, targetLabel string) {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, top-8, title)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", x0, top, pw, ph)
		for _, t := range yticks {
			yy := y(t)
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", x0, yy, x0+pw, yy)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-5, yy+4, ytick(t))
		}
		for _, l := range loads {
			xx := xs(x0, l)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%g×</text>`+"\n", xx, top+ph+16, l)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">offered load (× capacity)</text>`+"\n", x0+pw/2, top+ph+34)
		fmt.Fprintf(&b, `<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", x0-48, top+ph/2, ylabel)
		if target > 0 {
			yy := y(target)
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#2a2" stroke-dasharray="5,4"/>`+"\n", x0, yy, x0+pw, yy)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#2a2" text-anchor="end">%s</text>`+"\n", x0+pw-4, yy-4, targetLabel)
		}
		for _, withKeel := range []bool{false, true} {
			color := "#c33"
			if withKeel {
				color = "#36c"
			}
			var pts []string
			for _, p := range res.phases {
				if p.keel != withKeel {
					continue
				}
				v, ok := val(p)
				xx, yy := xs(x0, p.load), y(v)
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xx, yy))
				if !ok {
					// Nothing to measure: drawn hollow at the given value.
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="white" stroke="%s" stroke-width="2"/>`+"\n", xx, yy, color)
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s" text-anchor="end" font-size="10">none succeeded</text>`+"\n", xx-6, yy+14, color)
					continue
				}
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", xx, yy, color)
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), color)
		}
	}

	// Goodput, 0..120% of capacity.
	gy := func(v float64) float64 { return top + ph - math.Min(v, 120)/120*ph }
	panel(left, "Goodput", "goodput (% of capacity)", []float64{0, 20, 40, 60, 80, 100, 120},
		func(v float64) string { return fmt.Sprintf("%g%%", v) }, gy,
		func(p phase) (float64, bool) { return 100 * p.goodput / cfg.capacity(), true }, 90, "target ≥ 90%")

	// p99, log scale 10 ms..2 s.
	lo, hi := math.Log10(10), math.Log10(2000)
	ly := func(v float64) float64 {
		v = math.Max(10, math.Min(v, 2000))
		return top + ph - (math.Log10(v)-lo)/(hi-lo)*ph
	}
	unl := float64(res.unloadedP99) / float64(time.Millisecond)
	panel(left+pw+130, "p99 latency of successful requests", "p99 (ms, log scale)", []float64{10, 20, 50, 100, 200, 500, 1000, 2000},
		func(v float64) string { return fmt.Sprintf("%g", v) }, ly,
		func(p phase) (float64, bool) {
			if p.p99 == 0 { // no successful request: plotted at the client timeout
				return float64(cfg.timeout) / float64(time.Millisecond), false
			}
			return float64(p.p99) / float64(time.Millisecond), true
		}, 3*unl,
		fmt.Sprintf("target 3× unloaded p99 (%.0f ms)", 3*unl))

	// Legend.
	lx := left + 10
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#c33" stroke-width="2"/><text x="%d" y="%d">without Keel</text>`+"\n", lx, h-14, lx+24, h-14, lx+30, h-10)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#36c" stroke-width="2"/><text x="%d" y="%d">Keel: shed + limit (Gradient2)</text>`+"\n", lx+140, h-14, lx+164, h-14, lx+170, h-10)
	b.WriteString("</svg>\n")
	return b.String()
}
