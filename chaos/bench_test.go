package chaos

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The benchmarks measure the cost of an Injector whose faults match nothing,
// which is what production traffic pays while chaos is armed elsewhere.

func benchInjector(b *testing.B) *Injector {
	return newInjector(b, Config{Headers: HeaderConfig{Enabled: true}, Faults: []Fault{
		{Kind: KindLatency, Latency: 1, PathPrefix: "/never"},
	}})
}

func BenchmarkPolicyNoFault(b *testing.B) {
	in := newInjector(b, Config{})
	h := in.Wrap(func(ctx context.Context, op func(context.Context) error) error { return op(ctx) })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = h(ctx, ok)
	}
}

func BenchmarkPolicyNoFaultParallel(b *testing.B) {
	in := newInjector(b, Config{})
	h := in.Wrap(func(ctx context.Context, op func(context.Context) error) error { return op(ctx) })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = h(ctx, ok)
		}
	})
}

func BenchmarkMiddlewareNoFault(b *testing.B) {
	in := benchInjector(b)
	mw := in.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
	req.Header.Set("Accept", "*/*")
	var w nopWriter
	b.ReportAllocs()
	for b.Loop() {
		mw.ServeHTTP(w, req)
	}
}

func BenchmarkMiddlewareNoFaultParallel(b *testing.B) {
	in := benchInjector(b)
	mw := in.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
		var w nopWriter
		for pb.Next() {
			mw.ServeHTTP(w, req)
		}
	})
}

// BenchmarkMiddlewareBare is the baseline: the handler without the Injector.
func BenchmarkMiddlewareBare(b *testing.B) {
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	req := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
	var w nopWriter
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkPolicyPercentMiss is a fault that matches every call but fires
// for none: the cost of one seeded draw.
func BenchmarkPolicyPercentMiss(b *testing.B) {
	in := newInjector(b, Config{Faults: []Fault{{Kind: KindError, Percent: Percent(0.0001)}}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = in.Do(ctx, ok)
	}
}
