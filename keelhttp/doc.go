// Package keelhttp applies Keel's policies to HTTP, on both sides of a call.
//
// # Client
//
// [Transport] is an http.RoundTripper that runs every request through a
// retry policy (package retry) and a circuit breaker per host (package
// breaker, through a breaker.Group):
//
//	t := keelhttp.MustNewTransport(keelhttp.TransportConfig{
//		Retry: retry.Config{MaxAttempts: 3, AttemptTimeout: 2 * time.Second},
//	})
//	client := &http.Client{Transport: t}
//
// It retries only what is safe to retry: idempotent methods, requests with an
// Idempotency-Key header (which it can add to POST and PATCH requests), and
// requests that provably never left because the connection could not be
// established. It replays bodies through GetBody or from a bounded buffer,
// honors Retry-After in both of its forms ([ParseRetryAfter]), drains and
// closes every response it discards, and when the retries run out it returns
// the last response, body and all, instead of an opaque error. Each attempt
// carries the time left in the [DeadlineHeader], the context's criticality in
// the [CriticalityHeader] and, through the Inject hook, the trace context.
//
// Optional overload protection: TransportConfig.Hedge sends backup attempts
// of slow requests that may be repeated (package hedge), with the same
// Idempotency-Key on every hedge; TransportConfig.Throttle (client-side
// adaptive throttling) and TransportConfig.Limit (an adaptive concurrency
// limit) guard each attempt (package limit).
//
// # Server
//
// [Middleware] wraps an http.Handler: it recovers panics into an RFC 9457
// problem+json 500, turns the [DeadlineHeader] into the request context's
// deadline, puts the [CriticalityHeader]'s class into the request context for
// a load shedder (package shed), admits requests through any keel.Policy (a
// bulkhead, a rate limiter, a shedder, an adaptive limiter) answering
// rejections with 503 or 429 and Retry-After, and writes
// one slog access-log line per request with a short response flag saying why
// a request failed ([FlagOverflow] "UO", [FlagRateLimited] "RL", …).
//
// # Errors to statuses
//
// [StatusOf] is the one place where errors become HTTP status codes, and
// [WriteError] writes them as problem+json; the middleware and the gateway
// both use them.
//
// # Telemetry
//
// The package imports no telemetry library. TransportConfig.Inject propagates
// trace context on the client; MiddlewareConfig.Start starts and ends a
// server span and MiddlewareConfig.TraceID puts the trace ID in the access
// log; the Observer fields pass policy events on to package telemetry.
package keelhttp
