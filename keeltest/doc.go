// Package keeltest provides what tests of code that uses Keel need: scripted
// operations, an event recorder and helpers for running policies under
// testing/synctest.
//
// # Scripted operations
//
// A [Script] is an operation (its method [Script.Op] has the signature
// func(context.Context) error) that behaves as a list of [Step] values says:
// the first call runs the first step, the second call the second step, and so
// on; calls past the end repeat the last step. [FailN] is the common case, an
// operation that fails n times and then succeeds:
//
//	s := keeltest.FailN(2, errBoom)
//	err := policy.Do(ctx, s.Op)
//	// s.Calls() == 3 if the policy retried twice
//
// Steps can add latency that honors the context ([Step.After], [Sleep]) or
// that ignores it ([Step.AfterIgnoringContext], [IgnoreContext]), block until
// the context ends ([Block]) or panic ([Panic]).
//
// # Recording events
//
// A [Recorder] is a keel.Observer that keeps every event it receives. Pass it as
// the Observer of a policy's Config and assert on [Recorder.Kinds] or
// [Recorder.Events].
//
// # Time
//
// Policies that wait (retry back-off, bulkhead queues, rate limit waits,
// timeouts) use the time package, so tests run them inside a
// testing/synctest bubble, where time is fake and advances only when every
// goroutine in the bubble is blocked. The recipe:
//
//	func TestRetryWaits(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			p := retry.MustNew(retry.Config{ /* ... */ })
//			s := keeltest.FailN(2, errBoom)
//			elapsed, err := keeltest.Timed(t.Context(), p, s.Op)
//			// elapsed is exactly the back-off the policy slept.
//		})
//	}
//
// To look at a call while it is blocked (queued in a bulkhead, waiting for a
// rate limit token), start it with [Go], let the bubble settle with
// synctest.Wait and ask [Call.Done]; advance fake time with time.Sleep. Every
// call started with Go must be joined with [Call.Wait] before the bubble ends.
//
// Pure state machines (breaker.AllowAt, ratelimit.Limiter.AllowAt) take the
// time as an argument and need no bubble; [Epoch] is a convenient fixed time
// to start from.
package keeltest
