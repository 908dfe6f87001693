package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ratelimit"
)

// A burst of three, then one token every 100ms, driven with explicit times.
func ExampleLimiter_AllowAt() {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 10, Burst: 3})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 0, 0, 0, 50 * time.Millisecond, 100 * time.Millisecond} {
		fmt.Printf("+%v %v\n", at, l.AllowAt(start.Add(at)))
	}
	// Output:
	// +0s true
	// +0s true
	// +0s true
	// +0s false
	// +50ms false
	// +100ms true
}

// Do rejects a call that finds no token, with a hint of when to come back.
func ExampleLimiter_Do() {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 1, Name: "search"})
	op := func(context.Context) error { fmt.Println("searching"); return nil }
	ctx := context.Background()

	fmt.Println(l.Do(ctx, op))
	err := l.Do(ctx, op)
	after, _ := keel.RetryAfter(err)
	fmt.Println(errors.Is(err, ratelimit.ErrLimited), errors.Is(err, keel.ErrRejected), after > 900*time.Millisecond)
	// Output:
	// searching
	// <nil>
	// true true true
}

// A reservation takes a token now for use later.
func ExampleLimiter_ReserveAt() {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 2, Burst: 1, MaxWait: time.Second})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 4 {
		r := l.ReserveAt(now)
		fmt.Println(r.OK(), r.Delay())
	}
	// Output:
	// true 0s
	// true 500ms
	// true 1s
	// false 1.5s
}

// One bucket per client, at most 10,000 clients remembered.
func ExampleKeyed() {
	k := ratelimit.MustNewKeyed(ratelimit.KeyedConfig{
		Config:  ratelimit.Config{Rate: 1, Burst: 2},
		MaxKeys: 10_000,
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, client := range []string{"alice", "alice", "alice", "bob"} {
		fmt.Println(client, k.AllowKeyAt(client, now))
	}
	// Output:
	// alice true
	// alice true
	// alice false
	// bob true
}

// A limiter is a keel.Policy: put it in a chain.
func ExampleNew() {
	l, err := ratelimit.New(ratelimit.Config{Rate: 100, MaxWait: 50 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	p := keel.Chain(l)
	fmt.Println(l.Burst(), p.Do(context.Background(), func(context.Context) error { return nil }))

	_, err = ratelimit.New(ratelimit.Config{Rate: 0})
	fmt.Println(err)
	// Output:
	// 100 <nil>
	// ratelimit: Config.Rate must be greater than 0, got 0
}

// Wait blocks for a token up to MaxWait and never past the context's
// deadline.
func ExampleLimiter_Wait() {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1000, Burst: 1, MaxWait: 50 * time.Millisecond})
	ctx := context.Background()
	fmt.Println(l.Wait(ctx)) // the burst token
	fmt.Println(l.Wait(ctx)) // the next token, about 1ms later

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	slow := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 1, MaxWait: time.Minute})
	_ = slow.Wait(short)
	err := slow.Wait(short) // the token is 1s away, after the deadline: no wait
	fmt.Println(errors.Is(err, ratelimit.ErrLimited))
	// Output:
	// <nil>
	// <nil>
	// true
}

// DoKey limits each client on its own.
func ExampleKeyed_DoKey() {
	k := ratelimit.MustNewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: 1, Burst: 1, Name: "per-client"}})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	fmt.Println(k.DoKey(ctx, "alice", op))
	fmt.Println(k.DoKey(ctx, "bob", op))
	err := k.DoKey(ctx, "alice", op)
	var le *ratelimit.LimitedError
	fmt.Println(errors.As(err, &le), le.Key, le.Delay > 0)
	// Output:
	// <nil>
	// <nil>
	// true alice true
}
