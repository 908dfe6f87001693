package fallback

import (
	"context"
	"errors"

	"github.com/keelhq/keel"
)

// TypedConfig configures a [Typed] fallback for operations returning a T.
// Func is required.
type TypedConfig[T any] struct {
	// Func returns the replacement value and error for err, which the
	// operation (or a policy) returned: (v, nil) to recover with v. It runs on
	// the caller's goroutine with the caller's ctx and must be safe for
	// concurrent use. [Value] makes a Func that returns a fixed value.
	// Required.
	Func func(ctx context.Context, err error) (T, error)
	// Handle reports whether err is to be replaced, as in Config.Handle. Nil
	// means every error except the caller's own cancellation.
	Handle func(err error) bool
	// Name identifies the fallback in events. Optional.
	Name string
	// Observer receives the fallback's events. Nil means none are built.
	Observer keel.Observer
}

// Validate reports the first problem with c, naming the field.
func (c TypedConfig[T]) Validate() error {
	if c.Func == nil {
		return errors.New("fallback: TypedConfig.Func is required")
	}
	return nil
}

// Value returns a Func for [TypedConfig] that recovers every handled error
// with v.
func Value[T any](v T) func(context.Context, error) (T, error) {
	return func(context.Context, error) (T, error) { return v, nil }
}

// Typed replaces handled errors of an operation returning a T with what
// TypedConfig.Func returns. It is the value-returning counterpart of
// [Policy]: where a Policy sits in a chain, a Typed wraps the whole call,
// through [Typed.Get].
//
// Build it with [NewTyped] or [MustNewTyped]; the zero Typed is not usable. A
// Typed is immutable and safe for concurrent use.
type Typed[T any] struct {
	fn     func(ctx context.Context, err error) (T, error)
	handle func(err error) bool
	name   string
	obs    keel.Observer
}

// NewTyped returns a Typed fallback for cfg, or the error of cfg.Validate.
func NewTyped[T any](cfg TypedConfig[T]) (*Typed[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Typed[T]{fn: cfg.Func, handle: cfg.Handle, name: cfg.Name, obs: cfg.Observer}, nil
}

// MustNewTyped is like [NewTyped] but panics if cfg is invalid.
func MustNewTyped[T any](cfg TypedConfig[T]) *Typed[T] {
	f, err := NewTyped(cfg)
	if err != nil {
		panic(err)
	}
	return f
}

// Get runs op through x with keel.Get and returns its value and error, or, if
// the error is handled, what Func returns instead. A nil x runs op directly.
func (f *Typed[T]) Get(ctx context.Context, x keel.Executor, op func(context.Context) (T, error)) (T, error) {
	var v T
	var err error
	if x == nil {
		v, err = op(ctx)
	} else {
		v, err = keel.Get(ctx, x, op)
	}
	if err == nil || !handles(ctx, f.handle, err) {
		return v, err
	}
	if f.obs != nil {
		emit(ctx, f.obs, f.name, err)
	}
	return f.fn(ctx, err)
}
