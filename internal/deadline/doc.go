// Package deadline provides a context with a deadline that costs one
// allocation and no timer until somebody waits on it.
//
// context.WithTimeout creates a context, a timer and a registration with the
// parent up front: four allocations and a few hundred nanoseconds per call.
// Most operations guarded by a timeout never wait on their context's Done
// channel: they check Err, pass the context to code that reads its Deadline,
// or simply finish in time. A [Context] is therefore a plain struct until its
// Done method is first called (directly, or by context.WithCancel,
// context.AfterFunc and the like, which call Done). Only then does it derive a
// standard context.WithDeadline context from its parent and hand over to it.
//
// Err works without Done: it reports the parent's error first, then
// context.DeadlineExceeded once the clock has reached the deadline. Once Err
// has reported an error it keeps reporting the same one, and a later Done
// returns a closed channel, so the invariants of context.Context hold.
// After Done, Done, Err and Value are the derived context's, so
// context.WithCancel, context.AfterFunc and context.Cause work on a Context
// exactly as on a standard one, with no watcher goroutine.
package deadline
