package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer is a TCP server on 127.0.0.1 that runs a scripted handler on
// each connection, for tests that check the bytes on the wire or need a
// misbehaving upstream.
type rawServer struct {
	ln      net.Listener
	accepts atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	stop    chan struct{}
}

func newRawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, stop: make(chan struct{})}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() { _ = c.Close() }()
				handle(c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }
func (s *rawServer) url(p string) string {
	return "http://" + s.addr() + p
}

func (s *rawServer) close() {
	_ = s.ln.Close()
	close(s.stop)
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// readRaw reads one request as it came on the wire: the header and the body
// framed by Content-Length or chunked encoding (without trailers).
func readRaw(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	cl, chunked := 0, false
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		switch strings.ToLower(k) {
		case "content-length":
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		case "transfer-encoding":
			chunked = strings.TrimSpace(v) == "chunked"
		}
	}
	switch {
	case chunked:
		for !strings.HasSuffix(sb.String(), "\r\n0\r\n\r\n") {
			line, err := br.ReadString('\n')
			sb.WriteString(line)
			if err != nil {
				return sb.String(), err
			}
		}
	case cl > 0:
		b := make([]byte, cl)
		n, err := io.ReadFull(br, b)
		sb.Write(b[:n])
		if err != nil {
			return sb.String(), err
		}
	}
	return sb.String(), nil
}

// replyLoop answers every request on the connection with reply and keeps
// the connection open; got (when not nil) receives each raw request.
func replyLoop(reply string, got chan<- string) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		for {
			raw, err := readRaw(br)
			if err != nil {
				return
			}
			if got != nil {
				got <- raw
			}
			if _, err := io.WriteString(c, reply); err != nil {
				return
			}
		}
	}
}

// replyOnce answers the first request with reply and closes the connection.
func replyOnce(reply string) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		if _, err := readRaw(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, reply)
	}
}

const okReply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

func newTransport(t *testing.T, tr *Transport) *Transport {
	t.Helper()
	if tr == nil {
		tr = &Transport{}
	}
	t.Cleanup(tr.Close)
	return tr
}

func newReq(t *testing.T, ctx context.Context, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// do runs a round trip and reads the body to EOF.
func do(t *testing.T, tr http.RoundTripper, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

func mustGet(t *testing.T, tr http.RoundTripper, url string) string {
	t.Helper()
	resp, body, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, url, nil)) //nolint:bodyclose // do closes it
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", url, resp.StatusCode)
	}
	return body
}

// countingServer is an httptest server that counts the connections it
// accepted and the most it had open at once.
type countingServer struct {
	*httptest.Server
	accepted atomic.Int64
	open     atomic.Int64
	maxOpen  atomic.Int64
}

func newCountingServer(t *testing.T, h http.Handler) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.accepted.Add(1)
			n := s.open.Add(1)
			for {
				m := s.maxOpen.Load()
				if n <= m || s.maxOpen.CompareAndSwap(m, n) {
					break
				}
			}
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// hostStats reports the open and idle connections of addr in tr's pool.
func hostStats(t *testing.T, tr *Transport, addr string) (open, idle int) {
	t.Helper()
	m := tr.hosts.Load()
	if m == nil || (*m)[addr] == nil {
		t.Fatalf("no pool for %s", addr)
	}
	return (*m)[addr].stats()
}

// rtErr runs a round trip expected to fail and returns its error.
func rtErr(tr http.RoundTripper, req *http.Request) error {
	resp, err := tr.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
	}
	return err
}
