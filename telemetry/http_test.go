package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// httpTelemetry is everything one HTTP test records into.
type httpTelemetry struct {
	tp      *sdktrace.TracerProvider
	spans   *tracetest.InMemoryExporter
	mp      *sdkmetric.MeterProvider
	reader  *sdkmetric.ManualReader
	hists   *telemetry.Histograms // nil: the SDK's histograms
	client  *telemetry.HTTPClient
	server  *telemetry.HTTPServer
	tracing *telemetry.Tracing
}

func newHTTPTelemetry(t testing.TB, local bool) *httpTelemetry {
	t.Helper()
	ht := &httpTelemetry{spans: tracetest.NewInMemoryExporter()}
	var opts []sdkmetric.ManualReaderOption
	if local {
		ht.hists = telemetry.NewHistograms()
		opts = append(opts, sdkmetric.WithProducer(ht.hists))
	}
	ht.reader = sdkmetric.NewManualReader(opts...)
	ht.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(ht.reader))
	ht.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(ht.spans))
	t.Cleanup(func() {
		_ = ht.mp.Shutdown(context.Background())
		_ = ht.tp.Shutdown(context.Background())
	})
	ht.client = telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{MeterProvider: ht.mp, Histograms: ht.hists})
	ht.server = telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{
		TracerProvider: ht.tp, MeterProvider: ht.mp, Histograms: ht.hists,
	})
	ht.tracing = telemetry.MustNewTracing(telemetry.TracingConfig{
		TracerProvider: ht.tp, Name: "inventory.get", Kind: trace.SpanKindClient,
	})
	return ht
}

// spansByKind returns the ended spans of one kind.
func (ht *httpTelemetry) spansByKind(kind trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range ht.spans.GetSpans() {
		if s.SpanKind == kind {
			out = append(out, s)
		}
	}
	return out
}

func spanAttrs(kvs []attribute.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// A GET retried twice through keelhttp's Transport, inside a Tracing span,
// to a real server on 127.0.0.1 behind keelhttp's Middleware: one client
// span with three attempt events; three server spans, children of the
// client span across the wire; access-log lines with its trace ID; and both
// HTTP duration histograms with the right counts and attributes.
func TestHTTPEndToEnd(t *testing.T) {
	modes(t, func(t *testing.T, local bool) {
		ht := newHTTPTelemetry(t, local)
		var logs bytes.Buffer
		var calls atomic.Int32
		mux := http.NewServeMux()
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, _ *http.Request) {
			if calls.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "in stock")
		})
		mw := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
			Start:   ht.server.Start,
			TraceID: telemetry.TraceID,
			Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
		})
		srv := httptest.NewServer(mw.Wrap(mux))
		defer srv.Close()

		tr := keelhttp.MustNewTransport(keelhttp.TransportConfig{
			Name:     "inventory",
			Base:     ht.client.RoundTripper(srv.Client().Transport),
			Inject:   ht.client.Inject,
			Observer: ht.tracing,
			Retry:    retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(time.Millisecond)},
		})
		client := &http.Client{Transport: tr}
		var body string
		err := ht.tracing.Do(context.Background(), func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/items/7", nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer func() { _ = resp.Body.Close() }()
			b, err := io.ReadAll(resp.Body)
			body = string(b)
			return err
		})
		srv.Close() // waits for the handlers, and so for the server spans to end
		if err != nil || body != "in stock" {
			t.Fatalf("GET /items/7: got %q, %v; want %q, nil", body, err, "in stock")
		}

		// The client span: one, with three attempts and two retries.
		clients := ht.spansByKind(trace.SpanKindClient)
		if len(clients) != 1 {
			t.Fatalf("client spans: got %d, want 1", len(clients))
		}
		cs := clients[0]
		var attempts []string
		retries := 0
		for _, e := range cs.Events {
			switch e.Name {
			case "keel.attempt":
				attempts = append(attempts, spanAttrs(e.Attributes)["keel.outcome"])
			case "keel.retry":
				retries++
			}
		}
		if diff := cmp.Diff([]string{"failure", "failure", "success"}, attempts); diff != "" {
			t.Errorf("outcomes of the client span's keel.attempt events (-want +got):\n%s", diff)
		}
		if retries != 2 {
			t.Errorf("keel.retry events: got %d, want 2", retries)
		}

		// Three server spans, children of the client span through traceparent.
		servers := ht.spansByKind(trace.SpanKindServer)
		if len(servers) != 3 {
			t.Fatalf("server spans: got %d, want 3", len(servers))
		}
		type serverSpan struct {
			Name, Status, Code string
			SameTrace, Child   bool
			Remote             bool
		}
		var got []serverSpan
		for _, s := range servers {
			got = append(got, serverSpan{
				Name:      s.Name,
				Status:    s.Status.Code.String(),
				Code:      spanAttrs(s.Attributes)["http.response.status_code"],
				SameTrace: s.SpanContext.TraceID() == cs.SpanContext.TraceID(),
				Child:     s.Parent.SpanID() == cs.SpanContext.SpanID(),
				Remote:    s.Parent.IsRemote(),
			})
		}
		want := []serverSpan{
			{"GET /items/{id}", "Error", "503", true, true, true},
			{"GET /items/{id}", "Error", "503", true, true, true},
			{"GET /items/{id}", "Unset", "200", true, true, true},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("server spans (-want +got):\n%s", diff)
		}
		if a := spanAttrs(servers[2].Attributes); a["http.route"] != "/items/{id}" || a["url.path"] != "/items/7" {
			t.Errorf("server span attributes: got http.route=%q url.path=%q, want /items/{id} and /items/7", a["http.route"], a["url.path"])
		}

		// The access log carries the trace ID of the client's span.
		var traceIDs []string
		for _, l := range decode(t, &logs) {
			id, _ := l["trace_id"].(string)
			traceIDs = append(traceIDs, id)
		}
		wantID := cs.SpanContext.TraceID().String()
		if diff := cmp.Diff([]string{wantID, wantID, wantID}, traceIDs); diff != "" {
			t.Errorf("trace_id of the access-log lines (-want +got):\n%s", diff)
		}

		// Both histograms: per attempt on the client, per request on the server.
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		ms := collect(t, ht.reader)
		gotClient := points(t, ms[telemetry.MetricHTTPClientDuration])
		wantClient := map[string]float64{
			fmt.Sprintf("error.type=503,http.request.method=GET,http.response.status_code=503,server.address=127.0.0.1,server.port=%d", port): 2,
			fmt.Sprintf("http.request.method=GET,http.response.status_code=200,server.address=127.0.0.1,server.port=%d", port):                1,
		}
		if diff := cmp.Diff(wantClient, gotClient); diff != "" {
			t.Errorf("%s counts (-want +got):\n%s", telemetry.MetricHTTPClientDuration, diff)
		}
		gotServer := points(t, ms[telemetry.MetricHTTPServerDuration])
		wantServer := map[string]float64{
			"error.type=503,http.request.method=GET,http.response.status_code=503,http.route=/items/{id},url.scheme=http": 2,
			"http.request.method=GET,http.response.status_code=200,http.route=/items/{id},url.scheme=http":                1,
		}
		if diff := cmp.Diff(wantServer, gotServer); diff != "" {
			t.Errorf("%s counts (-want +got):\n%s", telemetry.MetricHTTPServerDuration, diff)
		}
		if u := ms[telemetry.MetricHTTPServerDuration].Unit; u != "s" {
			t.Errorf("%s unit: got %q, want s", telemetry.MetricHTTPServerDuration, u)
		}
	})
}

// passThrough is an admission policy that hands the handler a new context,
// so the middleware serves a copy of the request.
var passThrough = keel.PolicyFunc(func(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return next(context.WithoutCancel(ctx), op)
	}
})

// TestHTTPServerSpans checks the server span and the duration measurement
// of Start for each way a request can end.
func TestHTTPServerSpans(t *testing.T) {
	type result struct {
		Name, Status string
		Attrs        map[string]string // of the span, at the end
		Metric       string            // attributes of the one measurement
		Exception    bool              // the span recorded an error
	}
	routes := func(mux *http.ServeMux) {
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
			switch r.PathValue("id") {
			case "500":
				w.WriteHeader(http.StatusInternalServerError)
			case "panic":
				panic("boom")
			case "late-panic":
				_, _ = io.WriteString(w, "partial")
				panic("boom")
			}
		})
		mux.HandleFunc("/any", func(http.ResponseWriter, *http.Request) {})
	}
	limited := keel.PolicyFunc(func(keel.Handler) keel.Handler {
		return func(context.Context, func(context.Context) error) error { return ratelimit.ErrLimited }
	})
	for _, tc := range []struct {
		name      string
		method    string
		target    string
		inside    bool // the middleware wraps each route, so the route is known at Start
		admission keel.Policy
		want      result
	}{
		{"ok", "GET", "/items/1", false, nil, result{
			Name: "GET /items/{id}", Status: "Unset",
			Attrs:  map[string]string{"http.response.status_code": "200", "http.route": "/items/{id}"},
			Metric: "http.request.method=GET,http.response.status_code=200,http.route=/items/{id},url.scheme=http",
		}},
		{"ok/route at start", "GET", "/items/1", true, nil, result{
			Name: "GET /items/{id}", Status: "Unset",
			Attrs:  map[string]string{"http.response.status_code": "200", "http.route": "/items/{id}"},
			Metric: "http.request.method=GET,http.response.status_code=200,http.route=/items/{id},url.scheme=http",
		}},
		{"ok/admission copy", "GET", "/items/1", false, passThrough, result{
			Name: "GET /items/{id}", Status: "Unset",
			Attrs:  map[string]string{"http.response.status_code": "200", "http.route": "/items/{id}"},
			Metric: "http.request.method=GET,http.response.status_code=200,http.route=/items/{id},url.scheme=http",
		}},
		{"500", "GET", "/items/500", false, nil, result{
			Name: "GET /items/{id}", Status: "Error",
			Attrs:  map[string]string{"http.response.status_code": "500", "http.route": "/items/{id}", "error.type": "500"},
			Metric: "error.type=500,http.request.method=GET,http.response.status_code=500,http.route=/items/{id},url.scheme=http",
		}},
		{"panic", "GET", "/items/panic", false, nil, result{
			Name: "GET /items/{id}", Status: "Error", Exception: true,
			Attrs: map[string]string{"http.response.status_code": "500", "http.route": "/items/{id}", "error.type": "500",
				"keel.response_flag": "PANIC"},
			Metric: "error.type=500,http.request.method=GET,http.response.status_code=500,http.route=/items/{id},url.scheme=http",
		}},
		{"panic after the response started", "GET", "/items/late-panic", false, nil, result{
			Name: "GET /items/{id}", Status: "Error", Exception: true,
			Attrs: map[string]string{"http.response.status_code": "200", "http.route": "/items/{id}", "error.type": "PANIC",
				"keel.response_flag": "PANIC"},
			Metric: "error.type=PANIC,http.request.method=GET,http.response.status_code=200,http.route=/items/{id},url.scheme=http",
		}},
		{"rate limited: not a server error", "GET", "/items/1", false, limited, result{
			Name: "GET", Status: "Unset", Exception: true,
			Attrs:  map[string]string{"http.response.status_code": "429", "keel.response_flag": "RL"},
			Metric: "http.request.method=GET,http.response.status_code=429,url.scheme=http",
		}},
		{"no route", "GET", "/nothing", false, nil, result{
			Name: "GET", Status: "Unset",
			Attrs:  map[string]string{"http.response.status_code": "404"},
			Metric: "http.request.method=GET,http.response.status_code=404,url.scheme=http",
		}},
		{"unknown method", "PURGE", "/any", false, nil, result{
			Name: "HTTP /any", Status: "Unset",
			Attrs:  map[string]string{"http.response.status_code": "200", "http.route": "/any"},
			Metric: "http.request.method=_OTHER,http.response.status_code=200,http.route=/any,url.scheme=http",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ht := newHTTPTelemetry(t, false)
			cfg := keelhttp.MiddlewareConfig{Start: ht.server.Start, Admission: tc.admission}
			mux := http.NewServeMux()
			var h http.Handler = mux
			if tc.inside {
				inner := http.NewServeMux()
				routes(inner)
				mw := keelhttp.MustNewMiddleware(cfg)
				mux.Handle("GET /items/{id}", mw.Wrap(inner))
			} else {
				routes(mux)
				h = keelhttp.MustNewMiddleware(cfg).Wrap(mux)
			}
			func() {
				defer func() { _ = recover() }() // http.ErrAbortHandler of the late panic
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.target, nil))
			}()
			spans := ht.spans.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("spans: got %d, want 1", len(spans))
			}
			s := spans[0]
			attrs := spanAttrs(s.Attributes)
			got := result{Name: s.Name, Status: s.Status.Code.String(), Attrs: map[string]string{}}
			for _, k := range []string{"http.response.status_code", "http.route", "error.type", "keel.response_flag"} {
				if v, ok := attrs[k]; ok {
					got.Attrs[k] = v
				}
			}
			for _, e := range s.Events {
				got.Exception = got.Exception || e.Name == "exception"
			}
			for k, v := range points(t, collect(t, ht.reader)[telemetry.MetricHTTPServerDuration]) {
				if v != 1 {
					t.Errorf("measurement %s: got count %v, want 1", k, v)
				}
				got.Metric = k
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tc.method, tc.target, diff)
			}
			if s.SpanKind != trace.SpanKindServer {
				t.Errorf("span kind: got %v, want server", s.SpanKind)
			}
			if tc.method == "PURGE" && (attrs["http.request.method"] != "_OTHER" || attrs["http.request.method_original"] != "PURGE") {
				t.Errorf("method attributes: got %q and original %q, want _OTHER and PURGE",
					attrs["http.request.method"], attrs["http.request.method_original"])
			}
			if attrs["http.request.method"] != tc.method && tc.method != "PURGE" || attrs["url.path"] != tc.target ||
				attrs["url.scheme"] != "http" || attrs["server.address"] != "example.com" || attrs["network.protocol.version"] != "1.1" {
				t.Errorf("start attributes: got %v", attrs)
			}
		})
	}
}

// A request without a traceparent header gets a root span; one with a
// sampled traceparent gets a child of the remote parent.
func TestHTTPServerExtract(t *testing.T) {
	ht := newHTTPTelemetry(t, false)
	h := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{Start: ht.server.Start}).
		Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tp := range []string{"", parent} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tp != "" {
			r.Header.Set("Traceparent", tp)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	spans := ht.spans.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("spans: got %d, want 2", len(spans))
	}
	if spans[0].Parent.IsValid() {
		t.Errorf("span without traceparent: got parent %v, want none", spans[0].Parent)
	}
	got := fmt.Sprintf("%s %s remote=%v", spans[1].SpanContext.TraceID(), spans[1].Parent.SpanID(), spans[1].Parent.IsRemote())
	if want := "4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 remote=true"; got != want {
		t.Errorf("span with traceparent: got %s, want %s", got, want)
	}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHTTPClientRoundTripper(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name   string
		url    string
		status int
		err    error
		want   string
	}{
		{"200", "http://api.example.com/x", 200, nil,
			"http.request.method=GET,http.response.status_code=200,server.address=api.example.com,server.port=80"},
		{"404 https", "https://api.example.com/x", 404, nil,
			"error.type=404,http.request.method=GET,http.response.status_code=404,server.address=api.example.com,server.port=443"},
		{"503 port", "http://10.0.0.1:8080/x", 503, nil,
			"error.type=503,http.request.method=GET,http.response.status_code=503,server.address=10.0.0.1,server.port=8080"},
		{"ipv6", "http://[::1]:9/x", 204, nil,
			"http.request.method=GET,http.response.status_code=204,server.address=::1,server.port=9"},
		{"dial", "http://h/x", 0, dialErr, "error.type=connect,http.request.method=GET,server.address=h,server.port=80"},
		{"timeout", "http://h/x", 0, fmt.Errorf("read: %w", context.DeadlineExceeded),
			"error.type=timeout,http.request.method=GET,server.address=h,server.port=80"},
		{"canceled", "http://h/x", 0, context.Canceled, "error.type=canceled,http.request.method=GET,server.address=h,server.port=80"},
		{"reset", "http://h/x", 0, &net.OpError{Op: "read", Err: syscall.ECONNRESET},
			"error.type=connection_reset,http.request.method=GET,server.address=h,server.port=80"},
		{"other", "http://h/x", 0, errors.New("tls: bad certificate"),
			"error.type=_OTHER,http.request.method=GET,server.address=h,server.port=80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			modes(t, func(t *testing.T, local bool) {
				ht := newHTTPTelemetry(t, local)
				rt := ht.client.RoundTripper(roundTripFunc(func(r *http.Request) (*http.Response, error) {
					if tc.err != nil {
						return nil, tc.err
					}
					return &http.Response{StatusCode: tc.status, Body: http.NoBody, Request: r}, nil
				}))
				resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, tc.url, nil))
				if !errors.Is(err, tc.err) {
					t.Errorf("RoundTrip error: got %v, want %v", err, tc.err)
				}
				if resp != nil {
					_ = resp.Body.Close()
				}
				got := points(t, collect(t, ht.reader)[telemetry.MetricHTTPClientDuration])
				if diff := cmp.Diff(map[string]float64{tc.want: 1}, got); diff != "" {
					t.Errorf("measurements (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Past the series limit, new attribute combinations are recorded as one
// overflow series instead of growing without bound.
func TestHTTPClientSeriesLimit(t *testing.T) {
	ht := newHTTPTelemetry(t, true)
	rt := ht.client.RoundTripper(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	const n = 2000 + 5
	for i := range n {
		resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, fmt.Sprintf("http://h:%d/", i+1), nil))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	got := points(t, collect(t, ht.reader)[telemetry.MetricHTTPClientDuration])
	if len(got) != 2001 || got["otel.metric.overflow=true"] != 5 {
		t.Errorf("got %d series, overflow count %v; want 2001 series, overflow count 5", len(got), got["otel.metric.overflow=true"])
	}
}

func TestHTTPClientInject(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ts, err := trace.ParseTraceState("vendor=abc")
	if err != nil {
		t.Fatal(err)
	}
	withState := trace.ContextWithSpanContext(context.Background(), sc.WithTraceState(ts))
	for _, tc := range []struct {
		name string
		prop propagation.TextMapPropagator
		ctx  context.Context
		want http.Header
	}{
		{"default", nil, trace.ContextWithSpanContext(context.Background(), sc),
			http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}},
		{"tracestate", nil, withState, http.Header{
			"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			"Tracestate":  {"vendor=abc"},
		}},
		{"no span", nil, context.Background(), http.Header{}},
		{"configured", propagation.Baggage{}, withState, http.Header{}}, // baggage only: no traceparent
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{Propagator: tc.prop})
			h := http.Header{}
			c.Inject(tc.ctx, h)
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

// A nil Propagator means the global one once the program has set it, and
// propagation.TraceContext{} until then.
func TestHTTPPropagatorDefault(t *testing.T) {
	// Back to a propagator with no fields, which is what the default global
	// one is, so later tests see the default again.
	defer otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	}))
	ctx = baggage.ContextWithBaggage(ctx, mustBaggage(t, "tenant=acme"))
	keys := func(c *telemetry.HTTPClient) []string {
		h := http.Header{}
		c.Inject(ctx, h)
		return slices.Sorted(maps.Keys(h))
	}
	before := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{})
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	after := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{})
	got := [][]string{keys(before), keys(after)}
	want := [][]string{{"Traceparent"}, {"Baggage", "Traceparent"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers injected before and after otel.SetTextMapPropagator (-want +got):\n%s", diff)
	}
}

func mustBaggage(t *testing.T, s string) baggage.Baggage {
	t.Helper()
	b, err := baggage.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTraceID(t *testing.T) {
	ht := newHTTPTelemetry(t, false)
	if got := telemetry.TraceID(context.Background()); got != "" {
		t.Errorf("TraceID without a span: got %q, want \"\"", got)
	}
	ctx, span := ht.tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	if got, want := telemetry.TraceID(ctx), span.SpanContext().TraceID().String(); got != want || len(got) != 32 {
		t.Errorf("TraceID: got %q, want %q", got, want)
	}
}

func TestHTTPConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"client ok", (&telemetry.HTTPClientConfig{Buckets: []float64{0.1, 1}}).Validate(), ""},
		{"client", (&telemetry.HTTPClientConfig{Buckets: []float64{1, 1}}).Validate(),
			"telemetry: HTTPClientConfig.Buckets[1] is 1, want > HTTPClientConfig.Buckets[0] (1)"},
		{"server", (&telemetry.HTTPServerConfig{Buckets: []float64{-1}}).Validate(),
			"telemetry: HTTPServerConfig.Buckets[0] is -1, want > 0"},
	} {
		got := ""
		if tc.err != nil {
			got = tc.err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := telemetry.NewHTTPServer(telemetry.HTTPServerConfig{Buckets: []float64{0}}); err == nil {
		t.Error("NewHTTPServer with a zero bucket: got nil error")
	}
	if _, err := telemetry.NewHTTPClient(telemetry.HTTPClientConfig{Buckets: []float64{1, 0.5}}); err == nil {
		t.Error("NewHTTPClient with decreasing buckets: got nil error")
	}
}

// With in-process histograms, measuring an attempt allocates nothing once
// its attribute combination has been seen.
func TestHTTPClientAllocs(t *testing.T) {
	ht := newHTTPTelemetry(t, true)
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	rt := ht.client.RoundTripper(roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil }))
	req := httptest.NewRequest(http.MethodGet, "http://api.example.com:8080/x", nil)
	roundTrip := func() {
		resp, _ := rt.RoundTrip(req)
		_ = resp.Body.Close()
	}
	roundTrip()
	if n := testing.AllocsPerRun(1000, roundTrip); n != 0 {
		t.Errorf("allocations per attempt: got %v, want 0", n)
	}
}

// The server hook allocates only what the tracing API needs: with the global
// no-op tracer provider (tracing off), the span and the context holding it
// (three) and the start attributes (two). The end function, the span name
// and the measurement allocate nothing.
func TestHTTPServerAllocs(t *testing.T) {
	hs := telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{Histograms: telemetry.NewHistograms()})
	r := httptest.NewRequest(http.MethodGet, "/items/7", nil)
	r.Pattern = "GET /items/{id}"
	info := keelhttp.RequestInfo{Method: "GET", Path: "/items/7", Pattern: r.Pattern, Status: 200, Duration: time.Millisecond}
	_, end := hs.Start(r)
	end(info)
	const want = 5
	if n := testing.AllocsPerRun(1000, func() { _, end := hs.Start(r); end(info) }); n > want {
		t.Errorf("allocations per request: got %v, want at most %d", n, want)
	}
}

// With a noop TracerProvider the server starts no span, yet the caller's
// trace context is extracted into the request's context, the duration is
// recorded, and a request without a traceparent allocates nothing.
func TestHTTPServerNoopTracer(t *testing.T) {
	for _, cfg := range []telemetry.HTTPServerConfig{
		{TracerProvider: noop.NewTracerProvider()},
		{DisableSpans: true},
	} {
		testHTTPServerNoSpans(t, cfg)
	}
}

func testHTTPServerNoSpans(t *testing.T, cfg telemetry.HTTPServerConfig) {
	hists := telemetry.NewHistograms()
	cfg.Histograms = hists
	hs := telemetry.MustNewHTTPServer(cfg)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := httptest.NewRequest(http.MethodGet, "/items/7", nil)
	r.Header.Set("Traceparent", parent)
	ctx, end := hs.Start(r)
	sc := trace.SpanContextFromContext(ctx)
	if got, want := fmt.Sprintf("%s %s remote=%v", sc.TraceID(), sc.SpanID(), sc.IsRemote()),
		"4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 remote=true"; got != want {
		t.Errorf("span context: got %s, want %s", got, want)
	}
	if trace.SpanFromContext(ctx).IsRecording() {
		t.Error("a span is recording with the noop provider")
	}
	end(keelhttp.RequestInfo{Method: "GET", Status: 200, Duration: time.Millisecond})
	sms, err := hists.Produce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var count uint64
	for _, sm := range sms {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				for _, dp := range h.DataPoints {
					count += dp.Count
				}
			}
		}
	}
	if count != 1 {
		t.Errorf("requests recorded in the duration histogram: got %d, want 1", count)
	}
	r.Header.Del("Traceparent")
	info := keelhttp.RequestInfo{Method: "GET", Status: 200, Duration: time.Millisecond}
	const want = 0
	if n := testing.AllocsPerRun(1000, func() { _, end := hs.Start(r); end(info) }); n > want {
		t.Errorf("allocations per request: got %v, want at most %d", n, want)
	}
}

// httpScrapeWorkload sends requests through an HTTPClient and an HTTPServer
// recording into prom, in process: the server's Middleware is the client's
// base RoundTripper.
func httpScrapeWorkload(t *testing.T, prom *telemetry.Prometheus) {
	t.Helper()
	hc := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{MeterProvider: prom.MeterProvider(), Histograms: prom.Histograms()})
	hs := telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{MeterProvider: prom.MeterProvider(), Histograms: prom.Histograms()})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		if r.PathValue("id") == "0" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{Start: hs.Start}).Wrap(mux)
	inProcess := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Result(), nil
	})
	client := &http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{
		Name: "items", Base: hc.RoundTripper(inProcess), Inject: hc.Inject,
		Retry: retry.Config{MaxAttempts: 2, Backoff: backoff.Constant(time.Millisecond)},
	})}
	for i := range 10 {
		resp, err := client.Get(fmt.Sprintf("http://items.internal:8080/items/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// closer is a RoundTripper that counts CloseIdleConnections calls.
type closer struct {
	roundTripFunc
	closed int
}

func (c *closer) CloseIdleConnections() { c.closed++ }

// The wrapper passes CloseIdleConnections on, so http.Client and keelhttp's
// Transport still reach the pool underneath.
func TestHTTPClientCloseIdleConnections(t *testing.T) {
	base := &closer{}
	rt := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{}).RoundTripper(base)
	(&http.Client{Transport: keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: rt})}).CloseIdleConnections()
	if base.closed != 1 {
		t.Errorf("CloseIdleConnections calls reaching the base: got %d, want 1", base.closed)
	}
}

// TracingConfigured turns true once the program sets a global provider.
// The provider set here is a noop one, so later tests that use the global
// provider see no spans, as before.
func TestTracingConfigured(t *testing.T) {
	if telemetry.TracingConfigured() {
		t.Skip("a global TracerProvider was set before this test")
	}
	otel.SetTracerProvider(noop.NewTracerProvider())
	if !telemetry.TracingConfigured() {
		t.Error("after otel.SetTracerProvider: got false, want true")
	}
}
