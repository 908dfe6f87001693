package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/timeout"
)

func Example() {
	to := timeout.MustNew(timeout.Config{Name: "search", Timeout: 20 * time.Millisecond})

	err := to.Do(context.Background(), func(ctx context.Context) error {
		select { // a slow dependency that honors its context
		case <-time.After(time.Second):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, timeout.ErrExceeded), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// timeout "search": exceeded 20ms: context deadline exceeded
	// true true
}

func ExampleNew() {
	_, err := timeout.New(timeout.Config{})
	fmt.Println(err)
	// Output: timeout: Config.Timeout must be > 0, got 0s
}

// With ReturnOnTime the call returns at the deadline even though the operation
// ignores its context; the error tells when the operation really exits.
func Example_returnOnTime() {
	to := timeout.MustNew(timeout.Config{Timeout: 10 * time.Millisecond, ReturnOnTime: true})

	stuck := make(chan struct{})
	err := to.Do(context.Background(), func(context.Context) error {
		<-stuck // ignores ctx
		return nil
	})
	fmt.Println(err)
	fmt.Println("abandoned:", to.Abandoned())

	exited := make(chan struct{})
	keel.AfterExit(err, func() { close(exited) })
	close(stuck)
	<-exited
	fmt.Println("abandoned:", to.Abandoned())
	// Output:
	// timeout: exceeded 10ms
	// abandoned: 1
	// abandoned: 0
}

// A bulkhead outside a return-on-time timeout keeps the permit of an
// abandoned operation until it exits, so abandoned work still counts against
// the limit.
func ExamplePolicy_Wrap() {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	to := timeout.MustNew(timeout.Config{Timeout: 10 * time.Millisecond, ReturnOnTime: true})
	chain := keel.Chain(bh, to)

	release := make(chan struct{})
	err := chain.Do(context.Background(), func(context.Context) error {
		<-release // stuck, ignoring ctx
		return nil
	})
	fmt.Println(err)
	fmt.Println("in flight:", bh.InFlight())

	exited := make(chan struct{})
	keel.AfterExit(err, func() { close(exited) })
	close(release)
	<-exited
	fmt.Println("in flight:", bh.InFlight())
	// Output:
	// timeout: exceeded 10ms
	// in flight: 1
	// in flight: 0
}
