// Package gateway is Keel's resilient reverse proxy: it applies the library's
// policies, from a YAML file (package gateway/config), to services written in
// any language.
//
// A request goes through the listener's middleware (recovery, trace context,
// access log, deadline), the router (an immutable route table swapped whole
// on reload), and its route's pipeline: feature-flag gate, admission
// (shedding, adaptive limit, rate limit), idempotency, stale-if-error cache
// and fallback, bulkhead, total and per-try timeouts, retries on another
// host with a budget, and the upstream pool (package gateway/upstream), which
// picks a host, asks its circuit breaker and records every outcome for
// outlier detection.
//
// Gateway is the running proxy: New builds it from a *config.Config, Serve
// runs the listeners, Reload swaps in a new configuration without dropping a
// request, and Shutdown drains. The admin listener serves /status,
// /metrics, /healthz and /readyz, and mutations guarded by a bearer token.
package gateway
