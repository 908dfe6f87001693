// Package chaos injects faults — latency, errors, connection resets, black
// holes and bandwidth limits — into operations and HTTP traffic, so that a
// test or an experiment can show how the rest of the system copes.
//
// An [Injector] holds a set of [Fault] values, changeable while it runs (Add,
// Remove, Replace, List), and applies them three ways:
//
//   - as a keel.Policy and keel.Executor, inside a keel.Chain (in-process
//     faults: latency, error, abort, timeout);
//   - as HTTP server middleware, [Injector.Middleware];
//   - as an HTTP client transport, [Injector.Transport].
//
// A Fault targets requests by chance (Percent, drawn from a seeded
// generator), by URL path prefix and by request headers, and may expire by
// itself (Until, Duration). Config.MaxActive caps how many requests carry a
// fault at once. With Config.Headers.Enabled, a request may ask for faults
// itself through X-Keel-Fault-* headers, after Envoy's fault filter.
//
// Randomness is seeded: the seed is logged when the Injector is created, and
// the same seed with the same sequence of requests injects the same faults.
//
// Package chaos/tcpproxy is the TCP-level counterpart: a fault proxy with a
// Toxiproxy-compatible control API.
package chaos
