package limit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Sample is one finished operation as an [Algorithm] sees it.
type Sample struct {
	// Time is when the operation finished.
	Time time.Time
	// RTT is how long it ran, measured from the moment its permit was
	// granted (time spent queued is not included).
	RTT time.Duration
	// InFlight is the number of permits held just after this operation's
	// permit was granted, itself included.
	InFlight int
	// Dropped reports that the operation failed or timed out: a sign of
	// overload rather than a latency measurement.
	Dropped bool
	// Limit is the limiter's current (unrounded) limit.
	Limit float64
}

// Algorithm computes a new concurrency limit from one sample. Implementations
// are pure state machines: they read time only from the Sample and keep
// whatever smoothing state they need.
//
// A Limiter serializes its calls to Update with a mutex of its own, separate
// from the one Acquire takes, so an implementation need not be safe for
// concurrent use, but one Algorithm value must serve only one Limiter. Update
// may call the Limiter's getters but must not finish a Permit. The Limiter clamps
// the returned limit to [Config.MinLimit, Config.MaxLimit] and ignores NaN.
// Update must not block.
type Algorithm interface {
	Update(s Sample) (newLimit float64)
}

// validator is implemented by algorithms that can check their parameters.
type validator interface{ Validate() error }

// AIMD is additive-increase, multiplicative-decrease, as in Netflix
// concurrency-limits' AIMDLimit. On a dropped sample, or one whose RTT exceeds
// Timeout, the limit becomes Limit·BackoffRatio; otherwise, if the limiter was
// at least half used when the operation started (InFlight·2 ≥ Limit), it grows
// by 1; otherwise it stays (the application, not the dependency, limited the
// concurrency). AIMD smooths nothing: each sample counts on its own.
//
// The zero AIMD uses the defaults named below. An AIMD has no state and is
// safe for concurrent use.
type AIMD struct {
	// BackoffRatio multiplies the limit on a drop. Zero means 0.9; otherwise
	// it must lie in [0.5, 1).
	BackoffRatio float64
	// Timeout is the RTT above which a sample counts as a drop. Zero means
	// 5s; negative is invalid.
	Timeout time.Duration
}

// Validate reports the first invalid field of a, or nil.
func (a *AIMD) Validate() error {
	switch {
	case a.BackoffRatio != 0 && !(a.BackoffRatio >= 0.5 && a.BackoffRatio < 1):
		return fmt.Errorf("limit: AIMD.BackoffRatio must lie in [0.5, 1) (0 means 0.9), got %v", a.BackoffRatio)
	case a.Timeout < 0:
		return fmt.Errorf("limit: AIMD.Timeout must be >= 0 (0 means 5s), got %v", a.Timeout)
	}
	return nil
}

// Update implements [Algorithm].
func (a *AIMD) Update(s Sample) float64 {
	ratio, timeout := a.BackoffRatio, a.Timeout
	if ratio == 0 {
		ratio = 0.9
	}
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	switch {
	case s.Dropped || s.RTT > timeout:
		return s.Limit * ratio
	case float64(s.InFlight)*2 >= s.Limit:
		return s.Limit + 1
	}
	return s.Limit
}

// Vegas is TCP-Vegas-style limiting, as in Netflix concurrency-limits'
// VegasLimit. It estimates the queue behind the dependency as
// queue = ceil(L·(1 − rttNoLoad/rtt)), where rttNoLoad is the smallest RTT
// seen since the last probe, and with lg = max(1, floor(log10(L))):
//
//   - queue ≤ lg: L + 6·lg (far from saturation: grow fast);
//   - queue < 3·lg: L + log10(L);
//   - queue > 6·lg: L − log10(L);
//   - otherwise L is kept.
//
// A dropped sample gives L − log10(L) (with log10 floored at 1), whatever its
// RTT; its RTT never becomes rttNoLoad. A sample taken while the limiter was
// less than half used (InFlight·2 < L) changes nothing. The result is smoothed:
// L·(1 − Smoothing) + new·Smoothing.
//
// Every ProbeMultiplier·L·j samples, j drawn from [0.5, 1) by a generator
// seeded with Seed, rttNoLoad is reset to the RTT of the next sample taken
// while the limiter was less than half used, so a lasting change of the
// dependency's base latency is learned. Netflix resets it on any sample; a
// sample taken under load carries queueing delay, and adopting it as the
// no-load RTT lets the limit ratchet up without bound under sustained
// overload, so the probe waits for an unloaded sample instead. The cost: a
// dependency that becomes slower while it stays overloaded keeps a low limit
// until load falls. RTT smoothing: none for the sample; rttNoLoad is a running
// minimum between probes.
//
// The zero Vegas uses the defaults named below. A Vegas is not safe for
// concurrent use; give each Limiter its own.
type Vegas struct {
	// Smoothing weighs the new limit against the old one, in (0, 1]. Zero
	// means 1 (no smoothing).
	Smoothing float64
	// ProbeMultiplier sets how often rttNoLoad is re-measured, in multiples
	// of the limit. Zero means 30; negative is invalid.
	ProbeMultiplier int
	// Seed seeds the probe jitter, so runs are reproducible.
	Seed uint64

	rng        *rand.Rand
	rttNoLoad  time.Duration
	probeCount int
	probeAt    float64
}

// Validate reports the first invalid field of v, or nil.
func (v *Vegas) Validate() error {
	switch {
	case v.Smoothing != 0 && !(v.Smoothing > 0 && v.Smoothing <= 1):
		return fmt.Errorf("limit: Vegas.Smoothing must lie in (0, 1] (0 means 1), got %v", v.Smoothing)
	case v.ProbeMultiplier < 0:
		return fmt.Errorf("limit: Vegas.ProbeMultiplier must be >= 0 (0 means 30), got %d", v.ProbeMultiplier)
	}
	return nil
}

// RTTNoLoad returns the current estimate of the dependency's RTT without
// queueing (zero before the first sample).
func (v *Vegas) RTTNoLoad() time.Duration { return v.rttNoLoad }

func (v *Vegas) nextProbe(limit float64) {
	if v.rng == nil {
		v.rng = rand.New(rand.NewPCG(v.Seed, v.Seed))
	}
	m := v.ProbeMultiplier
	if m == 0 {
		m = 30
	}
	v.probeAt = (0.5 + v.rng.Float64()*0.5) * float64(m) * limit
	v.probeCount = 0
}

// Update implements [Algorithm].
func (v *Vegas) Update(s Sample) float64 {
	L := s.Limit
	if v.probeAt == 0 {
		v.nextProbe(L)
	}
	if s.Dropped {
		return v.smooth(L, L-log10(L))
	}
	if s.RTT <= 0 {
		return L
	}
	appLimited := float64(s.InFlight)*2 < L
	v.probeCount++
	if float64(v.probeCount) >= v.probeAt && appLimited {
		v.nextProbe(L)
		v.rttNoLoad = s.RTT
		return L
	}
	if v.rttNoLoad == 0 || s.RTT < v.rttNoLoad {
		v.rttNoLoad = s.RTT
		return L
	}
	if appLimited {
		return L
	}
	queue := math.Ceil(L * (1 - float64(v.rttNoLoad)/float64(s.RTT)))
	lg := math.Max(1, math.Floor(math.Log10(L)))
	var n float64
	switch {
	case queue <= lg:
		n = L + 6*lg
	case queue < 3*lg:
		n = L + log10(L)
	case queue > 6*lg:
		n = L - log10(L)
	default:
		return L
	}
	return v.smooth(L, n)
}

func (v *Vegas) smooth(old, n float64) float64 {
	s := v.Smoothing
	if s == 0 {
		s = 1
	}
	return old*(1-s) + n*s
}

// log10 is log10(x) floored at 1, so small limits still move.
func log10(x float64) float64 { return math.Max(1, math.Log10(x)) }

// Gradient2 follows Netflix concurrency-limits' Gradient2Limit: it compares a
// short-term RTT with a long-term one,
//
//	gradient = clamp(0.5, 1, Tolerance·long/short)
//	new      = L·gradient + QueueSize
//	L'       = L·(1 − Smoothing) + new·Smoothing
//
// RTT smoothing: short is an exponential moving average over ShortWindow
// samples, long one over LongWindow samples (a plain mean during the first
// ShortWindow samples); when long/short exceeds 2, long decays ×0.95 so a
// recovered dependency is noticed quickly.
//
// Two changes from Netflix, both to keep the limit bounded under overload
// (Netflix concurrency-limits#134): the long-term RTT only moves up on samples
// taken while the limiter was less than half used (InFlight·2 < L), so
// queueing delay caused by the limit itself never becomes the baseline (it may
// move down on any sample); and a dropped sample sets the limit to
// L·BackoffRatio. As in Netflix, a sample taken while the limiter was less than
// half used leaves the limit unchanged.
//
// The zero Gradient2 uses the defaults named below. A Gradient2 is not safe
// for concurrent use; give each Limiter its own.
type Gradient2 struct {
	// Tolerance is how much longer than the long-term RTT the short-term
	// RTT may be before the limit shrinks. Zero means 1.5; otherwise >= 1.
	Tolerance float64
	// QueueSize is the headroom added on every update. Zero means 4;
	// negative is invalid.
	QueueSize float64
	// Smoothing weighs the new limit against the old one, in (0, 1]. Zero
	// means 0.2.
	Smoothing float64
	// ShortWindow is the short-term RTT average's window in samples. Zero
	// means 10; negative is invalid.
	ShortWindow int
	// LongWindow is the long-term RTT average's window in samples. Zero
	// means 600; negative is invalid.
	LongWindow int
	// BackoffRatio multiplies the limit on a drop. Zero means 0.9; otherwise
	// it must lie in [0.5, 1).
	BackoffRatio float64

	short, long float64 // nanoseconds
	n           int
}

// Validate reports the first invalid field of g, or nil.
func (g *Gradient2) Validate() error {
	switch {
	case g.Tolerance != 0 && !(g.Tolerance >= 1):
		return fmt.Errorf("limit: Gradient2.Tolerance must be >= 1 (0 means 1.5), got %v", g.Tolerance)
	case g.QueueSize < 0 || math.IsNaN(g.QueueSize):
		return fmt.Errorf("limit: Gradient2.QueueSize must be >= 0 (0 means 4), got %v", g.QueueSize)
	case g.Smoothing != 0 && !(g.Smoothing > 0 && g.Smoothing <= 1):
		return fmt.Errorf("limit: Gradient2.Smoothing must lie in (0, 1] (0 means 0.2), got %v", g.Smoothing)
	case g.ShortWindow < 0:
		return fmt.Errorf("limit: Gradient2.ShortWindow must be >= 0 (0 means 10), got %d", g.ShortWindow)
	case g.LongWindow < 0:
		return fmt.Errorf("limit: Gradient2.LongWindow must be >= 0 (0 means 600), got %d", g.LongWindow)
	case g.BackoffRatio != 0 && !(g.BackoffRatio >= 0.5 && g.BackoffRatio < 1):
		return fmt.Errorf("limit: Gradient2.BackoffRatio must lie in [0.5, 1) (0 means 0.9), got %v", g.BackoffRatio)
	}
	return nil
}

// ShortRTT and LongRTT return the current RTT averages.
func (g *Gradient2) ShortRTT() time.Duration { return time.Duration(g.short) }

// LongRTT returns the long-term RTT average (see [Gradient2.ShortRTT]).
func (g *Gradient2) LongRTT() time.Duration { return time.Duration(g.long) }

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// Update implements [Algorithm].
func (g *Gradient2) Update(s Sample) float64 {
	L := s.Limit
	if s.Dropped {
		return L * orDefault(g.BackoffRatio, 0.9)
	}
	if s.RTT <= 0 {
		return L
	}
	rtt := float64(s.RTT)
	sw, lw := float64(g.ShortWindow), float64(g.LongWindow)
	if sw == 0 {
		sw = 10
	}
	if lw == 0 {
		lw = 600
	}
	appLimited := float64(s.InFlight)*2 < L
	g.n++
	if float64(g.n) <= sw {
		// Warm-up: plain means.
		g.short += (rtt - g.short) / float64(g.n)
		g.long += (rtt - g.long) / float64(g.n)
	} else {
		g.short += (rtt - g.short) * 2 / (sw + 1)
		if next := g.long + (rtt-g.long)*2/(lw+1); next < g.long || appLimited {
			g.long = next
		}
	}
	if g.long/g.short > 2 {
		g.long *= 0.95
	}
	if appLimited {
		return L
	}
	grad := math.Max(0.5, math.Min(1, orDefault(g.Tolerance, 1.5)*g.long/g.short))
	n := L*grad + orDefault(g.QueueSize, 4)
	sm := orDefault(g.Smoothing, 0.2)
	return L*(1-sm) + n*sm
}

var (
	_ Algorithm = (*AIMD)(nil)
	_ Algorithm = (*Vegas)(nil)
	_ Algorithm = (*Gradient2)(nil)
)
