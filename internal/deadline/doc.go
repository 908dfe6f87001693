// Package deadline provides a context with a deadline that costs one
// allocation and no timer until somebody waits on it.
//
// context.WithTimeout creates a channel, a timer and a registration with the
// parent up front, which costs several allocations and a few hundred
// nanoseconds per call. Most operations guarded by a timeout never wait on
// their context's Done channel: they check Err, pass the context to code that
// reads its Deadline, or simply finish in time. A [Context] therefore creates
// its Done channel, its timer and its registration with the parent lazily, the
// first time Done is called (or when a context is derived from it with
// context.WithCancel, context.AfterFunc and the like, which call Done).
//
// Err works without Done: it reports the parent's error first, then
// context.DeadlineExceeded once the deadline has passed. Once Err has reported
// an error it keeps reporting the same one, and the Done channel (if created)
// is closed, so the usual invariants of context.Context hold.
//
// context.Cause, context.WithCancel and context.AfterFunc work on a Context:
// it implements the AfterFunc hook the context package looks for, so deriving
// from it starts no goroutine.
package deadline
