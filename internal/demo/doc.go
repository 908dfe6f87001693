// Package demo runs `keel demo`: a small production system on 127.0.0.1,
// made of real processes, put under load and chaos, and a verdict at the end
// that says, with numbers, whether requests kept succeeding and whether any
// charge was lost or applied twice.
//
// # Topology
//
// [Run] starts, as child processes of the demo (re-executions of the keel
// binary, [Config.Command]):
//
//   - three payments replicas (package examples/payments/service) sharing one
//     ledger file (examples/payments/ledger.Shared), like replicas sharing a
//     database; the first one is reached through an in-process TCP fault
//     proxy (chaos/tcpproxy), so that its network can be cut;
//   - two recommendations replicas (examples/recommendations/service), a
//     non-critical API;
//   - the gateway (keel gateway) in front of both, with a configuration that
//     uses every principle: health checks, outlier ejection, per-host
//     breakers, retries on another host within a budget, per-try timeouts,
//     hedging, a stale-if-error cache and a fallback, bulkheads, criticality
//     shedding, a rate limit, a feature flag and idempotency keys.
//
// The replicas run under chaos/monkey's Processes supervisor. Every child is
// in its own process group (a Ctrl-C in the terminal reaches only the demo,
// which then stops them in order) and, on Linux, is killed by the kernel if
// the demo dies (Pdeathsig).
//
// # Load, chaos and verdict
//
// An in-process load generator sends charges (POST /charges, each with a new
// Idempotency-Key, through a keelhttp.Transport that retries with the same
// key) and recommendation reads at a steady rate. A seeded chaos schedule
// kills a payments replica with SIGKILL about every ten seconds and restarts
// it two to four seconds later (never leaving fewer than two alive), adds
// latency and then 503s to recommendations through the gateway's fault API,
// makes one recommendations replica answer every request with a 500 for a
// few seconds (a fault on that host alone, which opens its breaker), and
// black-holes the responses of one payments replica for a few seconds.
// Every action is posted to the gateway's timeline (POST /events), so the
// dashboard shows it.
//
// At the end the replicas are stopped and the shared ledger is audited
// against the charges the client saw acknowledged (ledger.Audit):
// duplicates (a key applied twice) and lost charges (acknowledged, not in
// the ledger) must both be zero, and charges must succeed at least
// [ChargeTarget] of the time.
//
// With [Config.NoResilience] the same topology and chaos run with Keel's
// policies off — no retries, breakers, outlier detection, health checks,
// hedging, cache, fallback or idempotency in the gateway, no deduplication
// in the payments replicas — while the client still retries, as clients
// do: failed requests and duplicate charges show up.
package demo
