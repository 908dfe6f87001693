// Package upstream is the gateway's upstream pool: a set of replica hosts
// behind one name, with a load balancer, passive outlier detection, optional
// active health checks, a circuit breaker per host and a bulkhead per
// upstream. A [Pool] is an http.RoundTripper that sends each attempt to one
// host; retries belong to the caller (keelhttp.Transport calls RoundTrip once
// per attempt), and [WithAttemptTracker] lets a retry go to a host not tried
// yet.
//
// # Picking a host
//
// A host is available when active health checks (if any) find it healthy and
// outlier detection has not ejected it. Drained hosts, and hosts whose
// breaker refuses the attempt, are never picked; hosts already tried by the
// same request are picked only when nothing else is left. When fewer than
// Outlier.PanicThreshold of the hosts that are not drained are available,
// the pool is in panic mode and balances over all of them, as Envoy does.
//
// The balancers are:
//
//   - "peak_ewma" (the default): power of two choices on
//     ewma_rtt × (active + 1), with Finagle's and Linkerd's peak EWMA: the
//     time to response headers decays with time constant EWMADecay (10s),
//     jumps at once to any higher value, starts at EWMADefaultRTT (30ms)
//     (at zero after an ejection); after a connection error, 429 or 503 the
//     host is avoided for FailurePenalty (1s), so a host that fails fast
//     does not attract traffic, and then probed again.
//   - "least_request": power of two choices on active requests (Envoy).
//   - "round_robin".
//
// The pick reads an immutable snapshot of the host set and per-host atomics
// only: no lock is shared by all hosts, and it does not allocate.
//
// # Outcomes
//
// Each attempt's outcome is recorded once, at the response headers: a status
// of 500 or above is a 5xx failure; a dial error, or a reset, EOF or other
// transport error before the headers is a local-origin failure; an error
// after the caller's own context ended counts for nothing. The outcome feeds
// the host's breaker, outlier counters, EWMA and request counters.
//
// # Outlier detection
//
// On by default (Outlier.Disabled turns it off), with Envoy's rules and
// defaults: Consecutive5xx (5) or ConsecutiveConnectFailures (3) in a row
// eject a host; optional success-rate ejection (mean − 1.9·stdev, at least 5
// hosts with 100 requests each per interval) and latency ejection (a host
// whose mean time to headers over the interval exceeds both 3 × the median
// of the others' and 50ms; at least 2 hosts with 20 responses each). The
// n-th consecutive ejection lasts n × BaseEjectionTime (30s), capped at
// MaxEjectionTime (300s); n drops by one each Interval (10s) the host stays
// admitted. At most MaxEjectionPercent (50%) of the hosts are ejected at
// once, but one host may always be.
//
// # Events and status
//
// Host changes (added, removed, ejected, readmitted, healthy, unhealthy,
// drained, undrained) go to Config.OnEvent, outside any lock; Pool.Status
// returns a JSON-ready snapshot for the admin API.
package upstream
