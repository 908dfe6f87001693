package demo

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of a run with Keel's policies on.
const (
	// ChargeTarget is the share of charges that must succeed.
	ChargeTarget = 0.999
	// ReadTarget is the share of recommendation reads that must succeed
	// (a stale or fallback answer is a success: the page still renders).
	ReadTarget = 0.99
)

// APIResult is what the client saw of one API.
type APIResult struct {
	// Requests is the number of requests sent (each counted once, however
	// many times the client retried it); Succeeded those that got a 2xx in
	// the end.
	Requests, Succeeded int
	// Skipped counts the requests not sent because the client already had
	// its maximum in flight.
	Skipped int
	// Stale and Fallback count the answers the gateway served from its
	// stale-if-error cache and from the route's fallback.
	Stale, Fallback int
	// P50, P95 and P99 are latency percentiles, retries included.
	P50, P95, P99 time.Duration
}

// SuccessRate returns Succeeded / Requests, 1 when there were none.
func (r APIResult) SuccessRate() float64 {
	if r.Requests == 0 {
		return 1
	}
	return float64(r.Succeeded) / float64(r.Requests)
}

// Verdict is the outcome of one run.
type Verdict struct {
	// Resilient is false for a run with Config.NoResilience.
	Resilient bool
	// Seed and Duration are the run's.
	Seed     uint64
	Duration time.Duration
	// Charges and Reads are the client-side results of each API.
	Charges, Reads APIResult
	// ClientRetries counts the client's retries; GatewayRetries and Hedges
	// the gateway's (its keel_retries_total and keel_hedge_sent_total).
	ClientRetries, GatewayRetries, Hedges int64
	// BreakerOpenings and Ejections count the gateway's breaker_open and
	// host_ejected events.
	BreakerOpenings, Ejections int
	// Kills, Restarts and Faults count the chaos actions taken.
	Kills, Restarts, Faults int
	// LedgerEntries is the number of charges applied (repeats included);
	// Duplicates the keys applied more than once; Lost the acknowledged
	// keys missing from the ledger; Unacknowledged the keys applied that the
	// client never saw acknowledged (not an error: it gave up, or the answer
	// was lost).
	LedgerEntries, Duplicates, Lost, Unacknowledged int
}

// Problems lists why the run fails its targets; empty means it passes.
// Duplicates and lost charges fail any run; the success targets apply only
// to a run with Keel's policies on.
func (v Verdict) Problems() []string {
	var p []string
	if v.Duplicates > 0 {
		p = append(p, fmt.Sprintf("%d charges applied twice", v.Duplicates))
	}
	if v.Lost > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged charges lost", v.Lost))
	}
	if v.Resilient {
		if r := v.Charges.SuccessRate(); r < ChargeTarget {
			p = append(p, fmt.Sprintf("charges succeeded %s of the time, below the %s target", pct(r), pct(ChargeTarget)))
		}
		if r := v.Reads.SuccessRate(); r < ReadTarget {
			p = append(p, fmt.Sprintf("recommendations succeeded %s of the time, below the %s target", pct(r), pct(ReadTarget)))
		}
		if v.Charges.Requests == 0 {
			p = append(p, "no charge was sent")
		}
	}
	return p
}

// OK reports whether the run met every target.
func (v Verdict) OK() bool { return len(v.Problems()) == 0 }

// Mode names the run: "with Keel" or "without Keel".
func (v Verdict) Mode() string {
	if v.Resilient {
		return "with Keel"
	}
	return "without Keel"
}

// WriteTable writes the verdicts side by side, one column each.
func WriteTable(w io.Writer, vs ...Verdict) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	row := func(label string, f func(Verdict) string) {
		cells := []string{label}
		for _, v := range vs {
			cells = append(cells, f(v))
		}
		_, _ = fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") // tw buffers; Flush reports errors
	}
	row("", func(v Verdict) string { return v.Mode() })
	row("charges sent", func(v Verdict) string { return fmt.Sprint(v.Charges.Requests) })
	row("charges succeeded", func(v Verdict) string { return pct(v.Charges.SuccessRate()) })
	row("  latency p50", func(v Verdict) string { return ms(v.Charges.P50) })
	row("  latency p95", func(v Verdict) string { return ms(v.Charges.P95) })
	row("  latency p99", func(v Verdict) string { return ms(v.Charges.P99) })
	row("recommendations sent", func(v Verdict) string { return fmt.Sprint(v.Reads.Requests) })
	row("recommendations succeeded", func(v Verdict) string { return pct(v.Reads.SuccessRate()) })
	row("  latency p50", func(v Verdict) string { return ms(v.Reads.P50) })
	row("  latency p95", func(v Verdict) string { return ms(v.Reads.P95) })
	row("  latency p99", func(v Verdict) string { return ms(v.Reads.P99) })
	row("  stale answers (cache)", func(v Verdict) string { return fmt.Sprint(v.Reads.Stale) })
	row("  fallback answers", func(v Verdict) string { return fmt.Sprint(v.Reads.Fallback) })
	row("client retries", func(v Verdict) string { return fmt.Sprint(v.ClientRetries) })
	row("gateway retries", func(v Verdict) string { return fmt.Sprint(v.GatewayRetries) })
	row("hedges", func(v Verdict) string { return fmt.Sprint(v.Hedges) })
	row("breaker openings", func(v Verdict) string { return fmt.Sprint(v.BreakerOpenings) })
	row("hosts ejected", func(v Verdict) string { return fmt.Sprint(v.Ejections) })
	row("replicas killed", func(v Verdict) string { return fmt.Sprint(v.Kills) })
	row("charges in the ledger", func(v Verdict) string { return fmt.Sprint(v.LedgerEntries) })
	row("duplicate charges (want 0)", func(v Verdict) string { return fmt.Sprint(v.Duplicates) })
	row("lost charges (want 0)", func(v Verdict) string { return fmt.Sprint(v.Lost) })
	row("verdict", func(v Verdict) string {
		if v.OK() {
			return "PASS"
		}
		return "FAIL"
	})
	return tw.Flush()
}

func pct(r float64) string {
	if r == 1 {
		return "100%"
	}
	return fmt.Sprintf("%.2f%%", 100*r)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
