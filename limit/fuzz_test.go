package limit_test

import (
	"math"
	"testing"
	"time"

	"github.com/keelhq/keel/limit"
)

// FuzzAlgorithms feeds every algorithm arbitrary parameters and samples: a
// valid configuration must never yield a NaN or infinite limit, and the
// limit it returns for a finite input is finite.
func FuzzAlgorithms(f *testing.F) {
	f.Add(0.0, 0.0, int64(10*time.Millisecond), 20, false, 20.0, uint64(1))
	f.Add(0.5, 1.5, int64(time.Hour), 1, true, 1.0, uint64(9))
	f.Add(0.99, 3.0, int64(1), 1000, false, 1000.0, uint64(0))
	f.Fuzz(func(t *testing.T, ratio, tol float64, rttNs int64, inFlight int, dropped bool, lim float64, seed uint64) {
		if math.IsNaN(lim) || math.IsInf(lim, 0) || lim < 1 || lim > 1e6 {
			return
		}
		algs := []limit.Algorithm{
			&limit.AIMD{BackoffRatio: ratio},
			&limit.Vegas{Smoothing: ratio, Seed: seed},
			&limit.Gradient2{Tolerance: tol, BackoffRatio: ratio},
		}
		for _, a := range algs {
			if err := a.(interface{ Validate() error }).Validate(); err != nil {
				continue
			}
			l := lim
			for i := range 50 {
				s := limit.Sample{RTT: time.Duration(rttNs) + time.Duration(i), InFlight: inFlight, Dropped: dropped && i%2 == 0, Limit: l}
				n := a.Update(s)
				if math.IsNaN(n) || math.IsInf(n, 0) {
					t.Fatalf("%T: sample %+v: got limit %v", a, s, n)
				}
				l = min(max(n, 1), 1e6)
			}
		}
	})
}

// FuzzThrottlerConfig checks that Validate accepts exactly the
// configurations NewThrottler can run, and that the probability stays in
// [0, 1).
func FuzzThrottlerConfig(f *testing.F) {
	f.Add(2.0, int64(time.Minute), 24, 10, 3)
	f.Add(1.0, int64(10), 10, 0, 0)
	f.Fuzz(func(t *testing.T, k float64, window int64, buckets, requests, accepts int) {
		cfg := limit.ThrottlerConfig{K: k, Window: time.Duration(window), Buckets: buckets % 10000, Rand: func() float64 { return 0.5 }}
		th, err := limit.NewThrottler(cfg)
		if err != nil {
			return
		}
		now := time.Unix(0, 0)
		for range requests % 1000 {
			th.AllowAt(now)
		}
		for range accepts % 1000 {
			th.AcceptAt(now)
		}
		if p := th.Probability(now); !(p >= 0 && p < 1) {
			t.Fatalf("%+v: got probability %v, want it in [0, 1)", cfg, p)
		}
	})
}
