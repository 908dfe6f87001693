package hedge_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/hedge"
)

func Example() {
	p := hedge.MustNew(hedge.Config{Delay: time.Millisecond})
	err := p.Do(context.Background(), func(ctx context.Context) error {
		if !hedge.IsHedge(ctx) {
			<-ctx.Done() // the first attempt is stuck; the hedge will win
			fmt.Println("attempt 1:", ctx.Err(), "-", context.Cause(ctx))
			return ctx.Err()
		}
		return nil
	})
	fmt.Println("err:", err, "hedges:", p.Hedges(), "wins:", p.Wins())
	// Output:
	// attempt 1: context canceled - hedge: another attempt decided the call
	// err: <nil> hedges: 1 wins: 1
}

func ExamplePolicy_Delay() {
	p := hedge.MustNew(hedge.Config{Delay: time.Second, Percentile: 0.95, MinSamples: 3, MinDelay: 100 * time.Millisecond})
	fmt.Println("before samples:", p.Delay())
	for range 3 {
		_ = p.Do(context.Background(), func(context.Context) error { return nil })
	}
	fmt.Println("after fast calls:", p.Delay()) // MinDelay floors the percentile
	// Output:
	// before samples: 1s
	// after fast calls: 100ms
}

func ExampleAttempt() {
	p := hedge.MustNew(hedge.Config{})
	_ = keel.Chain(p).Do(context.Background(), func(ctx context.Context) error {
		fmt.Println("attempt", hedge.Attempt(ctx))
		return nil
	})
	// Output:
	// attempt 1
}
