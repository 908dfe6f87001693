package keelhttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelhttp"
)

// staticRT answers every request with the same body-less 200, so that
// benchmarks over it measure the Transport alone.
type staticRT struct{ resp *http.Response }

func (s staticRT) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

func newStatic() staticRT {
	return staticRT{&http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}}
}

func TestSuccessPathAllocations(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  keelhttp.TransportConfig
		want float64
	}{
		{name: "defaults", want: 0},
		{name: "breaker disabled", cfg: keelhttp.TransportConfig{DisableBreaker: true}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Base = newStatic()
			kt := keelhttp.MustNewTransport(tc.cfg)
			req, _ := http.NewRequest(http.MethodGet, "http://svc.test/x", nil)
			got := testing.AllocsPerRun(1000, func() {
				resp, err := kt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			})
			if got != tc.want {
				t.Errorf("allocations per request: got %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkOverhead measures what the Transport adds to a RoundTripper that
// costs nothing.
func BenchmarkOverhead(b *testing.B) {
	for _, bc := range []struct {
		name string
		rt   func(base http.RoundTripper) http.RoundTripper
		ctx  bool
	}{
		{name: "base", rt: func(base http.RoundTripper) http.RoundTripper { return base }},
		{name: "keelhttp", rt: func(base http.RoundTripper) http.RoundTripper {
			return keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: base})
		}},
		{name: "keelhttp+deadline", ctx: true, rt: func(base http.RoundTripper) http.RoundTripper {
			return keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: base})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := bc.rt(newStatic())
			ctx := context.Background()
			if bc.ctx {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Hour)
				defer cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.test/x", nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}

func BenchmarkOverheadParallel(b *testing.B) {
	kt := keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: newStatic()})
	req, _ := http.NewRequest(http.MethodGet, "http://svc.test/x", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := kt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkLoopbackGET compares a plain http.Client with one whose Transport
// is a keelhttp.Transport, both over the same kind of http.Transport, against
// an httptest server on 127.0.0.1.
func BenchmarkLoopbackGET(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	for _, bc := range []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{
		{name: "http.Client", wrap: func(rt http.RoundTripper) http.RoundTripper { return rt }},
		{name: "keelhttp", wrap: func(rt http.RoundTripper) http.RoundTripper {
			return keelhttp.MustNewTransport(keelhttp.TransportConfig{Base: rt})
		}},
	} {
		run := func(b *testing.B, parallel bool) {
			base := &http.Transport{MaxIdleConnsPerHost: 64}
			defer base.CloseIdleConnections()
			c := &http.Client{Transport: bc.wrap(base)}
			get := func() {
				resp, err := c.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			b.ReportAllocs()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						get()
					}
				})
				return
			}
			for b.Loop() {
				get()
			}
		}
		b.Run(bc.name, func(b *testing.B) { run(b, false) })
		b.Run(bc.name+"/parallel", func(b *testing.B) { run(b, true) })
	}
}

func BenchmarkMiddleware(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	for _, bc := range []struct {
		name string
		h    http.Handler
		hdr  bool
	}{
		{name: "bare", h: ok},
		{name: "keelhttp", h: keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{}).Wrap(ok)},
		{name: "keelhttp+deadline", hdr: true, h: keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{}).Wrap(ok)},
		{name: "keelhttp+bulkhead", h: keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
			Admission: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1 << 20}),
		}).Wrap(ok)},
		{name: "keelhttp+log", h: keelhttp.MustNewMiddleware(keelhttp.MiddlewareConfig{
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), //nolint:sloglint // measures formatting a line
		}).Wrap(ok)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if bc.hdr {
				req.Header.Set(keelhttp.DeadlineHeader, "1000")
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
