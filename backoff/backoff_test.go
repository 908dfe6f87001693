package backoff_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel/backoff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  backoff.Config
		want string // substring of the error; "" for valid
	}{
		{"zero is valid", backoff.Config{}, ""},
		{"constant", backoff.Config{Initial: time.Second, Multiplier: 1}, ""},
		{"negative initial", backoff.Config{Initial: -1}, "Config.Initial is negative"},
		{"negative max", backoff.Config{Max: -time.Second}, "Config.Max is negative"},
		{"NaN multiplier", backoff.Config{Multiplier: math.NaN()}, "Config.Multiplier is not finite"},
		{"Inf multiplier", backoff.Config{Multiplier: math.Inf(1)}, "Config.Multiplier is not finite"},
		{"multiplier below 1", backoff.Config{Multiplier: 0.5}, "Config.Multiplier 0.5 is below 1"},
		{"negative multiplier", backoff.Config{Multiplier: -2}, "Config.Multiplier -2 is below 1"},
		{"max below initial", backoff.Config{Initial: 2 * time.Second, Max: time.Second}, "Config.Max 1s is below Config.Initial 2s"},
		{"unknown jitter", backoff.Config{Jitter: 9}, "Config.Jitter 9 is not a known mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tt.want == "" && err != nil || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("Validate() = %q, want containing %q", got, tt.want)
			}
			if err != nil && !strings.HasPrefix(got, "backoff: ") {
				t.Errorf("error %q lacks the package prefix", got)
			}
			if _, nerr := backoff.New(tt.cfg); (nerr != nil) != (err != nil) {
				t.Errorf("New error = %v, Validate error = %v", nerr, err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name string
		got  backoff.Config
		want backoff.Config
	}{
		{"zero config", backoff.MustNew(backoff.Config{}).Config(),
			backoff.Config{Initial: 100 * time.Millisecond, Multiplier: 2, Max: 10 * time.Second, Jitter: backoff.JitterFull}},
		{"Default", backoff.Default().Config(),
			backoff.Config{Initial: 100 * time.Millisecond, Multiplier: 2, Max: 10 * time.Second, Jitter: backoff.JitterFull}},
		{"initial above default max", backoff.MustNew(backoff.Config{Initial: 30 * time.Second}).Config(),
			backoff.Config{Initial: 30 * time.Second, Multiplier: 2, Max: 30 * time.Second}},
		{"constant", backoff.Constant(time.Second).Config(),
			backoff.Config{Initial: time.Second, Multiplier: 1, Max: time.Second, Jitter: backoff.JitterNone}},
		{"negative constant", backoff.Constant(-time.Second).Config(),
			backoff.Config{Multiplier: 1, Jitter: backoff.JitterNone}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s: config mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	if !(backoff.Schedule{}).IsZero() {
		t.Error("zero Schedule: IsZero() = false, want true")
	}
	if backoff.Constant(0).IsZero() {
		t.Error("Constant(0): IsZero() = true, want false")
	}
}

// TestNoJitterSequence pins the exact un-jittered sequences.
func TestNoJitterSequence(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		s    backoff.Schedule
		want []time.Duration
	}{
		{"doubling capped", backoff.MustNew(backoff.Config{Initial: 100 * ms, Max: time.Second, Jitter: backoff.JitterNone}),
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
		{"triple", backoff.MustNew(backoff.Config{Initial: 10 * ms, Multiplier: 3, Max: time.Second, Jitter: backoff.JitterNone}),
			[]time.Duration{10 * ms, 30 * ms, 90 * ms, 270 * ms, 810 * ms, time.Second}},
		{"fractional", backoff.MustNew(backoff.Config{Initial: 100 * ms, Multiplier: 1.5, Max: time.Second, Jitter: backoff.JitterNone}),
			[]time.Duration{100 * ms, 150 * ms, 225 * ms, 337500 * time.Microsecond, 506250 * time.Microsecond, 759375 * time.Microsecond, time.Second}},
		{"constant", backoff.Constant(250 * ms), []time.Duration{250 * ms, 250 * ms, 250 * ms}},
		{"zero schedule", backoff.Schedule{}, []time.Duration{0, 0, 0}},
	}
	for _, tt := range tests {
		var got []time.Duration
		var prev time.Duration
		for n := range tt.want {
			prev = tt.s.Delay(n, prev, nil)
			got = append(got, prev)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: delays (-want +got):\n%s", tt.name, diff)
		}
	}
}

// bounds returns the closed interval in which a delay must fall.
func bounds(c backoff.Config, n int, prev time.Duration) (lo, hi time.Duration) {
	v := float64(c.Initial) * math.Pow(c.Multiplier, float64(max(n, 0)))
	exp := c.Max
	if v < float64(c.Max) {
		exp = time.Duration(v)
	}
	switch c.Jitter {
	case backoff.JitterNone:
		return exp, exp
	case backoff.JitterFull:
		return 0, exp
	case backoff.JitterEqual:
		return exp / 2, exp
	default: // decorrelated
		p := min(max(prev, c.Initial), c.Max)
		return c.Initial, min(c.Max, 3*p)
	}
}

// TestJitterBounds is a property test: for every mode, many seeded draws over
// many retry numbers stay within the mode's bounds, and the draws spread over
// the interval rather than sticking to one end.
func TestJitterBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, j := range []backoff.Jitter{backoff.JitterNone, backoff.JitterFull, backoff.JitterEqual, backoff.JitterDecorrelated} {
		for _, mult := range []float64{1, 1.5, 2, 3, 10} {
			cfg := backoff.Config{Initial: 50 * time.Millisecond, Multiplier: mult, Max: 20 * time.Second, Jitter: j}
			s := backoff.MustNew(cfg)
			var lowHalf, highHalf int
			for iter := range 200 {
				var prev time.Duration
				for n := range 40 {
					d := s.Delay(n, prev, r)
					lo, hi := bounds(cfg, n, prev)
					if d < lo || d > hi {
						t.Fatalf("jitter %v mult %v iter %d retry %d prev %v: got %v, want in [%v, %v]", j, mult, iter, n, prev, d, lo, hi)
					}
					if lo < hi {
						if d-lo < (hi-lo)/2 {
							lowHalf++
						} else {
							highHalf++
						}
					}
					prev = d
				}
			}
			if j != backoff.JitterNone && (lowHalf < 1000 || highHalf < 1000) {
				t.Errorf("jitter %v mult %v: draws not spread: %d in low half, %d in high half", j, mult, lowHalf, highHalf)
			}
		}
	}
}

// TestFullJitterMean checks the distribution, not only the bounds: the mean of
// full jitter over [0, v) is v/2, and of equal jitter 3v/4.
func TestFullJitterMean(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const v = time.Second
	for _, tt := range []struct {
		j    backoff.Jitter
		want float64
	}{{backoff.JitterFull, 0.5}, {backoff.JitterEqual, 0.75}} {
		s := backoff.MustNew(backoff.Config{Initial: v, Multiplier: 1, Jitter: tt.j})
		var sum float64
		const n = 20000
		for range n {
			sum += float64(s.Delay(0, 0, r))
		}
		got := sum / n / float64(v)
		if math.Abs(got-tt.want) > 0.01 {
			t.Errorf("%v: mean = %.4f·v, want %.2f·v ± 0.01", tt.j, got, tt.want)
		}
	}
}

// TestSharedScheduleHasNoState is the cenkalti/backoff#183 regression: two
// loops sharing one Schedule get the same sequence as a loop alone.
func TestSharedScheduleHasNoState(t *testing.T) {
	s := backoff.MustNew(backoff.Config{Initial: 10 * time.Millisecond, Jitter: backoff.JitterDecorrelated})
	seq := func(seed uint64, interleave bool) []time.Duration {
		r := rand.New(rand.NewPCG(seed, seed))
		other := rand.New(rand.NewPCG(99, 99))
		var out []time.Duration
		var prev, otherPrev time.Duration
		for n := range 10 {
			if interleave {
				otherPrev = s.Delay(n, otherPrev, other)
			}
			prev = s.Delay(n, prev, r)
			out = append(out, prev)
		}
		return out
	}
	if diff := cmp.Diff(seq(3, false), seq(3, true)); diff != "" {
		t.Errorf("sequence changed when another loop shared the schedule (-alone +shared):\n%s", diff)
	}
}

type badRand struct{ v int64 }

func (b badRand) Int64N(int64) int64 { return b.v }

func TestFaultyRandIsClamped(t *testing.T) {
	s := backoff.MustNew(backoff.Config{Initial: time.Second, Max: 4 * time.Second})
	for _, v := range []int64{-5, math.MaxInt64, math.MinInt64} {
		for n := range 5 {
			if d := s.Delay(n, 0, badRand{v}); d < 0 || d > 4*time.Second {
				t.Errorf("rand returning %d, retry %d: got %v, want in [0, 4s]", v, n, d)
			}
		}
	}
}

func TestHugeValuesSaturate(t *testing.T) {
	tests := []struct {
		name string
		cfg  backoff.Config
		n    int
		want time.Duration
	}{
		{"retry 1e9 doubling", backoff.Config{Jitter: backoff.JitterNone}, 1_000_000_000, 10 * time.Second},
		{"retry 62 doubling", backoff.Config{Jitter: backoff.JitterNone, Max: math.MaxInt64}, 62, math.MaxInt64},
		{"retry 63 doubling", backoff.Config{Jitter: backoff.JitterNone, Max: math.MaxInt64}, 63, math.MaxInt64},
		{"huge multiplier", backoff.Config{Multiplier: math.MaxFloat64, Jitter: backoff.JitterNone}, 2, 10 * time.Second},
		{"max int64 initial", backoff.Config{Initial: math.MaxInt64, Jitter: backoff.JitterNone}, 5, math.MaxInt64},
		{"max int n", backoff.Config{Multiplier: 1.0001, Jitter: backoff.JitterNone}, math.MaxInt, 10 * time.Second},
		{"negative n", backoff.Config{Jitter: backoff.JitterNone}, -7, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff.MustNew(tt.cfg).Delay(tt.n, 0, nil); got != tt.want {
			t.Errorf("%s: Delay(%d) = %v, want %v", tt.name, tt.n, got, tt.want)
		}
	}
}

func TestParseJitter(t *testing.T) {
	for _, j := range []backoff.Jitter{backoff.JitterFull, backoff.JitterNone, backoff.JitterEqual, backoff.JitterDecorrelated} {
		text, err := j.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText: %v", j, err)
		}
		var got backoff.Jitter
		if err := got.UnmarshalText(text); err != nil || got != j {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, nil", text, got, err, j)
		}
	}
	for _, s := range []string{"", "Full", "random", "none "} {
		if j, err := backoff.ParseJitter(s); err == nil {
			t.Errorf("ParseJitter(%q) = %v, nil; want an error", s, j)
		}
	}
	if _, err := backoff.Jitter(42).MarshalText(); err == nil {
		t.Error("Jitter(42).MarshalText: got nil error, want one")
	}
	if got, want := backoff.Jitter(42).String(), "Jitter(42)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDelayAllocatesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, j := range []backoff.Jitter{backoff.JitterFull, backoff.JitterNone, backoff.JitterEqual, backoff.JitterDecorrelated} {
		s := backoff.MustNew(backoff.Config{Multiplier: 1.7, Jitter: j})
		var prev time.Duration
		n := 0
		if allocs := testing.AllocsPerRun(1000, func() {
			prev = s.Delay(n, prev, r)
			prev = s.Delay(n, prev, nil)
			n++
		}); allocs != 0 {
			t.Errorf("%v: %v allocs per Delay, want 0", j, allocs)
		}
	}
}

// FuzzDelay feeds arbitrary parameters: New either rejects them or yields a
// schedule whose every delay is within [0, Max], for any retry number and any
// previous delay.
func FuzzDelay(f *testing.F) {
	f.Add(int64(100e6), 2.0, int64(10e9), uint8(0), 3, int64(0), uint64(1))
	f.Add(int64(0), 0.0, int64(0), uint8(3), 1<<30, int64(-1), uint64(2))
	f.Add(int64(math.MaxInt64), math.MaxFloat64, int64(math.MaxInt64), uint8(2), math.MaxInt, int64(math.MaxInt64), uint64(3))
	f.Add(int64(5e9), 1.0, int64(1e9), uint8(1), -1, int64(math.MinInt64), uint64(4))
	f.Add(int64(1), 1e300, int64(1), uint8(3), 64, int64(7), uint64(5))
	f.Fuzz(func(t *testing.T, initial int64, mult float64, maxD int64, jitter uint8, n int, prev int64, seed uint64) {
		cfg := backoff.Config{Initial: time.Duration(initial), Multiplier: mult, Max: time.Duration(maxD), Jitter: backoff.Jitter(jitter)}
		s, err := backoff.New(cfg)
		if err != nil {
			return
		}
		c := s.Config()
		r := rand.New(rand.NewPCG(seed, seed))
		p := time.Duration(prev)
		for i := range 4 {
			d := s.Delay(n+i, p, r)
			if d < 0 || d > c.Max {
				t.Fatalf("config %+v, retry %d, prev %v: delay %v outside [0, %v]", c, n+i, p, d, c.Max)
			}
			if c.Jitter == backoff.JitterNone && i > 0 && n >= 0 && n+i > 0 && d < s.Delay(n+i-1, 0, nil) {
				t.Fatalf("config %+v: un-jittered delay shrank at retry %d", c, n+i)
			}
			p = d
		}
	})
}
