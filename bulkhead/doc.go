// Package bulkhead bounds how many operations run at once, with a bounded FIFO
// queue for the ones that must wait.
//
// A [Bulkhead] holds MaxConcurrent permits. A call takes a permit, runs, and
// returns it. When every permit is taken, up to MaxQueue calls wait in a queue
// for at most MaxWait each; the rest are rejected at once with a
// [*RejectedError] that matches [ErrFull] and keel.ErrRejected. The queue is
// strictly first in, first out: a returned permit is handed straight to the
// oldest waiter, and a new caller never takes a permit while others wait.
//
// There are two ways to use a Bulkhead. As a keel.Policy or keel.Executor:
//
//	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 8, MaxQueue: 16, MaxWait: 50 * time.Millisecond})
//	err := bh.Do(ctx, op)
//
// or, where a closure is unwelcome (a proxy's request path), in two steps:
//
//	p, err := bh.Acquire(ctx)
//	if err != nil {
//		return err
//	}
//	defer p.Release()
//
// Neither allocates when a permit is free.
//
// Work that a timeout abandoned keeps its permit: when the error an operation
// returns through Do carries a still-running operation (see keel.StillRunning,
// returned by timeout.Policy in return-on-time mode), the permit is returned
// only when that operation really exits, so the bulkhead never admits more
// concurrent work than MaxConcurrent, even when callers stop waiting.
package bulkhead
