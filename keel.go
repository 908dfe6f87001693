package keel

import (
	"context"
	"sync"
)

// Handler runs op under the policies of a chain. The innermost handler of every
// chain calls op(ctx).
//
// A Handler is built once, when policies are composed, and called for every
// operation; it must be safe for concurrent use.
type Handler func(ctx context.Context, op func(context.Context) error) error

// Policy is anything that can guard an operation. Wrap returns a Handler that
// applies the policy around next. Wrap is called once per composition, never per
// call, so it may allocate; the returned Handler should not.
type Policy interface {
	Wrap(next Handler) Handler
}

// Executor runs operations. Every policy and every [Pipeline] is an Executor.
type Executor interface {
	Do(ctx context.Context, op func(context.Context) error) error
}

// PolicyFunc adapts a function to the [Policy] interface.
type PolicyFunc func(next Handler) Handler

// Wrap calls f(next).
func (f PolicyFunc) Wrap(next Handler) Handler { return f(next) }

// Pipeline is a composition of policies built by [Chain]. The zero Pipeline runs
// operations unguarded. A Pipeline is immutable and safe for concurrent use.
type Pipeline struct {
	policies []Policy
	h        Handler
}

// Chain composes policies into a Pipeline. The first policy is the outermost:
// Chain(a, b, c).Do(ctx, op) runs a(b(c(op))). Nil policies are skipped, so
// optional parts can be left out with a nil value.
//
// The usual order, from outside in, is fallback, cache, retry or hedge, circuit
// breaker, rate or concurrency limit, bulkhead, and last the per-attempt
// timeout. A timeout placed outside the retry bounds the whole call instead of
// each attempt.
func Chain(policies ...Policy) *Pipeline {
	p := &Pipeline{policies: make([]Policy, 0, len(policies))}
	for _, pol := range policies {
		if pol != nil {
			p.policies = append(p.policies, pol)
		}
	}
	p.h = p.Wrap(run)
	return p
}

// run is the innermost handler of every chain.
func run(ctx context.Context, op func(context.Context) error) error { return op(ctx) }

// Do runs op under the pipeline's policies and returns its error, or the error of
// the policy that stopped it. ctx must not be nil.
func (p *Pipeline) Do(ctx context.Context, op func(context.Context) error) error {
	if p == nil || p.h == nil {
		return op(ctx)
	}
	return p.h(ctx, op)
}

// Wrap makes a Pipeline usable as one policy inside another chain: its policies
// are wired around next, so nesting pipelines costs nothing per call.
func (p *Pipeline) Wrap(next Handler) Handler {
	if p == nil {
		return next
	}
	h := next
	for i := len(p.policies) - 1; i >= 0; i-- {
		h = p.policies[i].Wrap(h)
	}
	return h
}

// Get runs op through x and returns its value. When the policies give up, Get
// returns the value of the last attempt that ran (the zero value if none did)
// together with the error, so a partial or last-known result is never lost.
//
// An attempt that finishes after Get has returned (one a return-on-time timeout
// abandoned) cannot change the value Get returned, and once an attempt has
// returned a nil error, later attempts (the losers of a hedged call) cannot
// replace its value.
func Get[T any](ctx context.Context, x Executor, op func(context.Context) (T, error)) (T, error) {
	r := &result[T]{}
	err := x.Do(ctx, func(ctx context.Context) error {
		v, err := op(ctx)
		r.mu.Lock()
		if !r.closed && !r.ok {
			r.v, r.ok = v, err == nil
		}
		r.mu.Unlock()
		return err
	})
	r.mu.Lock()
	r.closed = true
	v := r.v
	r.mu.Unlock()
	return v, err
}

// result holds the value of Get's latest attempt until Get returns.
type result[T any] struct {
	mu     sync.Mutex
	v      T
	ok     bool // v came from an attempt that returned a nil error
	closed bool
}
