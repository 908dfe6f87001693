package breaker

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// FuzzBreaker builds breakers from arbitrary numeric settings and drives them
// through arbitrary call sequences, checking the invariants after every step:
// valid configurations are accepted by New, probes in flight stay within
// HalfOpenPermits, open durations stay within their bounds, and the window
// never holds more calls than it should.
func FuzzBreaker(f *testing.F) {
	f.Add(uint8(0), 4, 50.0, 2, int64(time.Second), 50.0, int64(10*time.Second), 2.0, int64(time.Minute), 0.2, 2, 3, []byte{0, 1, 0, 5, 2, 0, 0, 9, 18, 34, 0, 1, 3, 7, 11, 15})
	f.Add(uint8(1), 10, 100.0, 0, int64(0), 0.0, int64(0), 0.0, int64(0), 0.0, 0, 0, []byte{0, 0, 0, 1, 1, 1, 242, 0, 1})
	f.Add(uint8(0), 1, 1.0, 1, int64(1), 1.0, int64(1), 1e9, int64(1<<62), 0.99, 1, 1, []byte{0, 5, 0, 9, 0, 13, 2, 0, 1})
	f.Fuzz(func(t *testing.T, wt uint8, size int, thr float64, minCalls int, slow int64, slowThr float64,
		open int64, mult float64, maxOpen int64, jitter float64, permits, succ int, ops []byte) {
		cfg := Config{
			WindowType: WindowType(wt % 3), WindowSize: size % 2000, FailureRateThreshold: thr,
			MinimumCalls: minCalls, SlowCallDuration: time.Duration(slow), SlowCallRateThreshold: slowThr,
			OpenDuration: time.Duration(open), OpenDurationMultiplier: mult, MaxOpenDuration: time.Duration(maxOpen),
			OpenJitter: jitter, HalfOpenPermits: permits % 100, SuccessesToClose: succ % 100,
			HalfOpenMaxWait: time.Duration(slow / 3),
			Rand:            rand.New(rand.NewPCG(1, 1)),
		}
		verr := cfg.Validate()
		b, err := New(cfg)
		if (verr == nil) != (err == nil) {
			t.Fatalf("Validate %v but New %v", verr, err)
		}
		if err != nil {
			return
		}
		c := b.cfg
		hi := float64(c.MaxOpenDuration) * (1 + c.OpenJitter)
		now := t0
		var held []Permit
		for i, op := range ops {
			switch op & 3 {
			case 0:
				if p, err := b.AllowAt(now); err == nil {
					held = append(held, p)
				}
			case 1:
				if len(held) > 0 {
					held[0].DoneAt(now, keel.Outcome(op>>2&3))
					held = held[1:]
				}
			case 2:
				now = now.Add(time.Duration(op>>2) * 250 * time.Millisecond)
			case 3:
				switch op >> 2 {
				case 0:
					b.Reset()
				case 1:
					b.ForceOpen()
				case 2:
					b.Disable()
				case 3:
					b.MetricsOnly()
				}
			}
			m := b.MetricsAt(now)
			if m.Probes < 0 || m.Probes > c.HalfOpenPermits {
				t.Fatalf("step %d: probes %d out of [0, %d]", i, m.Probes, c.HalfOpenPermits)
			}
			if m.State == Open && (m.Remaining <= 0 || float64(m.Remaining) > hi+1) {
				t.Fatalf("step %d: open with %v remaining, want in (0, %v]", i, m.Remaining, time.Duration(hi))
			}
			if c.WindowType == CountBased && m.Calls > c.WindowSize {
				t.Fatalf("step %d: %d calls in a window of %d", i, m.Calls, c.WindowSize)
			}
			if m.Failures > m.Calls || m.SlowCalls > m.Calls || m.FailureRate < 0 || m.FailureRate > 100 {
				t.Fatalf("step %d: inconsistent metrics %+v", i, m)
			}
		}
	})
}
