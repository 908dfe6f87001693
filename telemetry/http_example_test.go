package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The whole HTTP wiring: a keelhttp client whose Transport sends trace
// context and measures each attempt, calling a keelhttp server whose
// Middleware starts server spans. The request is retried once; each server
// span is a child of the client's span.
func Example_keelhttp() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// Server: a flaky route behind the Middleware with the Start hook.
	hs := telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{TracerProvider: tp})
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "in stock")
	})
	mw := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{Start: hs.Start, TraceID: telemetry.TraceID})
	srv := httptest.NewServer(mw.Wrap(mux))
	defer srv.Close()

	// Client: Tracing around the call, the Transport's Inject and Base from
	// an HTTPClient.
	tracing := telemetry.MustNewTracing(telemetry.TracingConfig{
		TracerProvider: tp, Name: "items.get", Kind: trace.SpanKindClient,
	})
	hc := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{})
	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:     hc.RoundTripper(srv.Client().Transport),
		Inject:   hc.Inject,
		Observer: tracing,
		Retry:    retry.Config{Backoff: backoff.Constant(time.Millisecond)},
	})}
	_ = tracing.Do(context.Background(), func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/items/7", nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		fmt.Println(resp.Status, string(body))
		return err
	})
	srv.Close()

	var parent trace.SpanContext
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			parent = s.SpanContext
		}
	}
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindServer {
			code := ""
			for _, kv := range s.Attributes {
				if kv.Key == telemetry.AttrHTTPStatusCode {
					code = kv.Value.String()
				}
			}
			fmt.Printf("server span %q status %s, child of the client span: %v\n",
				s.Name, code, s.Parent.SpanID() == parent.SpanID() && s.SpanContext.TraceID() == parent.TraceID())
		}
	}
	// Output:
	// 200 OK in stock
	// server span "GET /items/{id}" status 503, child of the client span: true
	// server span "GET /items/{id}" status 200, child of the client span: true
}

// Inject writes the W3C traceparent of the context's span into the headers
// of each attempt.
func ExampleHTTPClient_Inject() {
	hc := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{})
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	h := http.Header{}
	hc.Inject(trace.ContextWithSpanContext(context.Background(), sc), h)
	fmt.Println("traceparent:", h.Get("traceparent"))
	// Output:
	// traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}

// RoundTripper measures every attempt a keelhttp Transport sends:
// a request retried once is two measurements of
// http.client.request.duration.
func ExampleHTTPClient_RoundTripper() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()

	hc := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{MeterProvider: mp})
	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Base:  hc.RoundTripper(srv.Client().Transport),
		Retry: retry.Config{Backoff: backoff.Constant(time.Millisecond)},
	})}
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	var lines []string
	for _, p := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Histogram[float64]).DataPoints {
		code, _ := p.Attributes.Value(telemetry.AttrHTTPStatusCode)
		errType, _ := p.Attributes.Value(telemetry.AttrErrorType)
		lines = append(lines, fmt.Sprintf("status %d error.type %q: %d", code.AsInt64(), errType.AsString(), p.Count))
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// status 200 error.type "": 1
	// status 502 error.type "502": 1
}

// Start and TraceID plug into keelhttp's Middleware: each request gets a
// server span, and its access-log line the trace ID.
func ExampleHTTPServer_Start() {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	hs := telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{TracerProvider: tp})

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration":
				return slog.Attr{}
			case "trace_id":
				return slog.Int("trace_id_len", len(a.Value.String()))
			}
			return a
		},
	}))
	mw := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
		Start:   hs.Start,
		TraceID: telemetry.TraceID,
		Logger:  logger,
	})
	h := mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("handler sees a span:", trace.SpanContextFromContext(r.Context()).IsValid())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/health", nil))
	// Output:
	// handler sees a span: true
	// level=INFO msg="http request" method=GET path=/health status=200 bytes=0 flag=- trace_id_len=32
}

// TraceID returns the 32 hex digits of the trace of the context's span.
func ExampleTraceID() {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	})
	fmt.Printf("%q\n", telemetry.TraceID(trace.ContextWithSpanContext(context.Background(), sc)))
	fmt.Printf("%q\n", telemetry.TraceID(context.Background()))
	// Output:
	// "4bf92f3577b34da6a3ce929d0e0e4736"
	// ""
}

// NewHTTPServer and NewHTTPClient can record into the Prometheus exporter's
// in-process histograms, like Metrics.
func ExampleNewHTTPServer() {
	prom := telemetry.MustNewPrometheus(telemetry.PrometheusConfig{})
	defer func() { _ = prom.Shutdown(context.Background()) }()
	hs := telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{
		MeterProvider: prom.MeterProvider(),
		Histograms:    prom.Histograms(),
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(http.ResponseWriter, *http.Request) {})
	h := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{Start: hs.Start}).Wrap(mux)
	for _, path := range []string{"/items/1", "/items/2", "/nothing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}

	rec := httptest.NewRecorder()
	prom.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var lines []string
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "http_server_request_duration_seconds_count") {
			lines = append(lines, strings.Replace(line, `otel_scope_name="github.com/keelhq/keel/telemetry",otel_scope_schema_url="",otel_scope_version="",`, "", 1))
		}
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/items/{id}",url_scheme="http"} 2
	// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="404",url_scheme="http"} 1
}
