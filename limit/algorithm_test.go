package limit_test

import (
	"math"
	"testing"
	"time"

	"github.com/keelhq/keel/limit"
)

type step struct {
	rtt      time.Duration
	inFlight int
	dropped  bool
	want     float64
}

// run feeds steps to alg starting from limit l and checks the limit after
// each one.
func runSteps(t *testing.T, alg limit.Algorithm, l float64, steps []step) {
	t.Helper()
	now := time.Unix(0, 0)
	for i, s := range steps {
		now = now.Add(s.rtt)
		l = alg.Update(limit.Sample{Time: now, RTT: s.rtt, InFlight: s.inFlight, Dropped: s.dropped, Limit: l})
		if math.Abs(l-s.want) > 1e-9 {
			t.Fatalf("step %d (rtt %v, in flight %d, dropped %v): got limit %v, want %v", i, s.rtt, s.inFlight, s.dropped, l, s.want)
		}
	}
}

const ms = time.Millisecond

func TestAIMDTrajectory(t *testing.T) {
	runSteps(t, &limit.AIMD{}, 10, []step{
		{10 * ms, 5, false, 11},           // 5·2 ≥ 10: +1
		{10 * ms, 2, false, 11},           // app-limited: hold
		{10 * ms, 11, true, 11 * 0.9},     // drop: ×0.9
		{6 * time.Second, 9, false, 8.91}, // RTT over the 5s timeout: ×0.9
		{10 * ms, 5, false, 9.91},         // 5·2 ≥ 8.91: +1
	})
	runSteps(t, &limit.AIMD{BackoffRatio: 0.5, Timeout: 100 * ms}, 40, []step{
		{101 * ms, 40, false, 20},
		{100 * ms, 40, false, 21},
		{1 * ms, 1, true, 10.5},
	})
}

func TestVegasTrajectory(t *testing.T) {
	l26 := 26 - math.Log10(26)
	l26b := l26 + math.Log10(l26)
	runSteps(t, &limit.Vegas{ProbeMultiplier: 1000}, 20, []step{
		{10 * ms, 20, false, 20},                    // first RTT becomes rttNoLoad
		{10 * ms, 20, false, 26},                    // queue 0 ≤ 1: + 6·lg
		{20 * ms, 26, false, l26},                   // queue ceil(26·0.5)=13 > 6: − log10(L)
		{11 * ms, 24, false, l26},                   // queue 3: between alpha and beta: hold
		{10500 * time.Microsecond, 24, false, l26b}, // queue 2 < 3: + log10(L)
		{10 * ms, 5, false, l26b},                   // app-limited: hold
		{1 * ms, 25, true, l26b - math.Log10(l26b)}, // drop: − log10(L); its RTT is ignored
	})
	// Smoothing 0.5 halves each move.
	runSteps(t, &limit.Vegas{ProbeMultiplier: 1000, Smoothing: 0.5}, 20, []step{
		{10 * ms, 20, false, 20},
		{10 * ms, 20, false, 23},
	})
}

func TestVegasProbeResetsRTTNoLoad(t *testing.T) {
	v := &limit.Vegas{ProbeMultiplier: 1, Seed: 7}
	l := 4.0
	now := time.Unix(0, 0)
	// The dependency's base latency rises from 10ms to 50ms. Without
	// probing rttNoLoad would stay 10ms for ever.
	for range 3 {
		l = v.Update(limit.Sample{Time: now, RTT: 10 * ms, InFlight: 4, Limit: l})
	}
	// Samples taken under load do not reset it…
	for range 20 {
		l = v.Update(limit.Sample{Time: now, RTT: 50 * ms, InFlight: int(l), Limit: l})
	}
	if got, want := v.RTTNoLoad(), 10*ms; got != want {
		t.Fatalf("got rttNoLoad %v after loaded samples only, want %v", got, want)
	}
	// …the first unloaded one after the probe interval does.
	v.Update(limit.Sample{Time: now, RTT: 50 * ms, InFlight: 1, Limit: l})
	if got, want := v.RTTNoLoad(), 50*ms; got != want {
		t.Fatalf("got rttNoLoad %v after the base latency rose, want %v", got, want)
	}
}

func TestGradient2Trajectory(t *testing.T) {
	g := &limit.Gradient2{ShortWindow: 1, LongWindow: 3, Smoothing: 1}
	runSteps(t, g, 20, []step{
		{10 * ms, 20, false, 24},  // short = long = 10ms: gradient 1, + queue 4
		{20 * ms, 24, false, 22},  // long stays 10ms (loaded sample above it): gradient 0.75
		{40 * ms, 22, false, 15},  // gradient clamped at 0.5
		{5 * ms, 15, false, 19},   // long drops to 7.5ms: gradient 1
		{2 * ms, 19, false, 23},   // long 4.75ms, > 2·short: decays to 4.5125ms
		{30 * ms, 23, true, 20.7}, // drop: ×0.9
		{30 * ms, 5, false, 20.7}, // app-limited: hold, but long may rise
	})
	if got, want := g.LongRTT(), time.Duration(17.25625*float64(ms)); got != want {
		t.Fatalf("got long RTT %v, want %v (an app-limited sample moves it up)", got, want)
	}
}

// overload drives alg against a simulated dependency that serves capacity
// requests at once in base time each and queues the rest (RTT grows with
// in-flight/capacity), under a demand of demand concurrent callers. It
// returns the limit after each sample, clamped to [1, 1000] as a Limiter
// does.
func overload(alg limit.Algorithm, capacity, demand, n int, base time.Duration, timeout time.Duration) []float64 {
	l := 20.0
	out := make([]float64, n)
	now := time.Unix(0, 0)
	for i := range n {
		inFlight := min(int(l), demand)
		rtt := time.Duration(float64(base) * max(1, float64(inFlight)/float64(capacity)))
		dropped := timeout > 0 && rtt >= timeout
		now = now.Add(rtt)
		l = min(max(alg.Update(limit.Sample{Time: now, RTT: rtt, InFlight: inFlight, Dropped: dropped, Limit: l}), 1), 1000)
		out[i] = l
	}
	return out
}

func TestBoundedUnderOverload(t *testing.T) {
	const capacity = 16
	for _, tc := range []struct {
		name string
		alg  limit.Algorithm
		max  float64 // bound after warm-up
	}{
		// Netflix's Gradient2 drifts to demand·2 (128) here: its long RTT
		// learns the queueing delay (concurrency-limits#134).
		{"gradient2", &limit.Gradient2{}, 3 * capacity},
		{"vegas", &limit.Vegas{Seed: 1}, 3 * capacity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := overload(tc.alg, capacity, 4*capacity, 20000, 10*ms, 0)
			early := 0.0
			for _, l := range ls[1000:2000] {
				early = max(early, l)
			}
			for i, l := range ls[1000:] {
				if l > tc.max {
					t.Fatalf("sample %d: got limit %.2f, want <= %v under 4x overload", i+1000, l, tc.max)
				}
				if l > early+1 {
					t.Fatalf("sample %d: got limit %.2f, want <= %.2f (samples 1000-2000's maximum + 1): the limit drifts up", i+1000, l, early+1)
				}
			}
			if last := ls[len(ls)-1]; last < capacity/2 {
				t.Fatalf("got final limit %.2f, want >= %d: the limiter starves the dependency", last, capacity/2)
			}
		})
	}
}

func TestConstantTimeoutsNoGrowth(t *testing.T) {
	// Every call runs into its timeout (concurrency-limits#137): the limit
	// must fall to the floor and stay there, never grow.
	for _, tc := range []struct {
		name string
		alg  limit.Algorithm
	}{
		{"aimd", &limit.AIMD{}},
		{"vegas", &limit.Vegas{Seed: 1}},
		{"gradient2", &limit.Gradient2{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := overload(tc.alg, 16, 1000, 500, 10*time.Second, 5*time.Second)
			prev := 20.0
			for i, l := range ls {
				if l > prev {
					t.Fatalf("sample %d: limit grew from %.2f to %.2f although every call timed out", i, prev, l)
				}
				prev = l
			}
			if got := ls[len(ls)-1]; got != 1 {
				t.Fatalf("got final limit %.2f, want 1 (the floor)", got)
			}
		})
	}
}
