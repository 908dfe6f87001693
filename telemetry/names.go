package telemetry

import "go.opentelemetry.io/otel/attribute"

// ScopeName is the instrumentation scope of the meter and tracer this package
// creates: OpenTelemetry backends show it as the library that produced the
// data, and the Prometheus exporter puts it in the otel_scope_name label.
const ScopeName = "github.com/keelhq/keel/telemetry"

// Instrument names. Durations are histograms in seconds, as the OpenTelemetry
// semantic conventions ask; the count of a duration histogram is the number of
// calls (or attempts), so there is no separate call counter.
const (
	// MetricCallDuration: how long a call guarded by a policy ran
	// (EventSuccess, EventFailure), by keel.policy, keel.name and keel.outcome.
	MetricCallDuration = "keel.call.duration"
	// MetricAttemptDuration: how long one retry or hedge attempt ran
	// (EventAttempt), by keel.policy, keel.name and keel.outcome.
	MetricAttemptDuration = "keel.attempt.duration"
	// MetricWaitDuration: how long a call waited for a permit of a bulkhead or
	// limiter before it was granted (EventAcquired), by keel.policy and
	// keel.name.
	MetricWaitDuration = "keel.wait.duration"
	// MetricRejections: calls a policy refused to run (EventRejected), by
	// keel.policy, keel.name and keel.reason. Retry budget denials are
	// keel.policy="retry", keel.reason="budget".
	MetricRejections = "keel.rejections"
	// MetricRetries: retries scheduled (EventRetry), by keel.policy and
	// keel.name.
	MetricRetries = "keel.retries"
	// MetricExhausted: calls a retry policy gave up on (EventExhausted), by
	// keel.policy, keel.name and keel.reason ("none" when the attempts ran
	// out).
	MetricExhausted = "keel.retry.exhausted"
	// MetricFallbacks: errors a fallback replaced (EventFallback), by
	// keel.policy and keel.name.
	MetricFallbacks = "keel.fallbacks"
	// MetricTimeouts: timeouts that expired (EventTimeout), by keel.policy and
	// keel.name.
	MetricTimeouts = "keel.timeouts"
	// MetricAbandoned: calls a timeout returned from while the operation went
	// on running (EventAbandoned), by keel.policy and keel.name.
	MetricAbandoned = "keel.timeout.abandoned"
	// MetricAbandonedRunning: abandoned operations still running: up at
	// EventAbandoned, down at EventAbandonedExit.
	MetricAbandonedRunning = "keel.timeout.abandoned.running"
	// MetricTransitions: circuit breaker state changes (EventStateChange), by
	// keel.policy, keel.name, keel.from and keel.to.
	MetricTransitions = "keel.breaker.transitions"
	// MetricReplays: requests an idempotency layer answered with a stored
	// response instead of running the handler (EventReplayed), by
	// keel.policy and keel.name.
	MetricReplays = "keel.idempotency.replays"
	// MetricTakeovers: records an idempotency layer took over after their
	// owner's lease expired, so the handler ran again (EventTakeover), by
	// keel.policy and keel.name.
	MetricTakeovers = "keel.idempotency.takeovers"
	// MetricLeasesLost: handlers of an idempotency layer that found their
	// lease taken over or their record gone, so their outcome was not stored
	// (EventLeaseLost), by keel.policy and keel.name.
	MetricLeasesLost = "keel.idempotency.leases_lost"
	// MetricBreakerState: an observable gauge, 1 for a breaker's current state
	// and 0 for each other state, by keel.name and keel.state.
	MetricBreakerState = "keel.breaker.state"
	// MetricInFlight: an observable gauge of the permits a bulkhead holds, by
	// keel.name.
	MetricInFlight = "keel.bulkhead.in_flight"
	// MetricQueued: an observable gauge of the calls waiting for a bulkhead
	// permit, by keel.name.
	MetricQueued = "keel.bulkhead.queued"
	// MetricLimit: an observable gauge of an adaptive concurrency limiter's
	// current limit, by keel.name: read from limiters registered with
	// RegisterLimiter, else the last limit change (EventStateChange of
	// policy "limit") this observer saw.
	MetricLimit = "keel.limit.current"
	// MetricLimitInFlight: an observable gauge of the permits an adaptive
	// concurrency limiter holds, by keel.name: read from registered
	// limiters, else the occupancy of the limiter's last event.
	MetricLimitInFlight = "keel.limit.in_flight"
	// MetricShed: requests a load shedder refused (EventRejected of policy
	// "shed" carrying a *shed.RejectedError), by keel.name and
	// keel.criticality. They are also counted in MetricRejections.
	MetricShed = "keel.shed"
	// MetricHedges: hedges (backup attempts) a hedge policy sent
	// (EventRetry of policy "hedge"), by keel.name. They are also counted
	// in MetricRetries with keel.policy="hedge".
	MetricHedges = "keel.hedge.sent"
	// MetricHedgeWins: hedged calls a hedge, rather than the first attempt,
	// won (EventSuccess of policy "hedge" with Attempt above 1), by
	// keel.name.
	MetricHedgeWins = "keel.hedge.won"
	// MetricHedgesSuppressed: hedges the hedge policy's budget refused
	// (EventRejected of policy "hedge" with keel.ReasonBudget), by
	// keel.name. They are also counted in MetricRejections.
	MetricHedgesSuppressed = "keel.hedge.suppressed"
)

// Attribute keys of metrics, span events and log records.
const (
	// AttrPolicy is keel.Event.Policy: "retry", "breaker", "bulkhead", …
	AttrPolicy attribute.Key = "keel.policy"
	// AttrName is keel.Event.Name, the policy's Config.Name (may be "").
	AttrName attribute.Key = "keel.name"
	// AttrOutcome is keel.Outcome.String(): "success", "failure", "neutral",
	// "permanent".
	AttrOutcome attribute.Key = "keel.outcome"
	// AttrReason is keel.Reason.String(): "circuit_open", "bulkhead_full",
	// "budget", "in_progress", "key_reused", "invalid", …
	AttrReason attribute.Key = "keel.reason"
	// AttrState is a breaker state: "closed", "open", "half_open",
	// "disabled", "forced_open", "metrics_only".
	AttrState attribute.Key = "keel.state"
	// AttrFrom and AttrTo are the states of a breaker transition.
	AttrFrom attribute.Key = "keel.from"
	// AttrTo: see AttrFrom.
	AttrTo attribute.Key = "keel.to"
	// AttrCriticality is a shed request's class: "sheddable", "default" or
	// "critical" (shed.Criticality.String).
	AttrCriticality attribute.Key = "keel.criticality"
	// AttrAttempt is an attempt number, starting at 1 (span events only).
	AttrAttempt attribute.Key = "keel.attempt"
	// AttrDelay is the wait before the next attempt in seconds (span events
	// only).
	AttrDelay attribute.Key = "keel.delay"
	// AttrDuration is a run time, wait or timeout in seconds (span events
	// only).
	AttrDuration attribute.Key = "keel.duration"
	// AttrError is the error message (span events only).
	AttrError attribute.Key = "keel.error"
)

// DefaultBuckets are the upper bounds, in seconds, of every duration
// histogram unless MetricsConfig.Buckets says otherwise: a 1-2-5 series from
// 100 µs to 20 s, then 30 s, 18 bounds and 19 buckets. Neighboring bounds
// differ by at most a factor of 2.5, so a p50, p95 or p99 interpolated from
// them (histogram_quantile) is within that factor of the truth anywhere
// between 100 µs and 30 s.
var DefaultBuckets = []float64{
	0.0001, 0.0002, 0.0005,
	0.001, 0.002, 0.005,
	0.01, 0.02, 0.05,
	0.1, 0.2, 0.5,
	1, 2, 5,
	10, 20, 30,
}
