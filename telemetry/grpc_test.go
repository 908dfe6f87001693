package telemetry_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/telemetry"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// warmingUp fails its first two unary calls with Unavailable.
type warmingUp struct {
	testpb.UnimplementedTestServiceServer
	n atomic.Int64
}

func (w *warmingUp) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if w.n.Add(1) <= 2 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testpb.SimpleResponse{}, nil
}

// serveGRPC serves srv on 127.0.0.1 and returns its address; the server is
// stopped, and its goroutine joined, at the end of the test.
func serveGRPC(t testing.TB, srv testpb.TestServiceServer, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(s, srv)
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Serve(lis) })
	t.Cleanup(func() {
		s.Stop()
		wg.Wait()
	})
	return lis.Addr().String()
}

// mdCarrier adapts gRPC metadata to a propagation.TextMapCarrier.
type mdCarrier metadata.MD

func (c mdCarrier) Get(k string) string {
	if v := metadata.MD(c).Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (c mdCarrier) Set(k, v string) { metadata.MD(c).Set(k, v) }
func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// spanStats is a minimal stats.Handler in the style of otelgrpc's: on the
// client it starts a client span per RPC and injects its context into the
// outgoing metadata; on the server it extracts that context and starts a
// server span. It shows where such handlers sit relative to keelgrpc's
// interceptors: gRPC calls them once per attempt the interceptors make, with
// the context the caller gave, so their spans are children of a Tracing
// span around the call.
type spanStats struct {
	tracer trace.Tracer
	server bool
}

type spanKey struct{}

func (h *spanStats) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	prop := propagation.TraceContext{}
	kind := trace.SpanKindClient
	if h.server {
		kind = trace.SpanKindServer
		md, _ := metadata.FromIncomingContext(ctx)
		ctx = prop.Extract(ctx, mdCarrier(md.Copy()))
	}
	ctx, span := h.tracer.Start(ctx, strings.TrimPrefix(info.FullMethodName, "/"), trace.WithSpanKind(kind))
	if !h.server {
		md := metadata.MD{}
		prop.Inject(ctx, mdCarrier(md))
		for k, v := range md {
			ctx = metadata.AppendToOutgoingContext(ctx, k, v[0])
		}
	}
	return context.WithValue(ctx, spanKey{}, span)
}

func (h *spanStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if end, ok := s.(*stats.End); ok {
		span := ctx.Value(spanKey{}).(trace.Span)
		if end.Error != nil {
			span.SetAttributes(telemetry.AttrErrorType.String(status.Code(end.Error).String()))
		}
		span.End()
	}
}

func (h *spanStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (h *spanStats) HandleConn(context.Context, stats.ConnStats)                       {}

// A unary call retried twice by keelgrpc's interceptor against a real server
// on 127.0.0.1, inside a Tracing span, with the client's Observer feeding
// Metrics and Tracing: one call span with three attempt events, attempt and
// retry metrics, and, from otelgrpc-style stats handlers on both sides, one
// client and one server span per attempt, all in the call's trace.
func TestGRPCTelemetry(t *testing.T) {
	modes(t, func(t *testing.T, local bool) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		metrics, reader := newMetricsMode(t, local)
		tracing := telemetry.MustNewTracing(telemetry.TracingConfig{TracerProvider: tp, Name: "testservice.unary"})
		tracer := tp.Tracer("grpc-stats")

		addr := serveGRPC(t, &warmingUp{}, grpc.StatsHandler(&spanStats{tracer: tracer, server: true}))
		c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
			Name:     "testservice",
			Retry:    &retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(time.Millisecond)},
			Breaker:  &breaker.Config{},
			Observer: keel.Observers(metrics, tracing),
		})
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(&spanStats{tracer: tracer}),
			grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()

		err = tracing.Do(context.Background(), func(ctx context.Context) error {
			_, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{})
			return err
		})
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		_ = conn.Close()

		var call tracetest.SpanStub
		var attempts, servers []tracetest.SpanStub
		for _, s := range exp.GetSpans() {
			switch s.SpanKind {
			case trace.SpanKindInternal:
				call = s
			case trace.SpanKindClient:
				attempts = append(attempts, s)
			case trace.SpanKindServer:
				servers = append(servers, s)
			}
		}
		var outcomes []string
		for _, e := range call.Events {
			if e.Name == "keel.attempt" {
				outcomes = append(outcomes, spanAttrs(e.Attributes)["keel.outcome"])
			}
		}
		if diff := cmp.Diff([]string{"failure", "failure", "success"}, outcomes); diff != "" {
			t.Errorf("keel.attempt outcomes of the call span %q (-want +got):\n%s", call.Name, diff)
		}
		if len(attempts) != 3 || len(servers) != 3 {
			t.Fatalf("stats handler spans: got %d client and %d server, want 3 and 3", len(attempts), len(servers))
		}
		clientIDs := map[trace.SpanID]bool{}
		for _, s := range attempts {
			clientIDs[s.SpanContext.SpanID()] = true
			if s.Parent.SpanID() != call.SpanContext.SpanID() {
				t.Errorf("client span %s: parent %s, want the call span %s", s.Name, s.Parent.SpanID(), call.SpanContext.SpanID())
			}
		}
		for _, s := range servers {
			if s.SpanContext.TraceID() != call.SpanContext.TraceID() || !clientIDs[s.Parent.SpanID()] || !s.Parent.IsRemote() {
				t.Errorf("server span %s: trace %s parent %s remote=%v, want trace %s and a client attempt span as remote parent",
					s.Name, s.SpanContext.TraceID(), s.Parent.SpanID(), s.Parent.IsRemote(), call.SpanContext.TraceID())
			}
		}

		ms := collect(t, reader)
		got := map[string]map[string]float64{}
		for _, name := range []string{telemetry.MetricAttemptDuration, telemetry.MetricRetries} {
			got[name] = points(t, ms[name])
		}
		want := map[string]map[string]float64{
			telemetry.MetricAttemptDuration: {
				"keel.name=testservice,keel.outcome=failure,keel.policy=retry": 2,
				"keel.name=testservice,keel.outcome=success,keel.policy=retry": 1,
			},
			telemetry.MetricRetries: {"keel.name=testservice,keel.policy=retry": 2},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("metrics (-want +got):\n%s", diff)
		}
	})
}

// keelgrpc's client reports its policies' events to ClientConfig.Observer:
// give it Metrics and Tracing, and run the call inside the Tracing span.
func Example_keelgrpc() {
	// A server on 127.0.0.1 that fails the first two calls with Unavailable.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, &warmingUp{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(lis) })
	defer func() { srv.Stop(); wg.Wait() }()

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	metrics := telemetry.MustNewMetrics(telemetry.MetricsConfig{MeterProvider: mp})
	tracing := telemetry.MustNewTracing(telemetry.TracingConfig{TracerProvider: tp, Name: "testservice.unary"})
	c := keelgrpc.MustNewClient(keelgrpc.ClientConfig{
		Name:     "testservice",
		Retry:    &retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(time.Millisecond)},
		Observer: keel.Observers(metrics, tracing),
	})
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()))
	if err != nil {
		panic(err)
	}
	defer func() { _ = conn.Close() }()

	err = tracing.Do(context.Background(), func(ctx context.Context) error {
		_, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{})
		return err
	})
	fmt.Println("call error:", err)

	for _, s := range exp.GetSpans() {
		var events []string
		for _, e := range s.Events {
			events = append(events, e.Name)
		}
		fmt.Printf("span %s: %s\n", s.Name, strings.Join(events, " "))
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != telemetry.MetricAttemptDuration {
				continue
			}
			var lines []string
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				outcome, _ := p.Attributes.Value(telemetry.AttrOutcome)
				lines = append(lines, fmt.Sprintf("%s %s: %d", m.Name, outcome.AsString(), p.Count))
			}
			slices.Sort(lines)
			fmt.Println(strings.Join(lines, "\n"))
		}
	}
	// Output:
	// call error: <nil>
	// span testservice.unary: keel.attempt keel.retry keel.attempt keel.retry keel.attempt
	// keel.attempt.duration failure: 2
	// keel.attempt.duration success: 1
}
