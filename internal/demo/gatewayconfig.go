package demo

import (
	"fmt"
	"strings"
)

// gatewaySpec is what the gateway configuration depends on.
type gatewaySpec struct {
	listen, admin, token, dataDir string
	payments, recommendations     []string // host:port of each replica (or its proxy)
	seed                          uint64
	noResilience                  bool
}

// popularBody is the static fallback of the recommendations route: the
// most popular items, the same for everyone.
const popularBody = `{"user":"","version":"popular","replica":"gateway-fallback","items":[{"id":"item-0001","score":100},{"id":"item-0002","score":99},{"id":"item-0003","score":98},{"id":"item-0004","score":97},{"id":"item-0005","score":96}]}`

// gatewayConfig returns the keel.yaml of the demo's gateway.
func gatewayConfig(s gatewaySpec) string {
	if s.noResilience {
		return plainConfig(s)
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# keel demo: the gateway in front of payments and recommendations, using every principle.")
	w("listen: {address: %q, drain_timeout: 5s}", s.listen)
	w("admin: {address: %q, token: %q}", s.admin, s.token)
	w("telemetry: {access_log: false, log_format: text, log_level: warn, service_name: keel-demo}")
	w("admission:")
	w("  shed: {max_in_flight: 400, thresholds: {sheddable: 50%%, default: 80%%}, retry_after: 1s}")
	w("  rate_limit: {rate: 2000/s, burst: 2000}")
	w("flags:")
	w("  recommendations: {enabled: true, percent: 100%%, description: personalized recommendations (the fallback serves popular items when off)}")
	w("stores: {idempotency: \"bolt://idempotency.db\", data_dir: %q}", s.dataDir)
	w("chaos: {seed: %d}", s.seed)
	w("upstreams:")
	w("  payments:")
	w("    targets: [%s]", quoteList(s.payments))
	w("    balancer: peak_ewma")
	w("    connect_timeout: 250ms")
	w("    health_check: {path: /healthz, interval: 500ms, timeout: 250ms, healthy_threshold: 1, unhealthy_threshold: 2}")
	w("    outlier: {interval: 2s, consecutive_5xx: 3, consecutive_connect_failures: 2, base_ejection_time: 3s, max_ejection_time: 15s, max_ejection_percent: 34%%,")
	w("              latency: {factor: 5, min_requests: 10, min_hosts: 2, threshold: 200ms}}")
	w("    breaker: {failure_rate: 50%%, minimum_calls: 6, window: 12, slow_call: 250ms, slow_call_rate: 80%%, open_duration: 3s, half_open_permits: 2}")
	w("    bulkhead: {max_concurrent: 64, max_queue: 64, max_wait: 500ms}")
	w("  recommendations:")
	w("    targets: [%s]", quoteList(s.recommendations))
	w("    balancer: peak_ewma")
	w("    connect_timeout: 250ms")
	w("    health_check: {path: /healthz, interval: 1s, timeout: 250ms}")
	// The breaker acts before outlier ejection on a replica that answers
	// only errors: it opens after 16 failures in its last 20 calls (80%,
	// well above the 30% of the errors window), while ejection needs 30
	// 5xx in a row, which the failed half-open probes do not reach.
	w("    outlier: {interval: 2s, consecutive_5xx: 30, base_ejection_time: 2s, max_ejection_time: 10s}")
	w("    breaker: {failure_rate: 80%%, minimum_calls: 10, window: 20, open_duration: 2s, half_open_permits: 2}")
	w("    bulkhead: {max_concurrent: 64, max_queue: 32, max_wait: 100ms}")
	w("routes:")
	w("  - name: charges")
	w("    match: {path: /charges, methods: [POST]}")
	w("    upstream: payments")
	w("    timeout: 1800ms")
	w("    per_try_timeout: 300ms")
	w("    retry: {attempts: 4, on: [connect_failure, reset, timeout, \"502\", \"503\", \"504\"], backoff: 10ms, max_backoff: 100ms, budget: 20%%, min_retries_per_second: 20}")
	w("    idempotency: {methods: [POST], required: true, lease: 10s, retention: 1h, max_wait: 1500ms}")
	w("    bulkhead: {max_concurrent: 64, max_queue: 64, max_wait: 500ms}")
	w("    criticality: critical")
	w("  - name: recommendations")
	w("    match: {path: /recommendations, methods: [GET]}")
	w("    upstream: recommendations")
	w("    flag: recommendations")
	w("    timeout: 300ms")
	w("    per_try_timeout: 120ms")
	w("    retry: {attempts: 2, on: [connect_failure, reset, timeout, 5xx], backoff: 5ms, max_backoff: 20ms}")
	w("    hedge: {delay: 30ms, max: 2}")
	w("    cache: {ttl: 2s, max_stale: 10m, max_entries: 1000}")
	w("    fallback:")
	w("      status: 200")
	w("      body: '%s'", popularBody)
	w("      headers: {Cache-Control: no-store}")
	w("      on: [error, 5xx]")
	w("    bulkhead: {max_concurrent: 64, max_queue: 32, max_wait: 100ms}")
	w("    criticality: sheddable")
	return b.String()
}

// plainConfig is the gateway with Keel's policies off: a plain round-robin
// reverse proxy.
func plainConfig(s gatewaySpec) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# keel demo --no-resilience: the same gateway as a plain reverse proxy, every policy off.")
	w("listen: {address: %q, drain_timeout: 5s}", s.listen)
	w("admin: {address: %q, token: %q}", s.admin, s.token)
	w("telemetry: {access_log: false, log_format: text, log_level: warn, service_name: keel-demo}")
	w("stores: {data_dir: %q}", s.dataDir)
	w("chaos: {seed: %d}", s.seed)
	w("upstreams:")
	for _, u := range []struct {
		name    string
		targets []string
	}{{"payments", s.payments}, {"recommendations", s.recommendations}} {
		w("  %s:", u.name)
		w("    targets: [%s]", quoteList(u.targets))
		w("    balancer: round_robin")
		w("    outlier: {disabled: true}")
		w("    breaker: {disabled: true}")
	}
	w("routes:")
	w("  - name: charges")
	w("    match: {path: /charges, methods: [POST]}")
	w("    upstream: payments")
	w("    retry: {attempts: 1}")
	w("  - name: recommendations")
	w("    match: {path: /recommendations, methods: [GET]}")
	w("    upstream: recommendations")
	w("    retry: {attempts: 1}")
	return b.String()
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}
