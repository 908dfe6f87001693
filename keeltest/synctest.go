package keeltest

import (
	"context"
	"time"

	"github.com/keelhq/keel"
)

// Epoch is the fake time at which a testing/synctest bubble starts, midnight
// UTC on 1 January 2000. Tests of pure state machines (methods taking a time)
// can start from it too, so that their times read the same as in a bubble.
var Epoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// Timed runs op through x and returns how long x.Do took and its error. Inside
// a testing/synctest bubble the duration is exact fake time: the sum of every
// wait the policies made, with nothing added for the real work done.
func Timed(ctx context.Context, x keel.Executor, op func(context.Context) error) (time.Duration, error) {
	start := time.Now()
	err := x.Do(ctx, op)
	return time.Since(start), err
}

// Call is an operation started with [Go] that runs on its own goroutine.
// Its methods are safe for concurrent use.
type Call struct {
	done    chan struct{}
	err     error
	elapsed time.Duration
}

// Go starts x.Do(ctx, op) on a new goroutine and returns at once. The caller
// owns the goroutine and must join it with [Call.Wait]. A panic in the call is
// not recovered; it crashes the test binary as any goroutine panic does.
//
// Inside a testing/synctest bubble, call synctest.Wait after Go to let the call
// run until it blocks, then use [Call.Done] to see whether it has finished.
func Go(ctx context.Context, x keel.Executor, op func(context.Context) error) *Call {
	c := &Call{done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(c.done)
		c.err = x.Do(ctx, op)
		c.elapsed = time.Since(start)
	}()
	return c
}

// Done reports whether the call has returned. It does not block.
func (c *Call) Done() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Wait blocks until the call returns and gives its error.
func (c *Call) Wait() error {
	<-c.done
	return c.err
}

// Elapsed blocks until the call returns and gives how long it took, measured
// from the call to [Go].
func (c *Call) Elapsed() time.Duration {
	<-c.done
	return c.elapsed
}
