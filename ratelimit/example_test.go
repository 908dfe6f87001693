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
