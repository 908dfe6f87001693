package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/keelhq/keel"
)

const policyName = "ratelimit"

// Limiter is a token bucket. Build it with [New] or [MustNew]; the zero
// Limiter is not usable. A Limiter is safe for concurrent use.
type Limiter struct {
	shape   shape
	maxWait time.Duration
	rate    float64
	name    string
	obs     keel.Observer

	mu sync.Mutex
	b  bucket
}

var (
	_ keel.Policy   = (*Limiter)(nil)
	_ keel.Executor = (*Limiter)(nil)
)

// New returns a Limiter for cfg, or the error of cfg.Validate. The bucket
// starts full.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Limiter{
		shape:   newShape(cfg.Rate, cfg.Burst),
		maxWait: cfg.MaxWait,
		rate:    cfg.Rate,
		name:    cfg.Name,
		obs:     cfg.Observer,
	}, nil
}

// MustNew is like [New] but panics if cfg is invalid.
func MustNew(cfg Config) *Limiter {
	l, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return l
}

// Rate returns the configured rate in tokens per second.
func (l *Limiter) Rate() float64 { return l.rate }

// Burst returns the bucket size, after defaults.
func (l *Limiter) Burst() int { return l.shape.burst }

// Allow takes a token if one is available now and reports whether it did. It
// never waits and emits no event.
func (l *Limiter) Allow() bool { return l.AllowAt(time.Now()) }

// AllowAt is [Limiter.Allow] at time now. Times passed to a Limiter should not
// go backwards; an earlier time is treated as a time at which the tokens spent
// since were not yet spent.
func (l *Limiter) AllowAt(now time.Time) bool {
	l.mu.Lock()
	_, ok := l.shape.reserve(&l.b, now, 0)
	l.mu.Unlock()
	return ok
}

// TokensAt returns how many tokens the bucket holds at now. It is negative
// while reservations wait for tokens not yet earned.
func (l *Limiter) TokensAt(now time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shape.tokens(&l.b, now)
}

// Reservation is a token taken for later use, returned by [Limiter.Reserve]
// and [Limiter.ReserveAt]. If OK, the holder may act after Delay; if it will
// not act, it should give the token back with Cancel. If not OK, no token was
// taken and Delay is how long until one is due.
//
// The zero Reservation is not OK and has no delay. A Reservation is a value:
// OK, Delay and Time work on copies, while Cancel and CancelAt mark the
// variable they are called on, so that a second Cancel gives nothing back.
// Cancel and CancelAt are not safe for concurrent use on the same variable.
type Reservation struct {
	l     *Limiter
	ok    bool
	at    time.Time // when the reservation was made
	delay time.Duration
}

// OK reports whether a token was taken.
func (r Reservation) OK() bool { return r.ok }

// Delay returns, if OK, how long after the reservation the holder may act; if
// not OK, how long after it the next token is due.
func (r Reservation) Delay() time.Duration { return r.delay }

// Time returns when the holder may act (if OK) or the next token is due.
func (r Reservation) Time() time.Time { return r.at.Add(r.delay) }

// Cancel is CancelAt(time.Now()).
func (r *Reservation) Cancel() { r.CancelAt(time.Now()) }

// CancelAt gives the token back if the time to act is still after now, so
// another caller can use it; after that time the token counts as used. It
// does nothing for a reservation that is not OK or already canceled.
func (r *Reservation) CancelAt(now time.Time) {
	if !r.ok || r.l == nil {
		return
	}
	r.ok = false
	r.l.mu.Lock()
	r.l.shape.cancel(&r.l.b, r.at.Add(r.delay), now)
	r.l.mu.Unlock()
}

// Reserve is ReserveAt(time.Now()).
func (l *Limiter) Reserve() Reservation { return l.ReserveAt(time.Now()) }

// ReserveAt takes a token at now if one is available within Config.MaxWait,
// without waiting for it and without emitting events. The caller waits
// Delay itself, or cancels.
func (l *Limiter) ReserveAt(now time.Time) Reservation {
	l.mu.Lock()
	d, ok := l.shape.reserve(&l.b, now, l.maxWait)
	l.mu.Unlock()
	return Reservation{l: l, ok: ok, at: now, delay: d}
}

// Wait takes a token, waiting for it if the bucket is empty: for at most
// Config.MaxWait, and only if the token is due before ctx's deadline. It
// returns nil once the token is taken, a [*LimitedError] if the token is
// further away than that, and ctx.Err() if ctx ends while it waits (the token
// is then given back).
func (l *Limiter) Wait(ctx context.Context) error {
	now := time.Now()
	maxWait := waitBudget(ctx, now, l.maxWait)
	l.mu.Lock()
	d, ok := l.shape.reserve(&l.b, now, maxWait)
	l.mu.Unlock()
	if !ok {
		if l.obs != nil {
			l.emit(ctx, keel.Event{Kind: keel.EventRejected, Reason: keel.ReasonRateLimited, Time: now, Delay: d})
		}
		return &LimitedError{Name: l.name, Delay: d}
	}
	if d > 0 {
		if err := sleep(ctx, d); err != nil {
			end := time.Now()
			l.mu.Lock()
			l.shape.cancel(&l.b, now.Add(d), end)
			l.mu.Unlock()
			if l.obs != nil {
				l.emit(ctx, keel.Event{Kind: keel.EventRejected, Reason: keel.ReasonContext, Time: end, Duration: end.Sub(now), Err: err})
			}
			return err
		}
	}
	if l.obs != nil {
		l.emit(ctx, keel.Event{Kind: keel.EventAcquired, Time: now.Add(d), Duration: d})
	}
	return nil
}

// Do takes a token as [Limiter.Wait] does and then runs op. If no token can be
// had, op does not run and Do returns Wait's error.
func (l *Limiter) Do(ctx context.Context, op func(context.Context) error) error {
	if err := l.Wait(ctx); err != nil {
		return err
	}
	return op(ctx)
}

// Wrap returns a handler that takes a token as [Limiter.Wait] does before
// calling next.
func (l *Limiter) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		if err := l.Wait(ctx); err != nil {
			return err
		}
		return next(ctx, op)
	}
}

func (l *Limiter) emit(ctx context.Context, e keel.Event) {
	e.Policy, e.Name = policyName, l.name
	l.obs.Observe(ctx, e)
}

// waitBudget returns how long a call at now may wait: at most maxWait, and
// strictly less than the time left before ctx's deadline, so that a token is
// never granted at or after the deadline.
func waitBudget(ctx context.Context, now time.Time, maxWait time.Duration) time.Duration {
	if maxWait <= 0 {
		return 0
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := dl.Sub(now) - 1; left < maxWait {
			return left
		}
	}
	return maxWait
}

// sleep waits d or until ctx ends, whichever is first, and returns ctx.Err()
// in the second case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
