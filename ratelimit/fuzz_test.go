package ratelimit_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/keelhq/keel/ratelimit"
)

// FuzzLimiter checks, for any valid rate and burst and any sequence of calls,
// that a Limiter never grants more than burst + rate*window tokens over a
// window, that a refused call's hint is right, and that nothing panics.
func FuzzLimiter(f *testing.F) {
	f.Add(10.0, 3, uint64(1), int64(time.Millisecond))
	f.Add(0.5, 0, uint64(2), int64(time.Second))
	f.Add(1e9, 1, uint64(3), int64(1))
	f.Add(3.0, 1, uint64(4), int64(333*time.Millisecond))
	f.Add(1e-9, 1, uint64(5), int64(time.Hour))
	f.Add(9e8, 1, uint64(11), int64(1))            // interval rounding must not raise the rate
	f.Add(1.000000084e9, 1, uint64(124), int64(1)) // just above 1e9: unlimited
	f.Fuzz(func(t *testing.T, rate float64, burst int, seed uint64, maxStep int64) {
		cfg := ratelimit.Config{Rate: rate, Burst: burst}
		l, err := ratelimit.New(cfg)
		if err != nil {
			return
		}
		if maxStep <= 0 || maxStep > int64(24*time.Hour) {
			maxStep = int64(time.Second)
		}
		r := rand.New(rand.NewPCG(seed, seed))
		now := time.Unix(0, 0)
		window := 0.0 // seconds since the start; now.Sub saturates after 292 years
		granted := 0
		for range 500 {
			if l.AllowAt(now) {
				granted++
			} else if math.IsInf(rate, 1) || rate > 1e9 {
				t.Fatalf("unlimited rate %v refused a call", rate)
			} else {
				res := l.ReserveAt(now) // MaxWait 0: not OK, Delay is the hint
				if res.OK() {
					t.Fatalf("ReserveAt after a refused AllowAt is OK")
				}
				if res.Delay() <= 0 {
					t.Fatalf("refused with hint %v, want > 0", res.Delay())
				}
				if !l.AllowAt(now.Add(res.Delay())) {
					t.Fatalf("refused at the hinted time +%v (rate %v burst %d)", res.Delay(), rate, l.Burst())
				}
				granted++
				now = now.Add(res.Delay())
				window += res.Delay().Seconds()
			}
			if limit := float64(l.Burst()) + rate*window; rate <= 1e9 && float64(granted) > limit*1.000001+1e-9 {
				t.Fatalf("granted %d in %vs, limit %v (rate %v burst %d)", granted, window, limit, rate, l.Burst())
			}
			if tok := l.TokensAt(now); tok > float64(l.Burst())+1e-9 {
				t.Fatalf("TokensAt = %v above burst %d", tok, l.Burst())
			}
			step := time.Duration(r.Int64N(maxStep))
			now = now.Add(step)
			window += step.Seconds()
		}
	})
}

// FuzzKeyed drives a Keyed limiter with arbitrary keys and times and checks
// that the bound holds, that a key never gets more than its bucket allows
// while it is kept, and that nothing panics.
func FuzzKeyed(f *testing.F) {
	f.Add(uint64(1), 3, 2, uint16(10))
	f.Add(uint64(2), 1, 1, uint16(1000))
	f.Add(uint64(3), 8, 5, uint16(3))
	f.Fuzz(func(t *testing.T, seed uint64, maxKeys, burst int, nkeys uint16) {
		if maxKeys < 1 || maxKeys > 64 || burst < 1 || burst > 16 || nkeys == 0 {
			return
		}
		k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: 1, Burst: burst}, MaxKeys: maxKeys})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(seed, seed))
		now := time.Unix(0, 0)
		for range 2000 {
			key := strconv.Itoa(r.IntN(int(nkeys)))
			before := k.TokensAt(key, now)
			ok := k.AllowKeyAt(key, now)
			if ok != (before >= 1) {
				t.Fatalf("key %s with %v tokens: AllowKeyAt = %v", key, before, ok)
			}
			if n := k.Len(); n > maxKeys {
				t.Fatalf("Len() = %d > MaxKeys %d", n, maxKeys)
			}
			now = now.Add(time.Duration(r.Int64N(int64(300 * time.Millisecond))))
		}
	})
}
