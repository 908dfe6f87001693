package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
)

func Example() {
	br := breaker.MustNew(breaker.Config{
		Name:         "payments",
		WindowSize:   10, // the last 10 calls
		MinimumCalls: 4,  // decide nothing before 4 calls
		OpenDuration: 30 * time.Second,
	})
	ctx := context.Background()
	unavailable := errors.New("503 from payments")

	for i := range 4 {
		err := br.Do(ctx, func(context.Context) error { return unavailable })
		fmt.Printf("call %d: %v\n", i+1, err)
	}
	err := br.Do(ctx, func(context.Context) error { return nil })
	if d, ok := keel.RetryAfter(err); ok && errors.Is(err, breaker.ErrOpen) {
		fmt.Println("call 5 rejected; retry after", d.Round(time.Second))
	}
	// Output:
	// call 1: 503 from payments
	// call 2: 503 from payments
	// call 3: 503 from payments
	// call 4: 503 from payments
	// call 5 rejected; retry after 30s
}

func ExampleBreaker_Allow() {
	br := breaker.MustNew(breaker.Config{})

	p, err := br.Allow()
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	// … run the call, then report how it went:
	p.Done(keel.OutcomeSuccess)
	fmt.Println(br.State())
	// Output: closed
}

// AllowAt and DoneAt take the time as an argument, so a test can walk a
// breaker through an exact scenario.
func ExampleBreaker_AllowAt() {
	br := breaker.MustNew(breaker.Config{
		WindowType:       breaker.TimeBased,
		WindowSize:       10, // seconds
		MinimumCalls:     2,
		OpenDuration:     5 * time.Second,
		HalfOpenPermits:  1,
		SuccessesToClose: 1,
	})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	call := func(at time.Duration, o keel.Outcome) {
		now := t0.Add(at)
		p, err := br.AllowAt(now)
		if err != nil {
			fmt.Printf("%-3v rejected: %v\n", at, err)
			return
		}
		p.DoneAt(now, o)
		fmt.Printf("%-3v %-8v -> %v\n", at, o, br.StateAt(now))
	}
	call(0, keel.OutcomeFailure)
	call(1*time.Second, keel.OutcomeFailure)
	call(3*time.Second, keel.OutcomeSuccess)
	fmt.Println("at 6s, no traffic:", br.StateAt(t0.Add(6*time.Second)))
	call(6*time.Second, keel.OutcomeSuccess)
	// Output:
	// 0s  failure  -> closed
	// 1s  failure  -> open
	// 3s  rejected: breaker: circuit open, retry in 3s
	// at 6s, no traffic: half_open
	// 6s  success  -> closed
}

func ExampleBreaker_ForceOpen() {
	br := breaker.MustNew(breaker.Config{Name: "search"})
	br.ForceOpen() // e.g. from an admin endpoint during an incident
	_, err := br.Allow()
	fmt.Println(err)
	br.Reset()
	fmt.Println(br.State())
	// Output:
	// breaker "search": circuit forced open
	// closed
}

func ExampleBreaker_Metrics() {
	br := breaker.MustNew(breaker.Config{WindowSize: 4})
	for _, o := range []keel.Outcome{keel.OutcomeSuccess, keel.OutcomeFailure, keel.OutcomeSuccess} {
		p, _ := br.Allow()
		p.Done(o)
	}
	m := br.Metrics()
	fmt.Printf("%v: %d calls, %d failed (%.1f%%)\n", m.State, m.Calls, m.Failures, m.FailureRate)
	// Output: closed: 3 calls, 1 failed (33.3%)
}

func ExampleGroup() {
	hosts := breaker.MustNewGroup(breaker.GroupConfig{
		Breaker: breaker.Config{Name: "upstream", MinimumCalls: 1},
		MaxKeys: 100,
	})
	ctx := context.Background()
	_ = hosts.Get("10.0.0.1:80").Do(ctx, func(context.Context) error { return errors.New("connection refused") })
	_ = hosts.Get("10.0.0.2:80").Do(ctx, func(context.Context) error { return nil })

	for _, h := range []string{"10.0.0.1:80", "10.0.0.2:80"} {
		fmt.Println(h, hosts.Get(h).State())
	}
	// Output:
	// 10.0.0.1:80 open
	// 10.0.0.2:80 closed
}

func ExampleOpenError() {
	br := breaker.MustNew(breaker.Config{MinimumCalls: 1, OpenDuration: time.Minute})
	_ = br.Do(context.Background(), func(context.Context) error { return errors.New("boom") })

	_, err := br.Allow()
	var oe *breaker.OpenError
	if errors.As(err, &oe) {
		fmt.Println(oe.State, oe.Remaining > 59*time.Second, errors.Is(err, keel.ErrRejected))
	}
	// Output: open true true
}
