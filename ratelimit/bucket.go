package ratelimit

import (
	"math"
	"time"
)

// shape holds a bucket's fixed parameters, derived from a Config.
type shape struct {
	interval time.Duration // time to earn one token; 0 means unlimited
	span     time.Duration // burst * interval: the time a full bucket holds
	burst    int
}

// newShape derives the parameters of a validated, defaulted Config.
func newShape(rate float64, burst int) shape {
	// The interval is rounded up, so the limiter never grants more than rate.
	var interval time.Duration // rates above 1e9 do not limit
	if rate <= 1e9 {
		interval = time.Duration(math.Ceil(float64(time.Second) / rate))
	}
	return shape{interval: interval, span: time.Duration(burst) * interval, burst: burst}
}

// bucket is one token bucket in GCRA form: empty is the time at which the
// bucket holds no token (all tokens spent until then). A bucket whose empty
// time is not after now is full. The zero bucket is full.
type bucket struct {
	empty time.Time
}

// reserve takes one token at now, if one is available within maxWait. It
// returns how long the caller must wait for it (0 if it is there now) and
// whether it was taken. When it was not, the delay is how long until a token
// would be available.
func (s *shape) reserve(b *bucket, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	base := b.empty
	if base.Before(now) {
		base = now
	}
	next := base.Add(s.interval)
	delay := next.Sub(now) - s.span
	if delay <= 0 {
		b.empty = next
		return 0, true
	}
	if delay > maxWait {
		return delay, false
	}
	b.empty = next
	return delay, true
}

// cancel gives back the token of a reservation due at act, if act is still
// in the future at now.
func (s *shape) cancel(b *bucket, act, now time.Time) {
	if act.After(now) {
		b.empty = b.empty.Add(-s.interval)
	}
}

// tokens returns how many tokens b holds at now; negative when reservations
// are waiting.
func (s *shape) tokens(b *bucket, now time.Time) float64 {
	if s.interval == 0 {
		return float64(s.burst)
	}
	used := b.empty.Sub(now)
	if used < 0 {
		used = 0
	}
	return float64(s.span-used) / float64(s.interval)
}

// full reports whether b is full at now.
func (b *bucket) full(now time.Time) bool { return !b.empty.After(now) }
