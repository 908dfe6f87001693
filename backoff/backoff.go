package backoff

import (
	"fmt"
	"math"
	"time"
)

// Defaults applied by [New] to zero fields of a [Config].
const (
	DefaultInitial    = 100 * time.Millisecond
	DefaultMultiplier = 2.0
	DefaultMax        = 10 * time.Second
)

// Config describes an exponential schedule. Its zero value is the default
// schedule: 100ms, doubling, capped at 10s, full jitter.
type Config struct {
	// Initial is the base delay: the un-jittered delay before the first retry
	// and the lower bound of decorrelated jitter. Zero means 100ms. It must
	// not be negative.
	Initial time.Duration
	// Multiplier is the growth factor per retry: the un-jittered delay before
	// retry n (counting from 0) is Initial×Multiplier^n. Zero means 2; 1 makes
	// the schedule constant. It must be finite and, unless zero, at least 1.
	Multiplier float64
	// Max caps every delay, jittered or not. Zero means 10s, or Initial when
	// Initial is larger. It must not be negative, nor, when set, below Initial.
	Max time.Duration
	// Jitter is the randomization mode. The zero value is JitterFull.
	Jitter Jitter
}

// Validate reports the first invalid field of c, or nil. Zero fields are
// valid: they mean the documented defaults.
func (c Config) Validate() error {
	switch {
	case c.Initial < 0:
		return fmt.Errorf("backoff: Config.Initial is negative (%v)", c.Initial)
	case c.Max < 0:
		return fmt.Errorf("backoff: Config.Max is negative (%v)", c.Max)
	case math.IsNaN(c.Multiplier) || math.IsInf(c.Multiplier, 0):
		return fmt.Errorf("backoff: Config.Multiplier is not finite (%v)", c.Multiplier)
	case c.Multiplier != 0 && c.Multiplier < 1:
		return fmt.Errorf("backoff: Config.Multiplier %v is below 1 (0 means the default 2)", c.Multiplier)
	case c.Max != 0 && c.Max < c.Initial:
		return fmt.Errorf("backoff: Config.Max %v is below Config.Initial %v", c.Max, c.Initial)
	case int(c.Jitter) >= len(jitterNames):
		return fmt.Errorf("backoff: Config.Jitter %d is not a known mode", uint8(c.Jitter))
	}
	return nil
}

// Schedule is an immutable delay schedule. Build one with [New], [MustNew],
// [Default] or [Constant]; copy it freely. It is safe for concurrent use: it
// has no mutable state at all.
//
// The zero Schedule waits for nothing (every delay is 0) and reports IsZero;
// retry.Config treats it as "use the default schedule".
type Schedule struct {
	initial time.Duration
	max     time.Duration
	mult    float64
	jitter  Jitter
	built   bool
}

// New returns the schedule described by cfg, with defaults applied, or the
// error of cfg.Validate.
func New(cfg Config) (Schedule, error) {
	if err := cfg.Validate(); err != nil {
		return Schedule{}, err
	}
	s := Schedule{initial: cfg.Initial, max: cfg.Max, mult: cfg.Multiplier, jitter: cfg.Jitter, built: true}
	if s.initial == 0 {
		s.initial = DefaultInitial
	}
	if s.mult == 0 {
		s.mult = DefaultMultiplier
	}
	if s.max == 0 {
		s.max = max(DefaultMax, s.initial)
	}
	return s, nil
}

// MustNew is like [New] but panics if cfg is invalid. It is meant for
// package-level variables and tests with constant configs.
func MustNew(cfg Config) Schedule {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Default returns the default schedule, New(Config{}): 100ms, doubling, capped
// at 10s, full jitter.
func Default() Schedule {
	return Schedule{initial: DefaultInitial, max: DefaultMax, mult: DefaultMultiplier, jitter: JitterFull, built: true}
}

// Constant returns a schedule that always waits d, without jitter. A d of zero
// or less gives a schedule that never waits (useful in tests and for retrying
// at once).
func Constant(d time.Duration) Schedule {
	d = max(d, 0)
	return Schedule{initial: d, max: d, mult: 1, jitter: JitterNone, built: true}
}

// IsZero reports whether s is the zero Schedule, as opposed to one built by a
// constructor (even Constant(0)).
func (s Schedule) IsZero() bool { return !s.built }

// Config returns the configuration of s with every default filled in.
// New(s.Config()) gives back an equal Schedule, except for Constant(0), whose
// zero Initial New would read as the default.
func (s Schedule) Config() Config {
	return Config{Initial: s.initial, Multiplier: s.mult, Max: s.max, Jitter: s.jitter}
}

// String describes s, e.g. "backoff(initial=100ms multiplier=2 max=10s jitter=full)".
func (s Schedule) String() string {
	return fmt.Sprintf("backoff(initial=%v multiplier=%v max=%v jitter=%v)", s.initial, s.mult, s.max, s.jitter)
}

// Delay returns the wait before retry number n, counting from 0 for the wait
// between the first and the second attempt; a negative n counts as 0. prev is
// the delay Delay returned for the previous retry (0 before the first); only
// JitterDecorrelated uses it. r is the random source; nil means math/rand/v2's
// global source. JitterNone never calls r.
//
// The result is always in [0, Max]. Delay allocates nothing and is safe for
// concurrent use; all state between calls lives in the caller (prev).
func (s Schedule) Delay(n int, prev time.Duration, r Rand) time.Duration {
	if s.jitter == JitterDecorrelated {
		return s.decorrelated(prev, r)
	}
	v := s.exponential(n)
	switch s.jitter {
	case JitterNone:
		return v
	case JitterEqual:
		half := v / 2
		if v-half <= 0 {
			return half
		}
		return half + time.Duration(int64n(r, int64(v-half)))
	default: // JitterFull
		if v <= 0 {
			return 0
		}
		return time.Duration(int64n(r, int64(v)))
	}
}

// exponential returns min(max, initial×mult^n) without overflowing.
func (s Schedule) exponential(n int) time.Duration {
	if s.initial <= 0 || s.max <= 0 {
		return 0
	}
	if n <= 0 || s.mult <= 1 {
		return min(s.initial, s.max)
	}
	if s.mult == 2 && n < 63 {
		// initial×2^n > max exactly when initial > floor(max/2^n).
		if s.initial > s.max>>uint(n) {
			return s.max
		}
		return s.initial << uint(n)
	}
	f := float64(s.initial) * math.Pow(s.mult, float64(n))
	// float64(s.max) may round up to 2^63; any f below it still converts
	// without overflow. NaN and +Inf fail the comparison and give max.
	if !(f < float64(s.max)) {
		return s.max
	}
	return time.Duration(f)
}

// decorrelated returns min(max, rand[lo, 3×prev)) where lo = min(initial, max)
// and prev is first clamped into [lo, max].
func (s Schedule) decorrelated(prev time.Duration, r Rand) time.Duration {
	lo := min(s.initial, s.max)
	if lo < 0 {
		lo = 0
	}
	prev = max(prev, lo)
	prev = min(prev, s.max)
	hi := time.Duration(math.MaxInt64)
	if prev <= math.MaxInt64/3 {
		hi = 3 * prev
	}
	if hi <= lo {
		return lo
	}
	d := lo + time.Duration(int64n(r, int64(hi-lo)))
	return min(d, s.max)
}
