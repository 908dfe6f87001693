package h1

import (
	"bufio"
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

// BenchmarkServer compares Server with net/http's on GETs from a raw
// keep-alive client, one connection per parallel client: the handler
// writes a small body with its Content-Length.
func BenchmarkServer(b *testing.B) {
	body := []byte("hello, world\n")
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "13")
		_, _ = w.Write(body)
	})
	type server interface {
		Serve(net.Listener) error
		Close() error
	}
	servers := []struct {
		name string
		new  func() server
	}{
		{"h1", func() server { return &Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second} }},
		{"net/http", func() server { return &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second} }},
	}
	const req = "GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := s.new()
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(ln) }()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Error(err)
					return
				}
				defer func() { _ = c.Close() }()
				br := bufio.NewReader(c)
				for pb.Next() {
					if _, err := io.WriteString(c, req); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
			b.StopTimer()
			_ = srv.Close()
			<-done
		})
	}
}
