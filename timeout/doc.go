// Package timeout bounds how long an operation may run.
//
// A [Policy] gives each operation a context whose deadline is Timeout from the
// start of the call (or the caller's own deadline, if that is sooner). By
// default it is cooperative: the operation runs on the caller's goroutine and
// is expected to stop when its context ends, as anything built on net/http,
// database/sql or gRPC does. If it returns an error once the deadline has
// passed, the Policy returns a [*ExceededError] that matches [ErrExceeded] and
// context.DeadlineExceeded, so outer policies (retry, breaker) count it as a
// failure of the dependency. If the caller's own context ended, the
// operation's error is returned as is: the caller gave up, the dependency is
// not to blame.
//
// With Config.ReturnOnTime the Policy also guards operations that ignore their
// context: it runs the operation on a goroutine of its own and returns at the
// deadline whether the operation has finished or not. The operation goes on
// running until it returns; the error the Policy returned then implements
// keel.StillRunning, so a bulkhead or concurrency limit around the timeout
// keeps the operation's permit until it really exits, and [Policy.Abandoned]
// counts such operations. An abandoned operation must not write to memory the
// caller reads after Do has returned, unless it synchronizes: the two now run
// concurrently.
//
// The cooperative path allocates one small context and arms no timer unless
// the operation waits on ctx.Done; when the caller's deadline is already
// sooner than Timeout, it creates no context at all.
package timeout
