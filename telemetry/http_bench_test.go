package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// benchProviders returns a meter provider and, for local, in-process
// histograms; and a tracer provider that samples everything into an
// in-memory exporter, or samples nothing.
func benchProviders(b *testing.B, local, sampled bool) (*sdkmetric.MeterProvider, *telemetry.Histograms, *sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	b.Helper()
	var hs *telemetry.Histograms
	var opts []sdkmetric.ManualReaderOption
	if local {
		hs = telemetry.NewHistograms()
		opts = append(opts, sdkmetric.WithProducer(hs))
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader(opts...)))
	exp := tracetest.NewInMemoryExporter()
	sampler := sdktrace.NeverSample()
	if sampled {
		sampler = sdktrace.AlwaysSample()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sampler))
	b.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return mp, hs, tp, exp
}

// BenchmarkHTTPServerStart measures the Start hook and its end function for
// one request with a traceparent header: "noop" with the global no-op
// providers (telemetry off), "unsampled" with an SDK tracer that samples
// nothing, "sampled" with one that records every span; the duration
// histogram is in process ("local", as Prometheus wires it) or the SDK's.
func BenchmarkHTTPServerStart(b *testing.B) {
	info := keelhttp.RequestInfo{Method: "GET", Path: "/items/7", Pattern: "GET /items/{id}", Status: 200, Duration: time.Millisecond}
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/items/7", nil)
		r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		return r
	}
	for _, bc := range []struct {
		name           string
		noop           bool
		local, sampled bool
	}{
		{"noop", true, false, false},
		{"unsampled/local", false, true, false},
		{"unsampled/sdk-histogram", false, false, false},
		{"sampled/local", false, true, true},
	} {
		var hs *telemetry.HTTPServer
		var exp *tracetest.InMemoryExporter
		if bc.noop {
			hs = telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{})
		} else {
			mp, h, tp, e := benchProviders(b, bc.local, bc.sampled)
			hs = telemetry.MustNewHTTPServer(telemetry.HTTPServerConfig{MeterProvider: mp, Histograms: h, TracerProvider: tp})
			exp = e
		}
		b.Run(bc.name, func(b *testing.B) {
			r := newReq()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, end := hs.Start(r)
				end(info)
				if i++; exp != nil && i%1024 == 0 {
					exp.Reset()
				}
			}
		})
		if bc.sampled {
			continue // the in-memory exporter is not built for parallel use
		}
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := newReq()
				for pb.Next() {
					_, end := hs.Start(r)
					end(info)
				}
			})
		})
	}
}

// BenchmarkHTTPClientRoundTripper measures what the RoundTripper wrapper
// adds to an attempt ("bare" is the stub base alone), and Inject.
func BenchmarkHTTPClientRoundTripper(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	req := httptest.NewRequest(http.MethodGet, "http://api.example.com:8080/items/7", nil)
	for _, bc := range []struct {
		name string
		rt   func(b *testing.B) http.RoundTripper
	}{
		{"bare", func(*testing.B) http.RoundTripper { return base }},
		{"local", func(b *testing.B) http.RoundTripper {
			mp, hs, _, _ := benchProviders(b, true, false)
			return telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{MeterProvider: mp, Histograms: hs}).RoundTripper(base)
		}},
		{"sdk-histogram", func(b *testing.B) http.RoundTripper {
			mp, _, _, _ := benchProviders(b, false, false)
			return telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{MeterProvider: mp}).RoundTripper(base)
		}},
	} {
		rt := bc.rt(b)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, _ := rt.RoundTrip(req)
				_ = resp.Body.Close()
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, _ := rt.RoundTrip(req)
					_ = resp.Body.Close()
				}
			})
		})
	}
	b.Run("inject", func(b *testing.B) {
		_, _, tp, _ := benchProviders(b, false, true)
		ctx, span := tp.Tracer("bench").Start(context.Background(), "op")
		defer span.End()
		hc := telemetry.MustNewHTTPClient(telemetry.HTTPClientConfig{})
		h := http.Header{}
		b.ReportAllocs()
		for b.Loop() {
			hc.Inject(ctx, h)
		}
	})
}
