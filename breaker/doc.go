// Package breaker provides a circuit breaker with resilience4j's semantics:
// count- or time-based sliding windows, failure-rate and slow-call-rate
// thresholds, a minimum number of calls before any decision, half-open probing
// with a bounded number of concurrent probes, and the manual states Disabled,
// ForcedOpen and MetricsOnly. [Group] keeps one breaker per key (host, route)
// within a bound.
//
// # States
//
// A [Breaker] starts Closed. Each finished call is classified (see
// Config.Classifier) and recorded in the window; once the window holds at
// least MinimumCalls calls and the failure rate reaches FailureRateThreshold,
// or the slow-call rate reaches SlowCallRateThreshold, the breaker opens.
// While Open, calls are rejected with an [*OpenError] whose RetryAfter is the
// remaining open time. After the open duration the breaker is HalfOpen: up to
// HalfOpenPermits probes run at once, SuccessesToClose successful probes close
// it, and one failed probe opens it again, for longer if
// OpenDurationMultiplier is set.
//
// State is computed on read: an open breaker whose time is up reports
// HalfOpen from [Breaker.State] and [Breaker.Metrics] even if no call has
// arrived, and the state-change event is emitted then.
//
// Every state change starts a new generation. Outcomes of calls admitted in an
// earlier generation are ignored, so a slow call started while closed cannot
// close a half-open breaker, and a call admitted before [Breaker.Reset] cannot
// count after it.
//
// # Use
//
// As a policy, in a keel.Chain or alone with [Breaker.Do]:
//
//	br := breaker.MustNew(breaker.Config{Name: "payments"})
//	err := br.Do(ctx, callPayments)
//	if errors.Is(err, breaker.ErrOpen) { … }
//
// Without a closure, as the gateway does:
//
//	p, err := br.Allow()
//	if err != nil {
//		return err // *OpenError
//	}
//	resp, err := transport.RoundTrip(req)
//	p.Done(classify(resp, err))
//
// The closed-state path takes no lock to admit a call and one short lock to
// record it, and allocates nothing. Rejections take no lock and allocate at
// most once per millisecond per breaker.
//
// # Time
//
// [Breaker.AllowAt], [Permit.DoneAt], [Breaker.StateAt] and
// [Breaker.MetricsAt] take the time as an argument, so tests drive a breaker
// through exact sequences without sleeping. The other methods read a clock
// anchored to the wall time at New and advanced by the monotonic clock.
//
// # Events
//
// With Config.Observer set, a breaker emits keel.EventStateChange (From and
// To are State strings), keel.EventRejected (Reason keel.ReasonCircuitOpen or
// keel.ReasonHalfOpenFull) and one keel.EventSuccess or keel.EventFailure per
// recorded call, with its Duration. Events are emitted after the breaker's
// lock is released, on the goroutine of the call that caused them.
package breaker
