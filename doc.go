// Package keel is the shared contract of Keel's resilience policies.
//
// An operation is a func(context.Context) error. A policy (retry.Policy,
// breaker.Breaker, bulkhead.Bulkhead, timeout.Policy, fallback.Policy, …) guards
// an operation: it decides whether to run it, how long to let it run, whether to
// run it again, and what to return when it fails. Policies are built once from a
// plain Config struct, are immutable afterwards and are safe for concurrent use.
//
// Policies compose with [Chain], which reads outermost first:
//
//	p := keel.Chain(fb, rt, br, bh, to) // fallback(retry(breaker(bulkhead(timeout(op)))))
//	err := p.Do(ctx, op)
//
// The chain is wired once, when Chain is called; running an operation through it
// allocates nothing on the success path. [Get] adapts operations that return a
// value.
//
// # Outcomes
//
// Every policy sees the error an operation returned and classifies it once with a
// [Classifier] into an [Outcome]: OutcomeSuccess, OutcomeFailure (the dependency
// failed; worth retrying and counting against a circuit breaker), OutcomeNeutral
// (the caller's own cancellation: not the dependency's fault, never retried,
// never counted) or OutcomePermanent (failed, and repeating it cannot help: not
// retried). [Permanent]
// marks an error as permanent; [DefaultClassifier] is what every policy uses
// unless its Config says otherwise.
//
// # Errors
//
// Each policy package has sentinel errors (breaker.ErrOpen, bulkhead.ErrFull,
// retry.ErrExhausted, …) and typed errors that carry detail and match their
// sentinel through errors.Is. Every rejection (a call refused before it ran) also
// matches [ErrRejected]. An error may carry a hint of when to try again; read it
// with [RetryAfter].
//
// # Events
//
// Each policy reports what it does as typed [Event] values, passed by value to an
// optional [Observer]. Telemetry adapters (package telemetry) turn events into
// OpenTelemetry spans and metrics, Prometheus series and slog records; no policy
// imports a telemetry library. With no observer, no event is built.
//
// # Panics
//
// A panic in an operation is recorded by every policy it passes through as a
// failure, every permit is released, and the panic continues up the stack.
//
// # Time
//
// Pure state machines take the current time as an argument (breaker.AllowAt,
// ratelimit reservations); blocking code uses the time package, so tests run it
// inside testing/synctest with a fake clock. Package keeltest has helpers.
package keel
