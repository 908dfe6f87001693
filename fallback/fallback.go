package fallback

import (
	"context"
	"errors"
	"time"

	"github.com/keelhq/keel"
)

const policyName = "fallback"

// Config configures a [Policy]. Func is required.
type Config struct {
	// Func returns the replacement for err, which the operation (or an inner
	// policy) returned: nil to recover, or another error. It runs on the
	// caller's goroutine with the caller's ctx and must be safe for concurrent
	// use. Required.
	Func func(ctx context.Context, err error) error
	// Handle reports whether err is to be replaced. Nil means every error
	// except the caller's own cancellation: errors that keel.DefaultClassifier
	// judges keel.OutcomeNeutral are returned as they are. A non-nil Handle
	// alone decides; it is never called with a nil error.
	Handle func(err error) bool
	// Name identifies the policy in events. Optional.
	Name string
	// Observer receives the policy's events. Nil means none are built.
	Observer keel.Observer
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if c.Func == nil {
		return errors.New("fallback: Config.Func is required")
	}
	return nil
}

// Policy replaces handled errors of an operation with what Config.Func
// returns. Build it with [New] or [MustNew]; the zero Policy is not usable. A
// Policy is immutable and safe for concurrent use.
type Policy struct {
	fn     func(ctx context.Context, err error) error
	handle func(err error) bool
	name   string
	obs    keel.Observer
	h      keel.Handler
}

var (
	_ keel.Policy   = (*Policy)(nil)
	_ keel.Executor = (*Policy)(nil)
)

// New returns a Policy for cfg, or the error of cfg.Validate.
func New(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{fn: cfg.Func, handle: cfg.Handle, name: cfg.Name, obs: cfg.Observer}
	p.h = p.Wrap(run)
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

func run(ctx context.Context, op func(context.Context) error) error { return op(ctx) }

// Do runs op and returns its error, or the replacement if the error is
// handled.
func (p *Policy) Do(ctx context.Context, op func(context.Context) error) error {
	return p.h(ctx, op)
}

// Wrap returns a handler that calls next and replaces a handled error.
func (p *Policy) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		err := next(ctx, op)
		if err == nil || !handles(ctx, p.handle, err) {
			return err
		}
		if p.obs != nil {
			emit(ctx, p.obs, p.name, err)
		}
		return p.fn(ctx, err)
	}
}

// handles applies handle, or the default predicate when it is nil.
func handles(ctx context.Context, handle func(error) bool, err error) bool {
	if handle != nil {
		return handle(err)
	}
	return keel.DefaultClassifier(ctx, err) != keel.OutcomeNeutral
}

func emit(ctx context.Context, obs keel.Observer, name string, err error) {
	obs.Observe(ctx, keel.Event{
		Kind:    keel.EventFallback,
		Policy:  policyName,
		Name:    name,
		Time:    time.Now(),
		Err:     err,
		Outcome: keel.DefaultClassifier(ctx, err),
	})
}
