package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// FuzzResponse serves the fuzzer's bytes as the upstream's reply: the
// round trip must neither panic nor hang, and a body it returns must end.
func FuzzResponse(f *testing.F) {
	for _, seed := range []string{
		okReply,
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + okReply,
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel",
		"HTTP/1.1 200 OK\r\nContent-Le",
		"HTTP/1.1 200 OK\r\n\r\nclose-delimited",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, reply []byte) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var servers []net.Conn
		tr := &Transport{
			MaxResponseHeaderBytes: 4 << 10,
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				cc, sc := net.Pipe()
				mu.Lock()
				servers = append(servers, sc)
				mu.Unlock()
				wg.Go(func() { _, _ = io.Copy(io.Discard, sc) }) // the request
				wg.Go(func() {
					_, _ = sc.Write(reply)
					_ = sc.Close()
				})
				return cc, nil
			},
		}
		defer func() {
			tr.Close()
			mu.Lock()
			for _, sc := range servers {
				_ = sc.Close()
			}
			mu.Unlock()
			wg.Wait()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Twice: the second request may reuse the connection.
		for range 2 {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://up.test/", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tr.RoundTrip(req)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("RoundTrip hung: %v", err)
			}
			if err != nil {
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("reading the body hung: %v", err)
			}
		}
	})
}
