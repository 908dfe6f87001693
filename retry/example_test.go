package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/retry"
)

func ExampleNew() {
	p, err := retry.New(retry.Config{
		Name:        "inventory",
		MaxAttempts: 4,
		Backoff:     backoff.Constant(0), // retry at once, to keep the example fast
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	err = p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println(calls, err)
	// Output: 3 <nil>
}

func ExamplePolicy_Do() {
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		return fmt.Errorf("attempt %d: unavailable", calls)
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, retry.ErrExhausted))
	// Output:
	// retry: exhausted after 3 attempts: attempt 3: unavailable
	// true
}

func ExamplePolicy_Do_permanent() {
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		return keel.Permanent(errors.New("400 bad request"))
	})
	// A permanent error on the first attempt comes back unchanged.
	fmt.Println(calls, err, errors.Is(err, retry.ErrExhausted))
	// Output: 1 400 bad request false
}

func ExamplePolicy_Wrap() {
	attempts := 0
	count := keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			attempts++
			return next(ctx, op)
		}
	})
	rt := retry.MustNew(retry.Config{MaxAttempts: 2, Backoff: backoff.Constant(0)})
	// The retry is outside: every policy after it runs once per attempt.
	pipeline := keel.Chain(rt, count)
	err := pipeline.Do(context.Background(), func(context.Context) error { return errors.New("timeout") })
	fmt.Println(attempts, err)
	// Output: 2 retry: exhausted after 2 attempts: timeout
}

func ExampleExhaustedError() {
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0), DisableBudget: true})
	code := 500
	err := p.Do(context.Background(), func(context.Context) error {
		code++
		return keel.WithRetryAfter(fmt.Errorf("status %d", code), time.Millisecond)
	})
	var ee *retry.ExhaustedError
	if errors.As(err, &ee) {
		fmt.Println(ee.Attempts, ee.Reason, ee.Last())
	}
	hint, ok := keel.RetryAfter(err) // the newest attempt's hint
	fmt.Println(hint, ok)
	// Output:
	// 3 none status 503
	// 1ms true
}

func ExampleNewBudget() {
	// One budget for every policy that calls the same dependency.
	budget := retry.MustNewBudget(retry.BudgetConfig{Ratio: 0.1, MinPerSecond: -1})
	reads := retry.MustNew(retry.Config{Budget: budget, Backoff: backoff.Constant(0)})
	writes := retry.MustNew(retry.Config{Budget: budget, Backoff: backoff.Constant(0)})

	ok := func(context.Context) error { return nil }
	for range 10 {
		_ = reads.Do(context.Background(), ok) // each call deposits one request
	}
	// 10 requests × 0.1 = 1 retry available, shared by both policies.
	fail := func(context.Context) error { return errors.New("down") }
	err := writes.Do(context.Background(), fail)
	var ee *retry.ExhaustedError
	errors.As(err, &ee)
	fmt.Println(ee.Attempts, ee.Reason, errors.Is(err, keel.ErrRejected))
	// Output: 2 budget true
}

func ExampleBudget_TryWithdrawAt() {
	b := retry.MustNewBudget(retry.BudgetConfig{Ratio: 0.5, MinPerSecond: -1, TTL: 10 * time.Second})
	now := time.Now()
	for range 4 {
		b.DepositAt(now)
	}
	fmt.Println(b.TryWithdrawAt(now), b.TryWithdrawAt(now), b.TryWithdrawAt(now))
	// Eleven seconds later the requests' credit has expired.
	b.DepositAt(now.Add(11 * time.Second))
	fmt.Println(b.Available(now.Add(11 * time.Second)))
	// Output:
	// true true false
	// 0
}
