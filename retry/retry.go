package retry

import (
	"context"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/internal/deadline"
)

// Policy retries failed operations. Build one with [New] or [MustNew]; it is
// immutable and safe for concurrent use. The zero Policy is not usable.
//
// Policy implements keel.Policy and keel.Executor.
type Policy struct {
	name           string
	maxAttempts    int
	maxDuration    time.Duration
	attemptTimeout time.Duration
	maxRetryAfter  time.Duration
	backoff        backoff.Schedule
	classifier     keel.Classifier
	budget         *Budget
	rand           backoff.Rand
	observer       keel.Observer
	clocked        bool // some option needs the time of each attempt
}

var (
	_ keel.Policy   = (*Policy)(nil)
	_ keel.Executor = (*Policy)(nil)
)

// New returns a policy configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{
		name:           cfg.Name,
		maxAttempts:    cfg.MaxAttempts,
		maxDuration:    cfg.MaxDuration,
		attemptTimeout: cfg.AttemptTimeout,
		maxRetryAfter:  cfg.MaxRetryAfter,
		backoff:        cfg.Backoff,
		classifier:     cfg.Classifier,
		budget:         cfg.Budget,
		rand:           cfg.Rand,
		observer:       cfg.Observer,
	}
	if p.maxAttempts == 0 {
		p.maxAttempts = DefaultMaxAttempts
	}
	if p.maxRetryAfter == 0 {
		p.maxRetryAfter = DefaultMaxRetryAfter
	}
	if p.backoff.IsZero() {
		p.backoff = backoff.Default()
	}
	if p.classifier == nil {
		p.classifier = keel.DefaultClassifier
	}
	if p.budget == nil && !cfg.DisableBudget {
		p.budget = MustNewBudget(BudgetConfig{})
	}
	p.clocked = p.observer != nil || p.maxDuration > 0 || p.attemptTimeout > 0
	return p, nil
}

// MustNew is like [New] but panics if cfg is invalid.
func MustNew(cfg Config) *Policy {
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// Budget returns the policy's retry budget (the one from Config.Budget, or
// the default one New made), or nil when the budget is disabled.
func (p *Policy) Budget() *Budget { return p.budget }

// Do runs op, retrying it as configured, and returns nil on success, the
// first attempt's error unchanged when that attempt failed with a permanent or
// neutral outcome, and an [*ExhaustedError] otherwise. ctx must not be nil.
// A panic in op propagates; the policy holds nothing that needs releasing.
func (p *Policy) Do(ctx context.Context, op func(context.Context) error) error {
	return p.do(ctx, call, op)
}

// Wrap returns a handler that runs next under the policy: each attempt is one
// call of next.
func (p *Policy) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return p.do(ctx, next, op)
	}
}

// call is the innermost handler for Do.
func call(ctx context.Context, op func(context.Context) error) error { return op(ctx) }

func (p *Policy) do(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	if p.budget != nil {
		p.budget.Deposit()
	}
	var (
		limit      time.Time // the time no attempt or delay may pass; zero: none
		limitKnown bool
		errs       []error
		prev       time.Duration // previous backoff delay, for decorrelated jitter
	)
	for attempt := 1; ; attempt++ {
		var start time.Time
		if p.clocked {
			start = time.Now()
			if attempt == 1 && p.maxDuration > 0 {
				limit = start.Add(p.maxDuration)
			}
		}
		err := p.attempt(ctx, next, op, start, limit)
		if err == nil {
			if p.observer != nil {
				p.emit(ctx, keel.Event{Kind: keel.EventAttempt, Attempt: attempt, Duration: time.Since(start), Outcome: keel.OutcomeSuccess})
			}
			return nil
		}
		outcome := p.classifier(ctx, err)
		if p.observer != nil {
			p.emit(ctx, keel.Event{Kind: keel.EventAttempt, Attempt: attempt, Duration: time.Since(start), Err: err, Outcome: outcome})
		}
		if outcome != keel.OutcomeFailure && attempt == 1 {
			return err
		}
		if errs == nil {
			errs = make([]error, 0, min(p.maxAttempts, 8))
		}
		errs = append(errs, err)
		switch {
		case ctx.Err() != nil:
			return p.exhausted(ctx, errs, keel.ReasonContext)
		case outcome != keel.OutcomeFailure, attempt >= p.maxAttempts:
			return p.exhausted(ctx, errs, keel.ReasonNone)
		}

		delay := p.backoff.Delay(attempt-1, prev, p.rand)
		prev = delay
		if hint, ok := keel.RetryAfter(err); ok {
			if hint > p.maxRetryAfter {
				return p.exhausted(ctx, errs, keel.ReasonRetryAfter)
			}
			delay = max(delay, hint)
		}
		if !limitKnown {
			limitKnown = true
			if d, ok := ctx.Deadline(); ok && (limit.IsZero() || d.Before(limit)) {
				limit = d
			}
		}
		now := time.Now()
		if !limit.IsZero() && !now.Add(delay).Before(limit) {
			return p.exhausted(ctx, errs, keel.ReasonDeadline)
		}
		if p.budget != nil && !p.budget.TryWithdrawAt(now) {
			if p.observer != nil {
				p.emit(ctx, keel.Event{Kind: keel.EventRejected, Attempt: attempt + 1, Err: err, Reason: keel.ReasonBudget})
			}
			return p.exhausted(ctx, errs, keel.ReasonBudget)
		}
		if p.observer != nil {
			p.emit(ctx, keel.Event{Kind: keel.EventRetry, Attempt: attempt + 1, Delay: delay, Err: err})
		}
		if !sleep(ctx, delay) {
			return p.exhausted(ctx, errs, keel.ReasonContext)
		}
	}
}

// attempt runs one attempt, under a context with the attempt's deadline when
// AttemptTimeout or MaxDuration sets one sooner than ctx's own.
func (p *Policy) attempt(ctx context.Context, next keel.Handler, op func(context.Context) error, start, limit time.Time) error {
	if !p.clocked {
		return next(ctx, op)
	}
	d := limit
	if p.attemptTimeout > 0 {
		if t := start.Add(p.attemptTimeout); d.IsZero() || t.Before(d) {
			d = t
		}
	}
	if d.IsZero() {
		return next(ctx, op)
	}
	if cd, ok := ctx.Deadline(); ok && !d.Before(cd) {
		return next(ctx, op)
	}
	actx := deadline.New(ctx, d)
	defer actx.Cancel()
	return next(actx, op)
}

// exhausted builds the error for giving up, and emits EventExhausted.
func (p *Policy) exhausted(ctx context.Context, errs []error, reason keel.Reason) error {
	e := &ExhaustedError{Attempts: len(errs), Errs: errs, Reason: reason}
	if reason == keel.ReasonContext {
		e.ctxErr = ctx.Err()
	}
	if p.observer != nil {
		p.emit(ctx, keel.Event{Kind: keel.EventExhausted, Attempt: len(errs), Err: e, Reason: reason})
	}
	return e
}

func (p *Policy) emit(ctx context.Context, e keel.Event) {
	e.Policy = "retry"
	e.Name = p.name
	e.Time = time.Now()
	p.observer.Observe(ctx, e)
}

// sleep waits for d or until ctx ends, and reports whether the wait ran its
// full length with ctx still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return ctx.Err() == nil
	}
}
