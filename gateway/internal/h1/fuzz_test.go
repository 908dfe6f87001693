package h1

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
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

// FuzzServer sends the fuzzer's bytes to a Server as a client's requests,
// then half-closes: the server must neither panic nor hang (it closes the
// connection once the input is used up), and what it sends back is a
// sequence of HTTP/1.x responses.
func FuzzServer(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcHEAD /c HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort",
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + string(make([]byte, 5000)) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /flush HTTP/1.1\r\nHost: x\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	s := &Server{
		MaxHeaderBytes: 4 << 10,
		ErrorLog:       log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Got", strconv.FormatInt(n, 10))
			if r.URL.Path == "/flush" {
				_, _ = io.WriteString(w, "part")
				w.(http.Flusher).Flush()
			}
			_, _ = io.WriteString(w, r.Method) //nolint:gosec // a test server answering a test client
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	f.Cleanup(func() {
		_ = s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			f.Errorf("Serve: %v", err)
		}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			_, _ = c.Write(in)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		<-wrote
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server neither answered nor closed within 5s; it sent %q", out)
		}
		if len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.")) {
			t.Fatalf("the answer does not start with a status line: %q", out)
		}
	})
}
