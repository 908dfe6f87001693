package limit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/limit"
)

func ExampleNew() {
	l, err := limit.New(limit.Config{
		Name:      "inventory",
		Algorithm: &limit.Gradient2{},
		MinLimit:  4,
		MaxLimit:  200,
		MaxQueue:  50,
		MaxWait:   20 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Limit(), l.InFlight(), l.Queued())
	// Output: 20 0 0
}

func ExampleLimiter_Acquire() {
	l := limit.MustNew(limit.Config{InitialLimit: 1})
	ctx := context.Background()

	p, err := l.Acquire(ctx)
	if err != nil {
		return
	}
	_, err = l.Acquire(ctx) // the limit is 1 and there is no queue
	fmt.Println(errors.Is(err, limit.ErrLimited), errors.Is(err, keel.ErrRejected))

	p.Done(keel.OutcomeSuccess) // AIMD: the limit was fully used, so it grows
	fmt.Println("limit:", l.Limit())
	// Output:
	// true true
	// limit: 2
}

func ExamplePermit_DoneAt() {
	l := limit.MustNew(limit.Config{InitialLimit: 10})
	p, _ := l.Acquire(context.Background())
	p.DoneAt(time.Now(), keel.OutcomeFailure) // a drop: AIMD multiplies by 0.9
	fmt.Println("limit:", l.Limit())
	// Output: limit: 9
}

func ExampleLimiter_Do() {
	l := limit.MustNew(limit.Config{Algorithm: &limit.Vegas{}})
	err := l.Do(context.Background(), func(context.Context) error {
		return nil // call the dependency here
	})
	fmt.Println(err, l.InFlight())
	// Output: <nil> 0
}

func ExampleLimiter_Wrap() {
	l := limit.MustNew(limit.Config{})
	p := keel.Chain(l)
	err := p.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err)
	// Output: <nil>
}

func ExampleNewThrottler() {
	th, err := limit.NewThrottler(limit.ThrottlerConfig{K: 2, Window: 2 * time.Minute})
	if err != nil {
		panic(err)
	}
	err = th.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err)
	// Output: <nil>
}

func ExampleThrottler_AllowAt() {
	th := limit.MustNewThrottler(limit.ThrottlerConfig{Rand: func() float64 { return 0.5 }})
	now := time.Unix(0, 0)
	// The backend accepted 10 of 40 requests: p = (40 − 2·10)/(40 + 1).
	for i := range 40 {
		th.AllowAt(now)
		if i < 10 {
			th.AcceptAt(now)
		}
	}
	ok, p := th.AllowAt(now)
	fmt.Printf("allowed=%v p=%.3f\n", ok, p)
	// Output: allowed=true p=0.488
}
