package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkRoundTrip compares the transport with net/http's on GETs
// through a loopback http.Server that writes a small body.
func BenchmarkRoundTrip(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("hello, world\n")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-done
	}()
	url := "http://" + ln.Addr().String() + "/bench"

	transports := []struct {
		name string
		new  func() (http.RoundTripper, func())
	}{
		{"h1", func() (http.RoundTripper, func()) {
			t := &Transport{}
			return t, t.Close
		}},
		{"nethttp", func() (http.RoundTripper, func()) {
			t := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}
			return t, t.CloseIdleConnections
		}},
	}
	for _, par := range []bool{false, true} {
		for _, tc := range transports {
			name := tc.name
			if par {
				name = "parallel/" + name
			}
			b.Run(name, func(b *testing.B) {
				rt, closeFn := tc.new()
				defer closeFn()
				req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
				if err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 512)
				get := func(buf []byte) {
					resp, err := rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					n := 0
					for err == nil {
						var m int
						m, err = resp.Body.Read(buf[n:])
						n += m
					}
					resp.Body.Close()
					if !errors.Is(err, io.EOF) || n != len(body) {
						b.Errorf("body %d bytes, %v", n, err)
					}
				}
				b.ReportAllocs()
				if !par {
					for b.Loop() {
						get(buf)
					}
					return
				}
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 512)
					for pb.Next() {
						get(buf)
					}
				})
			})
		}
	}
}
