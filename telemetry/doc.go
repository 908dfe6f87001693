// Package telemetry turns keel events into OpenTelemetry metrics and traces,
// Prometheus series and slog records. It is the only part of Keel that
// imports OpenTelemetry or Prometheus; the policies only emit keel.Event
// values to a keel.Observer.
//
// # Metrics
//
// [Metrics] is a keel.Observer that records into an OpenTelemetry
// MeterProvider (the global one unless MetricsConfig says otherwise):
//
//	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
//	br := breaker.MustNew(breaker.Config{Name: "payments", Observer: m})
//	m.RegisterBreaker(br) // keel.breaker.state reports from the first collection
//
// Durations are histograms in seconds with [DefaultBuckets] (100 µs to 30 s);
// the count of keel.call.duration, by keel.outcome, is the number of calls.
// Counters count rejections by reason, retries, exhausted retries, fallbacks,
// timeouts, abandoned operations, breaker transitions, requests shed by
// criticality (keel.shed) and hedges sent, won and suppressed. Observable
// gauges report the state of breakers, the occupancy of bulkheads and the
// limit and in-flight count of adaptive limiters (RegisterLimiter). Recording an
// event allocates nothing: the attribute sets of each policy instance are
// built once, on its first event.
//
// The duration histograms are the hot path (one point per call). Through the
// OpenTelemetry SDK a histogram measurement costs well over 100 ns; with
// MetricsConfig.Histograms set to a [Histograms], they are aggregated in
// process for about 30 ns and handed to the reader as an sdkmetric.Producer.
// [Prometheus] wires this up.
//
// # Traces
//
// [Tracing] is both a policy and an observer. Placed outermost in a chain it
// starts one span per call; given to the policies as their Observer it adds a
// span event to that span for each attempt ("keel.attempt": keel.attempt,
// keel.outcome, keel.duration, and for a rejected attempt keel.reason and,
// from a breaker, keel.state), each retry ("keel.retry": keel.attempt of the
// attempt about to start, keel.delay), each rejection ("keel.rejected":
// keel.reason), and for "keel.exhausted", "keel.timeout", "keel.fallback",
// "keel.state_change", "keel.abandoned", "keel.abandoned_exit" and
// "keel.acquired" (a bulkhead or limiter wait that was not zero). A call
// retried twice is one span with three "keel.attempt" events.
//
// Attempts are span events, not child spans, because the observer hears of
// an attempt only when it has ended: a span made then could not be the parent
// of the spans the operation itself starts (an HTTP client span, a database
// span), which would hang off the call span beside it and make the trace
// misleading. Events are also far cheaper. Put a span-starting
// instrumentation (otelhttp, for example) inside the operation for a span
// per attempt.
//
// # Prometheus
//
// [Prometheus] is an OpenTelemetry MeterProvider exported in the Prometheus
// text format, with its own prometheus.Registry, and an http.Handler for
// /metrics:
//
//	prom := telemetry.MustNewPrometheus(telemetry.PrometheusConfig{})
//	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{
//		MeterProvider: prom.MeterProvider(),
//		Histograms:    prom.Histograms(),
//	})
//	mux.Handle("GET /metrics", prom)
//
// # Logs
//
// [LogHandler] wraps a slog.Handler and adds trace_id and span_id from the
// record's context. [Logs] is a keel.Observer that logs rejections, breaker
// transitions, retries and other events as slog records.
//
// The names of every instrument, attribute and Prometheus series are listed
// in docs/telemetry.md.
package telemetry
