// Command quickstart shows Keel's policies keeping a client's calls succeeding
// while the service behind it misbehaves.
//
// It starts a small price service on 127.0.0.1 that goes through four phases —
// healthy, flaky (a share of requests fail with 503), down, healthy again — and
// calls it at a steady rate through one chain of policies:
//
//	fallback → retry → circuit breaker → bulkhead → timeout → HTTP call
//
// At the end it prints what each policy did and how many calls the caller
// saw fail. Run it with:
//
//	go run ./examples/quickstart
package main
