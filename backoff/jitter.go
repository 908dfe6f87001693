package backoff

import (
	"fmt"
	"math/rand/v2"
)

// Jitter says how a Schedule randomizes its delays. The formulas follow the AWS
// Architecture Blog article "Exponential Backoff and Jitter", where v is the
// un-jittered exponential delay min(Max, Initial×Multiplier^n):
//
//	JitterFull:         rand[0, v)
//	JitterNone:         v
//	JitterEqual:        v/2 + rand[0, v/2)
//	JitterDecorrelated: min(Max, rand[Initial, 3×prev))
//
// The zero Jitter is JitterFull, the mode the article recommends.
type Jitter uint8

const (
	// JitterFull draws each delay uniformly from [0, v). It spreads
	// competing clients the most and finishes the work soonest.
	JitterFull Jitter = iota
	// JitterNone uses v itself: no randomness at all.
	JitterNone
	// JitterEqual keeps half of v and draws the other half: v/2 + rand[0, v/2).
	// No delay is shorter than half the exponential value.
	JitterEqual
	// JitterDecorrelated draws each delay from [Initial, 3×prev), where prev
	// is the previous delay (Initial for the first retry), and caps it at Max.
	// It ignores the retry number and the Multiplier.
	JitterDecorrelated
)

var jitterNames = [...]string{
	JitterFull:         "full",
	JitterNone:         "none",
	JitterEqual:        "equal",
	JitterDecorrelated: "decorrelated",
}

// String returns "full", "none", "equal" or "decorrelated".
func (j Jitter) String() string {
	if int(j) < len(jitterNames) {
		return jitterNames[j]
	}
	return fmt.Sprintf("Jitter(%d)", uint8(j))
}

// ParseJitter returns the Jitter named s: "full", "none", "equal" or
// "decorrelated" (lower case, as String writes them).
func ParseJitter(s string) (Jitter, error) {
	for j, name := range jitterNames {
		if s == name {
			return Jitter(j), nil
		}
	}
	return 0, fmt.Errorf("backoff: unknown jitter %q (want full, none, equal or decorrelated)", s)
}

// MarshalText implements encoding.TextMarshaler with the names of String. It
// fails for a value that is not one of the four modes.
func (j Jitter) MarshalText() ([]byte, error) {
	if int(j) >= len(jitterNames) {
		return nil, fmt.Errorf("backoff: unknown jitter %d", uint8(j))
	}
	return []byte(jitterNames[j]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with [ParseJitter], so a
// Jitter reads from JSON or YAML as "full", "none", "equal" or "decorrelated".
func (j *Jitter) UnmarshalText(text []byte) error {
	v, err := ParseJitter(string(text))
	if err != nil {
		return err
	}
	*j = v
	return nil
}

// Rand is a source of random numbers for jitter. Int64N returns a uniformly
// distributed number in [0, n); it is only called with n > 0. *rand.Rand of
// math/rand/v2 satisfies it (it is not safe for concurrent use; give each
// goroutine its own or guard it). A nil Rand means math/rand/v2's global
// source, which is safe for concurrent use and takes no lock.
//
// A value outside [0, n) returned by a faulty source is clamped into range, so
// a delay never leaves its bounds.
type Rand interface {
	Int64N(n int64) int64
}

// int64n draws from [0, n) using r, or the global source when r is nil. n > 0.
func int64n(r Rand, n int64) int64 {
	var x int64
	if r == nil {
		x = rand.Int64N(n)
	} else {
		x = r.Int64N(n)
	}
	if x < 0 {
		return 0
	}
	if x >= n {
		return n - 1
	}
	return x
}
