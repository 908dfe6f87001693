package telemetry_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/telemetry"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Metrics records the events of a breaker into an OpenTelemetry
// MeterProvider. The count of keel.call.duration is the number of calls.
func ExampleNewMetrics() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
	br := breaker.MustNew(breaker.Config{Name: "payments", Observer: m})
	for _, err := range []error{nil, nil, errors.New("503")} {
		_ = br.Do(context.Background(), func(context.Context) error { return err })
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if metric.Name != telemetry.MetricCallDuration {
				continue
			}
			var lines []string
			for _, p := range metric.Data.(metricdata.Histogram[float64]).DataPoints {
				outcome, _ := p.Attributes.Value(telemetry.AttrOutcome)
				lines = append(lines, fmt.Sprintf("%s %s: %d", metric.Name, outcome.AsString(), p.Count))
			}
			slices.Sort(lines)
			fmt.Println(strings.Join(lines, "\n"))
		}
	}
	// Output:
	// keel.call.duration failure: 1
	// keel.call.duration success: 2
}

// A registered breaker reports its state from the first collection, before
// any call or transition.
func ExampleMetrics_RegisterBreaker() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
	br := breaker.MustNew(breaker.Config{Name: "payments", Observer: m})
	m.RegisterBreaker(br)

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if metric.Name != telemetry.MetricBreakerState {
				continue
			}
			for _, p := range metric.Data.(metricdata.Gauge[int64]).DataPoints {
				if p.Value == 1 {
					name, _ := p.Attributes.Value(telemetry.AttrName)
					state, _ := p.Attributes.Value(telemetry.AttrState)
					fmt.Println(name.AsString(), state.AsString())
				}
			}
		}
	}
	// Output:
	// payments closed
}

// In-process histograms reach a reader as a producer.
func ExampleNewHistograms() {
	hs := telemetry.NewHistograms()
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(hs))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp, Histograms: hs})
	m.Observe(context.Background(), keel.Event{Kind: keel.EventSuccess, Policy: "breaker", Name: "db", Duration: 3 * time.Millisecond})

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if h, ok := metric.Data.(metricdata.Histogram[float64]); ok {
				fmt.Printf("%s: count %d, sum %gs\n", metric.Name, h.DataPoints[0].Count, h.DataPoints[0].Sum)
			}
		}
	}
	// Output:
	// keel.call.duration: count 1, sum 0.003s
}

// Tracing placed outermost starts one span per call; as the retry's observer
// it adds an event per attempt and per retry to that span.
func ExampleNewTracing() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	tr := telemetry.MustNewTracing(telemetry.TracingConfig{Name: "inventory.get", TracerProvider: tp})
	rt := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(time.Millisecond), Observer: tr})
	calls := 0
	err := keel.Chain(tr, rt).Do(context.Background(), func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println("error:", err)

	for _, s := range exp.GetSpans() {
		fmt.Println("span", s.Name)
		for _, e := range s.Events {
			attrs := attribute.NewSet(e.Attributes...)
			attempt, _ := attrs.Value(telemetry.AttrAttempt)
			outcome, _ := attrs.Value(telemetry.AttrOutcome)
			fmt.Println(strings.TrimSpace(fmt.Sprintln("  ", e.Name, attempt.String(), outcome.String())))
		}
	}
	// Output:
	// error: <nil>
	// span inventory.get
	// keel.attempt 1 failure
	// keel.retry 2
	// keel.attempt 2 failure
	// keel.retry 3
	// keel.attempt 3 success
}

// Prometheus serves the metrics of its MeterProvider on /metrics, from a
// registry of its own.
func ExampleNewPrometheus() {
	prom := telemetry.MustNewPrometheus(telemetry.PrometheusConfig{
		Resource: resource.NewSchemaless(attribute.String("service.name", "checkout")),
	})
	defer func() { _ = prom.Shutdown(context.Background()) }()
	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{
		MeterProvider: prom.MeterProvider(),
		Histograms:    prom.Histograms(),
	})

	br := breaker.MustNew(breaker.Config{Name: "payments", Observer: m})
	_ = br.Do(context.Background(), func(context.Context) error { return nil })
	br.ForceOpen()
	_ = br.Do(context.Background(), func(context.Context) error { return nil })

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", prom)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))

	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE keel_") || strings.HasPrefix(line, "keel_rejections_total") ||
			strings.HasPrefix(line, "keel_call_duration_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// # TYPE keel_breaker_state gauge
	// # TYPE keel_breaker_transitions_total counter
	// # TYPE keel_call_duration_seconds histogram
	// keel_call_duration_seconds_count{keel_name="payments",keel_outcome="success",keel_policy="breaker",otel_scope_name="github.com/keelhq/keel/telemetry",otel_scope_schema_url="",otel_scope_version=""} 1
	// # TYPE keel_rejections_total counter
	// keel_rejections_total{keel_name="payments",keel_policy="breaker",keel_reason="circuit_open",otel_scope_name="github.com/keelhq/keel/telemetry",otel_scope_schema_url="",otel_scope_version=""} 1
}

// LogHandler adds the trace of the record's context.
func ExampleNewLogHandler() {
	text := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime})
	logger := slog.New(telemetry.NewLogHandler(text))

	// A span context as a tracer (or an incoming traceparent) would set it.
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	}))
	logger.InfoContext(ctx, "order placed", "order", 42)
	logger.InfoContext(context.Background(), "no trace here")
	// Output:
	// level=INFO msg="order placed" order=42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7
	// level=INFO msg="no trace here"
}

// Logs writes rejections and breaker transitions as log records.
func ExampleNewLogs() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	logs := telemetry.MustNewLogs(telemetry.LogConfig{Logger: logger})

	br := breaker.MustNew(breaker.Config{Name: "payments", Observer: logs})
	br.ForceOpen()
	_ = br.Do(context.Background(), func(context.Context) error { return nil })
	// Output:
	// level=WARN msg="keel: state_change" keel.policy=breaker keel.name=payments keel.from=closed keel.to=forced_open
	// level=WARN msg="keel: rejected" keel.policy=breaker keel.name=payments keel.reason=circuit_open
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// A registered bulkhead's occupancy is read at each collection.
func ExampleMetrics_RegisterBulkhead() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	m := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
	bh := bulkhead.MustNew(bulkhead.Config{Name: "db", MaxConcurrent: 4})
	unregister := m.RegisterBulkhead("db", bh)
	defer unregister()

	p, _ := bh.Acquire(context.Background())
	defer p.Release()

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if g, ok := metric.Data.(metricdata.Gauge[int64]); ok {
				fmt.Println(metric.Name, g.DataPoints[0].Value)
			}
		}
	}
	// Unordered output:
	// keel.bulkhead.in_flight 1
	// keel.bulkhead.queued 0
}
