package fallback_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/fallback"
)

// A Policy recovers an error-only operation: here, by serving a default.
func ExampleNew() {
	greeting := ""
	fb := fallback.MustNew(fallback.Config{
		Func: func(_ context.Context, err error) error {
			greeting = "hello (default)"
			return nil
		},
	})
	err := fb.Do(context.Background(), func(context.Context) error {
		return errors.New("profile service down")
	})
	fmt.Println(greeting, err)
	// Output: hello (default) <nil>
}

// Handle limits the fallback to some errors; others pass through.
func ExampleConfig_handle() {
	errNotFound := errors.New("not found")
	fb := fallback.MustNew(fallback.Config{
		Handle: func(err error) bool { return !errors.Is(err, errNotFound) },
		Func:   func(context.Context, error) error { return nil },
	})
	ctx := context.Background()
	fmt.Println(fb.Do(ctx, func(context.Context) error { return errors.New("timeout") }))
	fmt.Println(fb.Do(ctx, func(context.Context) error { return errNotFound }))
	// Output:
	// <nil>
	// not found
}

// A Typed fallback serves a fixed value when an operation returning a value
// fails after the inner policies gave up.
func ExampleValue() {
	price := fallback.MustNewTyped(fallback.TypedConfig[int]{Func: fallback.Value(100)})
	inner := keel.Chain() // retries, breaker, … in real code
	v, err := price.Get(context.Background(), inner, func(context.Context) (int, error) {
		return 0, errors.New("pricing unavailable")
	})
	fmt.Println(v, err)
	// Output: 100 <nil>
}

// The replacement can depend on the error.
func ExampleTyped_Get() {
	errStale := errors.New("stale")
	cached := fallback.MustNewTyped(fallback.TypedConfig[string]{
		Func: func(_ context.Context, err error) (string, error) {
			return "cached copy", fmt.Errorf("%w: serving cache after: %w", errStale, err)
		},
	})
	v, err := cached.Get(context.Background(), nil, func(context.Context) (string, error) {
		return "", errors.New("connection refused")
	})
	fmt.Println(v)
	fmt.Println(err, errors.Is(err, errStale))
	// Output:
	// cached copy
	// stale: serving cache after: connection refused true
}

// A fallback goes outermost in a chain, so it sees the error after the inner
// policies are done.
func ExamplePolicy_Wrap() {
	fb := fallback.MustNew(fallback.Config{Func: func(_ context.Context, err error) error {
		fmt.Println("fallback for:", err)
		return nil
	}})
	annotate := keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			if err := next(ctx, op); err != nil {
				return fmt.Errorf("inner gave up: %w", err)
			}
			return nil
		}
	})
	p := keel.Chain(fb, annotate)
	fmt.Println(p.Do(context.Background(), func(context.Context) error { return errors.New("boom") }))
	// Output:
	// fallback for: inner gave up: boom
	// <nil>
}
