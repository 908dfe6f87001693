package bulkhead_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/bulkhead"
)

func Example() {
	bh := bulkhead.MustNew(bulkhead.Config{Name: "payments", MaxConcurrent: 1})

	// Hold the only permit, as a slow call would.
	p, _ := bh.Acquire(context.Background())

	err := bh.Do(context.Background(), func(context.Context) error {
		return nil // not reached: the bulkhead is full and has no queue
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, bulkhead.ErrFull), errors.Is(err, keel.ErrRejected))

	p.Release()
	err = bh.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err)
	// Output:
	// bulkhead "payments": full
	// true true
	// <nil>
}

func ExampleNew() {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: -1})
	fmt.Println(bh == nil, err)
	// Output: true bulkhead: Config.MaxConcurrent must be >= 0 (0 means 10), got -1
}

func ExampleBulkhead_Acquire() {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 2})
	p, err := bh.Acquire(context.Background())
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	defer p.Release()
	fmt.Println("in flight:", bh.InFlight())
	// Output: in flight: 1
}

func ExampleBulkhead_TryAcquire() {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	p1, ok1 := bh.TryAcquire()
	_, ok2 := bh.TryAcquire()
	fmt.Println(ok1, ok2)
	p1.Release()
	// Output: true false
}

func ExampleBulkhead_Wrap() {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 4, MaxQueue: 8})
	pipeline := keel.Chain(bh) // usually with retry, breaker and timeout around and inside it
	err := pipeline.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err)
	// Output: <nil>
}
