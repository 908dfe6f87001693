package upstream

import (
	"context"
	"sync"
	"sync/atomic"
)

// balancer kinds, resolved from Config.Balancer once.
const (
	balPeakEWMA uint8 = iota
	balLeastRequest
	balRoundRobin
)

// rng is a lock-free SplitMix64 generator: deterministic for a given seed
// when used from one goroutine, safe (if then interleaved) from many.
type rng struct{ state atomic.Uint64 }

func (r *rng) next() uint64 {
	z := r.state.Add(0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	return int(r.next() % uint64(n)) //nolint:gosec // n > 0, and the result is below n
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// picker chooses hosts. It holds only what the choice needs, so tests build
// one without a Pool.
type picker struct {
	kind  uint8
	tau   float64 // EWMA decay, ns
	panic float64 // panic threshold; ≤ 0 never panics
	rr    atomic.Uint64
	rand  rng
}

// pick returns the position in hs of the host for the next attempt at now,
// or -1 when every host is drained or skipped. Hosts in skip (their breaker
// refused) are never chosen; hosts in tried only when nothing else is left.
// inPanic reports whether panic mode was in force.
func (pk *picker) pick(hs []*host, now int64, tried, skip *mask) (i int, inPanic bool) {
	live, avail := 0, 0
	for _, h := range hs {
		if h.drained.Load() {
			continue
		}
		live++
		if h.available(now) {
			avail++
		}
	}
	if live == 0 {
		return -1, false
	}
	inPanic = pk.panic > 0 && float64(avail) < pk.panic*float64(live)
	useTried := tried != nil && !tried.empty()
	k := pk.count(hs, now, inPanic, tried, skip, useTried)
	if k == 0 && useTried {
		useTried = false
		k = pk.count(hs, now, inPanic, tried, skip, false)
	}
	if k == 0 {
		return -1, inPanic
	}
	if pk.kind == balRoundRobin {
		// The next of the eligible hosts in turn, so skipping one host does
		// not double its neighbour's share.
		r := int((pk.rr.Add(1) - 1) % uint64(k)) //nolint:gosec // k > 0, and the result is below k
		return pk.nth(hs, r, now, inPanic, tried, skip, useTried), inPanic
	}
	// Power of two choices among the k eligible hosts: two distinct ranks.
	ra := pk.rand.intn(k)
	if k == 1 {
		return pk.nth(hs, ra, now, inPanic, tried, skip, useTried), inPanic
	}
	rb := pk.rand.intn(k - 1)
	if rb >= ra {
		rb++
	}
	a, b := -1, -1
	rank := 0
	for p := range hs {
		if !pk.eligible(hs, p, now, inPanic, tried, skip, useTried) {
			continue
		}
		if rank == ra {
			a = p
		}
		if rank == rb {
			b = p
		}
		rank++
	}
	if pk.cost(hs[b], now) < pk.cost(hs[a], now) {
		return b, inPanic
	}
	return a, inPanic
}

func (pk *picker) cost(h *host, now int64) float64 {
	if pk.kind == balLeastRequest {
		return float64(h.active.Load())
	}
	c := peakEWMACost(h.ewma(now, pk.tau), h.active.Load())
	if now < h.penaltyUntil.Load() {
		c += failurePenaltyCost
	}
	return c
}

func (pk *picker) eligible(hs []*host, p int, now int64, inPanic bool, tried, skip *mask, useTried bool) bool {
	h := hs[p]
	if h.drained.Load() || skip.has(p) || (useTried && tried.has(p)) {
		return false
	}
	return inPanic || h.available(now)
}

func (pk *picker) count(hs []*host, now int64, inPanic bool, tried, skip *mask, useTried bool) int {
	k := 0
	for p := range hs {
		if pk.eligible(hs, p, now, inPanic, tried, skip, useTried) {
			k++
		}
	}
	return k
}

func (pk *picker) nth(hs []*host, n int, now int64, inPanic bool, tried, skip *mask, useTried bool) int {
	for p := range hs {
		if pk.eligible(hs, p, now, inPanic, tried, skip, useTried) {
			if n == 0 {
				return p
			}
			n--
		}
	}
	return -1
}

// tracker remembers the hosts one request has tried, across its attempts.
// It is itself the context that carries it: one allocation per request.
type tracker struct {
	context.Context
	mu    sync.Mutex
	few   [3]*host
	hosts []*host // few[:n] until a fourth attempt
}

type trackerKey struct{}

// WithAttemptTracker returns a context that remembers which hosts the
// attempts of one request were sent to, so that Pool.RoundTrip sends each
// retry to a host not tried yet while one is available (Envoy's
// previous_hosts retry predicate). Give it to the request once, before its
// first attempt; it is safe for concurrent attempts (hedging).
func WithAttemptTracker(ctx context.Context) context.Context {
	t := &tracker{Context: ctx}
	t.hosts = t.few[:0]
	return t
}

// Value returns the tracker for its key, and ctx's values otherwise.
func (t *tracker) Value(key any) any {
	if key == (trackerKey{}) {
		return t
	}
	return t.Context.Value(key)
}

func trackerFrom(ctx context.Context) *tracker {
	t, _ := ctx.Value(trackerKey{}).(*tracker)
	return t
}

// fill sets in m the positions in hs of the hosts tried so far.
func (t *tracker) fill(hs []*host, m *mask) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, th := range t.hosts {
		for p, h := range hs {
			if h == th {
				m.add(p)
				break
			}
		}
	}
}

func (t *tracker) add(h *host) {
	t.mu.Lock()
	t.hosts = append(t.hosts, h)
	t.mu.Unlock()
}
