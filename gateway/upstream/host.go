package upstream

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/keelhq/keel/breaker"
)

// host is one replica. Host objects survive DNS refreshes that keep their
// address, so their state does too. The pick path reads only atomics.
type host struct {
	addr string
	br   *breaker.Breaker
	stop chan struct{} // closed when the host leaves the pool

	active    atomic.Int64
	requests  atomic.Uint64
	failures  atomic.Uint64
	healthy   atomic.Bool
	drained   atomic.Bool
	ejectedAt atomic.Int64 // pool nanos until which the host is ejected; 0 = admitted

	ewmaBits  atomic.Uint64 // float64 nanoseconds
	ewmaStamp atomic.Int64  // pool nanos of the last EWMA update
	// penaltyUntil is the pool nanos until which peak_ewma avoids the host
	// after a connection failure, 429 or 503 (see Config.FailurePenalty).
	penaltyUntil atomic.Int64

	mu          sync.Mutex // guards the fields below; per host, never shared
	cons5xx     int
	consLocal   int
	ivRequests  int   // requests this outlier interval
	ivFailures  int   // of which failed (5xx or local origin)
	ivResponses int   // responses this interval (for the latency mean)
	ivLatency   int64 // sum of their times to headers, ns

	// Guarded by Pool.omu.
	ejected    bool
	multiplier int // consecutive-ejection multiplier
	ejections  int // ejections ever
}

func newHost(addr string, now int64, defaultRTT float64) *host {
	h := &host{addr: addr, stop: make(chan struct{})}
	h.healthy.Store(true)
	h.ewmaBits.Store(math.Float64bits(defaultRTT))
	h.ewmaStamp.Store(now)
	return h
}

// available reports whether the host is healthy and not ejected at now.
func (h *host) available(now int64) bool {
	if !h.healthy.Load() {
		return false
	}
	until := h.ejectedAt.Load()
	return until == 0 || now >= until
}

// ewma returns the peak-EWMA latency at now in nanoseconds, decayed since the
// last observation as Finagle's PeakEwma does on read (observe(0)).
func (h *host) ewma(now int64, tau float64) float64 {
	v := math.Float64frombits(h.ewmaBits.Load())
	dt := now - h.ewmaStamp.Load()
	if dt <= 0 {
		return v
	}
	return v * math.Exp(-float64(dt)/tau)
}

// observeLocked folds rtt (ns) into the EWMA: a higher rtt replaces it at
// once (the peak); a lower one is blended in with weight 1 − e^(−Δt/τ).
func (h *host) observeLocked(now int64, rtt, tau float64) {
	v := math.Float64frombits(h.ewmaBits.Load())
	dt := max(now-h.ewmaStamp.Load(), 0)
	if rtt > v {
		v = rtt
	} else {
		w := math.Exp(-float64(dt) / tau)
		v = v*w + rtt*(1-w)
	}
	h.ewmaBits.Store(math.Float64bits(v))
	h.ewmaStamp.Store(now)
}

// resetEWMA forgets the host's latency history when it is readmitted. The
// value becomes zero, so that peak_ewma sends the host one request at once
// (a zero cost wins every comparison) and then, while that request is
// pending, none (Finagle's penalty for a pending host without a latency),
// until its first answer gives it a real latency. Starting again from the
// default latency instead would leave it unpicked for half a minute behind
// faster hosts.
func (h *host) resetEWMA(now int64) {
	h.ewmaBits.Store(0)
	h.ewmaStamp.Store(now)
	h.penaltyUntil.Store(0)
}

// failurePenaltyCost is added to the cost of a host in its failure penalty:
// more than any real cost, so that it loses every comparison with a host
// that is not, but finite, so that two penalized hosts still compare.
const failurePenaltyCost = 1e13 // ~2.8 hours in ns

// peakEWMACost is Finagle's cost: ewma × (active + 1), or a large penalty
// when the EWMA has decayed to nothing while requests are pending.
func peakEWMACost(ewma float64, active int64) float64 {
	const penalty = 1e15 // ~11.6 days in ns: larger than any real cost
	if ewma < 1 && active > 0 {
		return penalty + float64(active)
	}
	return ewma * float64(active+1)
}

// mask is a set of positions in one host snapshot. Positions at and beyond
// maxHostsTracked are never in it.
type mask [maxHostsTracked / 64]uint64

func (m *mask) has(i int) bool {
	return m != nil && i < maxHostsTracked && m[i>>6]&(1<<(uint(i)&63)) != 0
}

func (m *mask) add(i int) {
	if i < maxHostsTracked {
		m[i>>6] |= 1 << (uint(i) & 63)
	}
}

func (m *mask) empty() bool {
	if m == nil {
		return true
	}
	for _, w := range m {
		if w != 0 {
			return false
		}
	}
	return true
}
