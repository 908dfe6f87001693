// Command recommendations is a small, non-critical recommendations API, one
// of the two services that `keel demo` runs as real processes behind the
// gateway. It is what the gateway degrades gracefully: when it is slow or
// down, a fallback or a stale cached response is good enough.
//
// The server code is package service ([service.Run]), so that other programs
// can run a replica in-process; this command is a thin wrapper around it.
//
// Usage:
//
//	recommendations -addr 127.0.0.1:0 -name recommendations-1 -delay 5ms -version v1
//
// Flags:
//
//	-addr host:port            listen address (default 127.0.0.1:0)
//	-name recommendations-1    replica name, reported in every response
//	-version v1                model version: the items are a function of the user and the version
//	-delay 5ms                 time each request takes
//	-items 5                   items per response, 1 to 100
//	-chaos-headers             honor the X-Keel-Fault-* request headers
//	-seed 1                    seed of the chaos injector
//	-drain-delay 0             after SIGTERM, keep accepting (with /healthz 503) this long
//	-drain-timeout 10s         longest wait for requests in flight at shutdown
//	-access-log                log every request to standard error
//
// The first line on standard output is "listening <host:port>"; logs go to
// standard error. SIGTERM or SIGINT drains: /healthz answers 503, the
// listener closes after -drain-delay, requests in flight finish (for up to
// -drain-timeout) and the process exits 0.
//
// Endpoints:
//
//	GET /recommendations?user=u1  200 {"user","version","replica","items":[{"id":"item-0042","score":97},…]}
//	GET /healthz                  200 "ok", or 503 "draining" once shutdown has begun
//
// The items depend only on the user and -version (not on the replica), so
// every replica gives the same answer and a test can tell a fresh response
// from a stale one by its version. Each request waits -delay first (or until
// its context ends: 503 if the client left, 504 if its deadline passed).
// A missing or malformed user is 400.
//
// With -chaos-headers, requests may ask for faults with the X-Keel-Fault-*
// headers of package chaos (a delay, an error status, a throttled body); the
// demo injects most faults through the gateway instead.
package main
