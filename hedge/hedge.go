package hedge

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/retry"
)

// ErrLost is the cause (context.Cause) of the context of an attempt that
// another attempt beat, or that a permanent or neutral result of another
// attempt made useless. Its ctx.Err() is context.Canceled.
var ErrLost = errors.New("hedge: another attempt decided the call")

// Policy runs an operation and, while it has not returned, starts backup
// attempts of it after a delay; the first success wins. Create one with New;
// the zero Policy is not usable. A Policy is safe for concurrent use.
//
// Only hedge idempotent operations: several attempts may run at once, and a
// loser may already have had its effect when it is canceled.
type Policy struct {
	name       string
	obs        keel.Observer
	classifier keel.Classifier
	delay      time.Duration
	percentile float64
	minSamples int
	minDelay   time.Duration
	maxHedges  int
	budget     *retry.Budget
	window     *window

	hedges     atomic.Uint64
	wins       atomic.Uint64
	suppressed atomic.Uint64
}

// New returns a Policy configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Policy{
		name: cfg.Name, obs: cfg.Observer, classifier: cfg.Classifier,
		delay: cfg.Delay, percentile: cfg.Percentile, minSamples: cfg.MinSamples,
		minDelay: cfg.MinDelay, maxHedges: cfg.MaxHedges, budget: cfg.Budget,
	}
	if p.budget == nil && !cfg.DisableBudget {
		p.budget = retry.MustNewBudget(defaultBudget)
	}
	if cfg.DisableBudget {
		p.budget = nil
	}
	if p.percentile > 0 {
		p.window = newWindow(cfg.Window)
	}
	return p, nil
}

// MustNew is like New but panics if cfg is invalid.
func MustNew(cfg Config) *Policy {
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// Delay returns the delay the next call will wait before each hedge: the
// fixed Config.Delay, or with Config.Percentile the percentile of the window
// (at least MinDelay) once it holds MinSamples latencies.
func (p *Policy) Delay() time.Duration {
	if p.window == nil {
		return p.delay
	}
	d, n := p.window.percentile(p.percentile)
	if n < p.minSamples {
		return p.delay
	}
	return max(d, p.minDelay)
}

// Hedges returns how many hedges (backup attempts) were started.
func (p *Policy) Hedges() uint64 { return p.hedges.Load() }

// Wins returns how many calls a hedge won, rather than the first attempt.
func (p *Policy) Wins() uint64 { return p.wins.Load() }

// Suppressed returns how many hedges the budget refused.
func (p *Policy) Suppressed() uint64 { return p.suppressed.Load() }

type attemptKey struct{}

// Attempt returns the number of the hedge attempt ctx belongs to: 1 for the
// first, 2 for the first hedge, and so on; 0 outside a hedge policy.
func Attempt(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}

// IsHedge reports whether ctx belongs to a backup attempt (Attempt(ctx) > 1).
func IsHedge(ctx context.Context) bool { return Attempt(ctx) > 1 }

// Wrap returns a handler that hedges next (see Do).
func (p *Policy) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return p.run(ctx, next, op)
	}
}

// Do runs op, and after each Delay without a result starts another attempt,
// up to MaxHedges of them while the budget allows. Each attempt runs on its
// own goroutine with a context derived from ctx, marked with its number
// (Attempt). The first success wins and Do returns nil; a permanent or
// neutral result (per the Classifier) is returned at once; failures are
// returned only when no attempt is left running, the last one's error. Hedging
// does not retry failures: put a retry policy around it for that.
//
// Do cancels the other attempts' contexts (cause ErrLost) and waits for every
// attempt to return before it returns, so no goroutine outlives the call; an
// operation that ignores its context delays Do until it returns. A panic in
// an attempt cancels the others and, once all have returned, continues on the
// caller's goroutine with the same value.
func (p *Policy) Do(ctx context.Context, op func(context.Context) error) error {
	return p.run(ctx, nil, op)
}

var (
	_ keel.Policy   = (*Policy)(nil)
	_ keel.Executor = (*Policy)(nil)
)
