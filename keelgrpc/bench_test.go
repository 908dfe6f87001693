package keelgrpc_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/retry"
)

// benchConfigs are the client configurations compared over loopback.
var benchConfigs = []struct {
	name     string
	cfg      *keelgrpc.ClientConfig // nil: no interceptor at all
	deadline bool                   // each call gets its own context.WithTimeout
}{
	{"plain", nil, false},
	// What a per-call deadline costs gRPC itself, for comparison with the
	// timeout policy below.
	{"plain+WithTimeout", nil, true},
	{"keel=none", &keelgrpc.ClientConfig{}, false},
	{"keel=retry+breaker+bulkhead", &keelgrpc.ClientConfig{
		Retry: &retry.Config{}, Breaker: &breaker.Config{}, Bulkhead: &bulkhead.Config{MaxConcurrent: 1000},
	}, false},
	{"keel=retry+breaker+bulkhead+timeout", &keelgrpc.ClientConfig{
		Retry: &retry.Config{}, Breaker: &breaker.Config{}, Bulkhead: &bulkhead.Config{MaxConcurrent: 1000}, Timeout: 10 * time.Second,
	}, false},
}

func benchClient(b *testing.B, addr string, cfg *keelgrpc.ClientConfig) testpb.TestServiceClient {
	var opts []grpc.DialOption
	if cfg != nil {
		opts = withClient(keelgrpc.MustNewClient(*cfg))
	}
	client := testpb.NewTestServiceClient(dial(b, addr, opts...))
	if _, err := client.UnaryCall(b.Context(), &testpb.SimpleRequest{}); err != nil { // connect
		b.Fatal(err)
	}
	return client
}

func call(ctx context.Context, client testpb.TestServiceClient, req *testpb.SimpleRequest, deadline bool) error {
	if deadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	_, err := client.UnaryCall(ctx, req)
	return err
}

// BenchmarkUnaryLoopback compares a unary call over 127.0.0.1 without
// interceptors and with the client's policies, side by side.
func BenchmarkUnaryLoopback(b *testing.B) {
	addr := serve(b, &testServer{})
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			client := benchClient(b, addr, bc.cfg)
			req := &testpb.SimpleRequest{}
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if err := call(ctx, client, req, bc.deadline); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnaryLoopbackParallel is BenchmarkUnaryLoopback from many
// goroutines sharing one client (and its breaker and bulkhead).
func BenchmarkUnaryLoopbackParallel(b *testing.B) {
	addr := serve(b, &testServer{})
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			client := benchClient(b, addr, bc.cfg)
			ctx := b.Context()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := &testpb.SimpleRequest{}
				for pb.Next() {
					if err := call(ctx, client, req, bc.deadline); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkUnaryInterceptor measures the interceptor alone, around a stub
// invoker: the cost Keel adds to every call.
func BenchmarkUnaryInterceptor(b *testing.B) {
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, bc := range benchConfigs {
		if bc.cfg == nil {
			continue
		}
		intercept := keelgrpc.MustNewClient(*bc.cfg).UnaryClientInterceptor()
		b.Run(bc.name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				_ = intercept(ctx, "/svc/M", nil, nil, nil, invoker)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = intercept(ctx, "/svc/M", nil, nil, nil, invoker)
				}
			})
		})
	}
}

// BenchmarkServerInterceptor measures the server interceptor around a stub
// handler, with and without a bulkhead for admission.
func BenchmarkServerInterceptor(b *testing.B) {
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/svc/M"}
	for _, bc := range []struct {
		name string
		cfg  keelgrpc.ServerConfig
	}{
		{"recover", keelgrpc.ServerConfig{}},
		{"recover+bulkhead", keelgrpc.ServerConfig{Admission: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1000})}},
	} {
		intercept := keelgrpc.MustNewServer(bc.cfg).UnaryServerInterceptor()
		b.Run(bc.name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = intercept(ctx, nil, info, handler)
				}
			})
		})
	}
}

// BenchmarkServerStreamLoopback compares a server stream of 10 messages over
// 127.0.0.1 without and with the client's policies.
func BenchmarkServerStreamLoopback(b *testing.B) {
	addr := serve(b, &testServer{outputMsgs: 10})
	for _, bc := range []struct {
		name string
		cfg  *keelgrpc.ClientConfig
	}{{benchConfigs[0].name, benchConfigs[0].cfg}, {benchConfigs[3].name, benchConfigs[3].cfg}} {
		b.Run(bc.name, func(b *testing.B) {
			client := benchClient(b, addr, bc.cfg)
			ctx := b.Context()
			req := &testpb.StreamingOutputCallRequest{}
			b.ReportAllocs()
			for b.Loop() {
				s, err := client.StreamingOutputCall(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := recvAll(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
