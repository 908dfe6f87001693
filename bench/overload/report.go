package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

func writeReport(w io.Writer, cfg config, res results) error {
	var b strings.Builder
	report(&b, cfg, res)
	_, err := io.WriteString(w, b.String())
	return err
}

// report formats the tables into b.
func report(b *strings.Builder, cfg config, res results) {
	capacity := cfg.capacity()
	fmt.Fprintf(b, "Backend: %d concurrent × %v = capacity %.0f req/s; open loop, evenly spaced; "+
		"client timeout %v; each phase %v measured after %v warm-up; seed %d.\n",
		cfg.conc, cfg.service, capacity, cfg.timeout, cfg.phase, cfg.warmup, cfg.seed)
	fmt.Fprintf(b, "Unloaded (%.0f req/s, no Keel): p50 %s, p99 %s.\n\n",
		0.25*capacity, ms(res.unloadedP50), ms(res.unloadedP99))

	fmt.Fprintln(b, "| config | offered | goodput | % of capacity | p50 | p99 | p99 / unloaded | critical ok | default ok | sheddable ok |")
	fmt.Fprintln(b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range res.phases {
		name := "without Keel"
		if p.keel {
			name = "Keel (shed + Gradient2)"
		}
		ratio := "–"
		if res.unloadedP99 > 0 && p.p99 > 0 {
			ratio = fmt.Sprintf("%.1f×", float64(p.p99)/float64(res.unloadedP99))
		}
		fmt.Fprintf(b, "| %s | %.0f/s (%g×) | %.0f/s | %.0f%% | %s | %s | %s | %s | %s | %s |\n",
			name, p.offered, p.load, p.goodput, 100*p.goodput/capacity, ms(p.p50), ms(p.p99), ratio,
			pct(p.ok[0], p.sent[0]), pct(p.ok[1], p.sent[1]), pct(p.ok[2], p.sent[2]))
	}

	fmt.Fprintf(b, "\nHedging: backend 5%% × 100 ms, 95%% × 2 ms; %d calls at %.0f/s; hedge delay %v (fixed), 1 hedge, default budget.\n\n",
		cfg.hedgeCalls, cfg.hedgeRate, cfg.hedgeDelay)
	fmt.Fprintln(b, "| client | p50 | p99 | success | backend requests | extra requests |")
	fmt.Fprintln(b, "|---|---:|---:|---:|---:|---:|")
	for _, h := range res.hedge {
		name := "no hedge"
		if h.hedged {
			name = fmt.Sprintf("hedge (%d sent)", h.hedges)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %.1f%% |\n", name, ms(h.p50), ms(h.p99),
			pct(h.ok, h.calls), h.requests, 100*float64(h.requests-int64(h.calls))/float64(h.calls))
	}
	if without, with := res.hedge[0].p99, res.hedge[1].p99; with > 0 {
		fmt.Fprintf(b, "\np99 without hedging / with: %.1f×\n", float64(without)/float64(with))
	}
}

// ms formats d in milliseconds; zero (no successful request to measure) is
// "–".
func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func pct(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}
