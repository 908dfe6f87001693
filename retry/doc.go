// Package retry runs an operation again when it fails, with backoff, jitter,
// deadlines, retry-after hints and a retry budget.
//
// A [Policy] is built once from a [Config] and used as a keel.Executor
// (p.Do(ctx, op)) or as one layer of a keel.Chain. Each call makes up to
// MaxAttempts attempts. After a failed attempt the policy stops at once when:
//
//   - the attempt's outcome (Config.Classifier) is not keel.OutcomeFailure:
//     permanent errors and the caller's own cancellation are never retried;
//   - MaxAttempts attempts have run;
//   - the caller's context has ended;
//   - the error carries a retry-after hint longer than MaxRetryAfter;
//   - the next attempt could not start before the deadline (the context's, or
//     MaxDuration from the call's start), after the delay: the policy does not
//     sleep in vain, it returns as soon as it knows;
//   - the retry [Budget] refuses another retry.
//
// Otherwise it sleeps for max(backoff delay, retry-after hint) — a hint is
// never undercut — and tries again. The sleep ends early, with the call, if
// the context ends.
//
// # Errors
//
// Success returns nil. A first attempt that fails permanently or neutrally
// returns its error unchanged. Every other give-up returns an
// [*ExhaustedError], which matches [ErrExhausted], says why in its Reason, lists
// every attempt's error and unwraps to them newest first, so errors.As and
// keel.RetryAfter see the last attempt's error first. keel.Get returns the
// last attempt's value alongside it.
//
// # Retry budget
//
// By default each policy has its own [Budget] (Finagle's RetryBudget): retries
// may add at most 20% to the requests of the last 10 seconds, plus 10 retries
// per second as a floor. This keeps a failing dependency from receiving
// MaxAttempts times its normal load. Share one Budget between the policies
// that call one dependency, or set DisableBudget.
//
// # Events
//
// With an Observer the policy emits, with Policy "retry": EventAttempt after
// each attempt (Attempt, Duration, Err, Outcome); EventRetry before each sleep
// (Attempt is the number of the attempt about to start, Delay the sleep, Err
// the error that caused it); EventRejected with ReasonBudget when the budget
// refuses a retry; and EventExhausted when it gives up (Attempt is the number
// of attempts run, Err the ExhaustedError, Reason why).
//
// # Cost
//
// A call whose first attempt succeeds allocates nothing: one atomic add for
// the budget deposit and no clock read, unless an Observer, MaxDuration or
// AttemptTimeout asks for one.
package retry
