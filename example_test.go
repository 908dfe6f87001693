package keel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
)

// A policy is anything with a Wrap method; PolicyFunc turns a function into
// one. Chain wires policies once, outermost first.
func ExampleChain() {
	logging := func(name string) keel.Policy {
		return keel.PolicyFunc(func(next keel.Handler) keel.Handler {
			return func(ctx context.Context, op func(context.Context) error) error {
				fmt.Println("enter", name)
				defer fmt.Println("leave", name)
				return next(ctx, op)
			}
		})
	}
	p := keel.Chain(logging("outer"), logging("inner"))
	_ = p.Do(context.Background(), func(context.Context) error {
		fmt.Println("operation")
		return nil
	})
	// Output:
	// enter outer
	// enter inner
	// operation
	// leave inner
	// leave outer
}

func ExampleGet() {
	p := keel.Chain() // add retry, breaker, … here
	price, err := keel.Get(context.Background(), p, func(context.Context) (int, error) {
		return 42, nil
	})
	fmt.Println(price, err)
	// Output: 42 <nil>
}

func ExampleDefaultClassifier() {
	ctx := context.Background()
	fmt.Println(keel.DefaultClassifier(ctx, nil))
	fmt.Println(keel.DefaultClassifier(ctx, errors.New("connection reset")))
	fmt.Println(keel.DefaultClassifier(ctx, keel.Permanent(errors.New("invalid card number"))))

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	fmt.Println(keel.DefaultClassifier(canceled, canceled.Err()))
	// Output:
	// success
	// failure
	// permanent
	// neutral
}

func ExampleRetryAfter() {
	err := keel.WithRetryAfter(errors.New("429 too many requests"), 2*time.Second)
	if d, ok := keel.RetryAfter(fmt.Errorf("charge: %w", err)); ok {
		fmt.Println("try again in", d)
	}
	// Output: try again in 2s
}

func ExampleObserverFunc() {
	obs := keel.ObserverFunc(func(_ context.Context, e keel.Event) {
		fmt.Printf("%s %s attempt=%d reason=%s\n", e.Policy, e.Kind, e.Attempt, e.Reason)
	})
	obs.Observe(context.Background(), keel.Event{Kind: keel.EventRejected, Policy: "breaker", Reason: keel.ReasonCircuitOpen})
	// Output: breaker rejected attempt=0 reason=circuit_open
}
