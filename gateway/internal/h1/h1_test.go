package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestEarlyAnswer: an upstream that answers 413 before reading a large
// body is heard.
func TestEarlyAnswer(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, "too large")
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	defer s.Close()
	tr := newTransport(t, nil)
	for _, chunked := range []bool{false, true} {
		body := bytes.Repeat([]byte("x"), 32<<20)
		req := newReq(t, context.Background(), http.MethodPost, s.URL+"/big", bytes.NewReader(body))
		if chunked {
			req.ContentLength = -1
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, got, err := do(t, tr, req) //nolint:bodyclose // do closes it
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge || got != "too large" {
			t.Errorf("chunked=%v: got %d %q, want 413 too large", chunked, resp.StatusCode, got)
		}
	}
	// The transport still works; the unfinished connections were closed.
	mustGet(t, tr, s.URL+"/")
	open, idle := hostStats(t, tr, s.Listener.Addr().String())
	if open != 1 || idle != 1 {
		t.Errorf("open %d idle %d, want 1 1", open, idle)
	}
}

type failingBody struct {
	n   int // bytes to give before failing
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, b.err
	}
	n := min(len(p), b.n)
	for i := range n {
		p[i] = 'a'
	}
	b.n -= n
	return n, nil
}

type closeRecorder struct {
	io.Reader
	mu     sync.Mutex
	closed int
}

func (c *closeRecorder) Close() error {
	c.mu.Lock()
	c.closed++
	c.mu.Unlock()
	return nil
}

func (c *closeRecorder) closes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// TestRequestBodyErrors: a request body that fails or ends early fails
// the round trip with its error, closes the connection and is closed.
func TestRequestBodyErrors(t *testing.T) {
	errRead := errors.New("disk on fire")
	tests := []struct {
		name   string
		body   func() io.Reader
		length int64
		is     error
	}{
		{"Read fails, known length", func() io.Reader { return &failingBody{n: 10000, err: errRead} }, 20000, errRead},
		{"Read fails, chunked", func() io.Reader { return &failingBody{n: 10000, err: errRead} }, -1, errRead},
		{"Read fails at once", func() io.Reader { return &failingBody{err: errRead} }, 5, errRead},
		{"shorter than ContentLength", func() io.Reader { return strings.NewReader("abc") }, 10, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		for _, warm := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/warm=%v", tc.name, warm), func(t *testing.T) {
				// The server reads what comes, never answers, and reports
				// the client's close.
				eof := make(chan struct{}, 2)
				s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
					if warm {
						if _, err := readRaw(br); err != nil {
							return
						}
						_, _ = io.WriteString(c, okReply)
					}
					if _, err := io.Copy(io.Discard, br); err == nil {
						eof <- struct{}{}
					}
				})
				tr := newTransport(t, &Transport{ProbeAfter: -1})
				if warm { // a reused connection: the failure must not read as stale
					mustGet(t, tr, s.url("/"))
				}
				body := &closeRecorder{Reader: tc.body()}
				req := newReq(t, context.Background(), http.MethodPut, s.url("/"), body)
				req.ContentLength = tc.length
				_, _, err := do(t, tr, req) //nolint:bodyclose // do closes it
				if !errors.Is(err, tc.is) {
					t.Errorf("error %v, want %v", err, tc.is)
				}
				if errors.Is(err, errStale) {
					t.Errorf("error %v reads as a stale connection", err)
				}
				select {
				case <-eof:
				case <-time.After(5 * time.Second):
					t.Fatal("the server did not see the connection closed")
				}
				if c := body.closes(); c != 1 {
					t.Errorf("body closed %d times, want 1", c)
				}
				if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
					t.Errorf("open %d idle %d, want 0 0", open, idle)
				}
				if d := tr.Dials(); d != 1 {
					t.Errorf("Dials %d, want 1", d)
				}
			})
		}
	}
}

// TestValidation: requests that must not go on the wire fail before a
// connection is dialed.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		mod  func(r *http.Request)
	}{
		{"header name with space", func(r *http.Request) { r.Header["Bad Name"] = []string{"v"} }},
		{"header name with colon", func(r *http.Request) { r.Header["A:b"] = []string{"v"} }},
		{"header value with CRLF", func(r *http.Request) { r.Header["X-A"] = []string{"v\r\nX-Injected: 1"} }},
		{"header value with NUL", func(r *http.Request) { r.Header["X-A"] = []string{"v\x00"} }},
		{"CTL in RawQuery", func(r *http.Request) { r.URL.RawQuery = "a=1\r\nX: y" }},
		{"CTL in Path", func(r *http.Request) { r.URL.Path = "/a\nb" }},
		{"CTL in RawPath", func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/a", "/a\x7f" }},
		{"CTL in Opaque", func(r *http.Request) { r.URL.Opaque = "/a\tb" }},
		{"bad Host", func(r *http.Request) { r.Host = "a b" }},
		{"no URL host", func(r *http.Request) { r.URL.Host = ""; r.Host = "example.com" }},
		{"Host with CRLF", func(r *http.Request) { r.Host = "a\r\nX: y" }},
		{"bad method", func(r *http.Request) { r.Method = "GE T" }},
		{"ContentLength with nil body", func(r *http.Request) { r.ContentLength = 5; r.Body = nil }},
		{"ContentLength with NoBody", func(r *http.Request) { r.ContentLength = 5; r.Body = http.NoBody }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransport(t, &Transport{DialContext: nil})
			req := newReq(t, context.Background(), http.MethodGet, "http://127.0.0.1:1/p?q=1", nil)
			tc.mod(req)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "h1: ") {
				t.Errorf("error %q, want a validation error", err)
			}
			if d := tr.Dials(); d != 0 {
				t.Errorf("Dials %d, want 0", d)
			}
		})
	}
}

// recorder is a Fallback that records what it gets.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return &http.Response{StatusCode: 299, Body: http.NoBody, Request: req}, nil
}

func (r *recorder) CloseIdleConnections() {}

// TestFallback: what the transport does not carry goes to Fallback, or
// fails with ErrUnsupported.
func TestFallback(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T) *http.Request
	}{
		{"https", func(t *testing.T) *http.Request {
			return newReq(t, context.Background(), http.MethodGet, "https://127.0.0.1:1/", nil)
		}},
		{"Upgrade", func(t *testing.T) *http.Request {
			r := newReq(t, context.Background(), http.MethodGet, "http://127.0.0.1:1/", nil)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}},
		{"Expect: 100-continue", func(t *testing.T) *http.Request {
			r := newReq(t, context.Background(), http.MethodPost, "http://127.0.0.1:1/", strings.NewReader("x"))
			r.Header.Set("Expect", "100-continue")
			return r
		}},
		{"request trailers", func(t *testing.T) *http.Request {
			r := newReq(t, context.Background(), http.MethodPost, "http://127.0.0.1:1/", strings.NewReader("x"))
			r.ContentLength = -1
			r.Trailer = http.Header{"X-Sum": nil}
			return r
		}},
		{"ContentLength 0 with a body", func(t *testing.T) *http.Request {
			return newReq(t, context.Background(), http.MethodPost, "http://127.0.0.1:1/", io.NopCloser(strings.NewReader("x")))
		}},
		{"CONNECT", func(t *testing.T) *http.Request {
			return newReq(t, context.Background(), http.MethodConnect, "http://127.0.0.1:1/", nil)
		}},
		{"Transfer-Encoding gzip", func(t *testing.T) *http.Request {
			r := newReq(t, context.Background(), http.MethodPost, "http://127.0.0.1:1/", strings.NewReader("x"))
			r.TransferEncoding = []string{"gzip", "chunked"}
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			tr := newTransport(t, &Transport{Fallback: rec})
			req := tc.req(t)
			if Carries(req) {
				t.Fatal("Carries is true")
			}
			resp, err := tr.RoundTrip(req) //nolint:bodyclose // the recorder returns http.NoBody
			if err != nil || resp.StatusCode != 299 {
				t.Fatalf("got %v %v, want the fallback's 299", resp, err)
			}
			if len(rec.reqs) != 1 || rec.reqs[0] != req {
				t.Errorf("fallback got %d requests, want this one", len(rec.reqs))
			}
			if d := tr.Dials(); d != 0 {
				t.Errorf("Dials %d, want 0", d)
			}
			tr2 := newTransport(t, nil)
			if err := rtErr(tr2, tc.req(t)); !errors.Is(err, ErrUnsupported) {
				t.Errorf("without Fallback: %v, want ErrUnsupported", err)
			}
		})
	}
	t.Run("carried", func(t *testing.T) {
		for _, r := range []*http.Request{
			newReq(t, context.Background(), http.MethodGet, "http://h/", nil),
			newReq(t, context.Background(), http.MethodPost, "http://h/", strings.NewReader("x")),
			newReq(t, context.Background(), http.MethodPost, "http://h/", http.NoBody),
		} {
			if !Carries(r) {
				t.Errorf("Carries(%s %v) false", r.Method, r.URL)
			}
		}
		r := newReq(t, context.Background(), http.MethodPost, "http://h/", strings.NewReader("x"))
		r.TransferEncoding = []string{"chunked"}
		if !Carries(r) {
			t.Error("Carries false for Transfer-Encoding chunked")
		}
	})
}

// TestClose: after Close every request fails with ErrClosed and the idle
// connections are closed.
func TestClose(t *testing.T) {
	s, eof := hangServer(t, okReply)
	s2 := newRawServer(t, replyLoop(okReply, nil))
	tr := &Transport{}
	mustGet(t, tr, s.url("/"))
	tr.Close()
	select {
	case <-eof:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	for _, u := range []string{s.url("/"), s2.url("/")} { // a known host and a new one
		if err := rtErr(tr, newReq(t, context.Background(), http.MethodGet, u, nil)); !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	}
	if d := tr.Dials(); d != 1 {
		t.Errorf("Dials %d, want 1", d)
	}
	tr.Close() // twice is fine
}

// TestCloseInUse: a connection in use when Close is called is closed when
// its response ends.
func TestCloseInUse(t *testing.T) {
	s := newRawServer(t, replyLoop(okReply, nil))
	tr := &Transport{}
	resp, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, s.url("/"), nil))
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("body %q %v", b, err)
	}
	resp.Body.Close()
	if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
		t.Errorf("open %d idle %d, want 0 0", open, idle)
	}
}

// TestCloseIdleConnections closes the idle connections and the
// Fallback's; the transport stays usable.
func TestCloseIdleConnections(t *testing.T) {
	s, eof := hangServer(t, okReply)
	std := &http.Transport{}
	tr := newTransport(t, &Transport{Fallback: std})
	mustGet(t, tr, s.url("/"))
	tr.CloseIdleConnections()
	select {
	case <-eof:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	mustGet(t, tr, s.url("/"))
	if d := tr.Dials(); d != 2 {
		t.Errorf("Dials %d, want 2", d)
	}
	tr.CloseIdleConnections()
}

// TestConcurrent: 16 goroutines × 200 requests, all bodies correct.
func TestConcurrent(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			sum := sha256.Sum256(b)
			_, _ = fmt.Fprintf(w, "%x", sum)
			return
		}
		_, _ = io.WriteString(w, strings.Repeat(r.URL.RawQuery, 10)) //nolint:gosec // a test server echoing the query to its own client
	}))
	tr := newTransport(t, nil)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				q := fmt.Sprintf("g%di%d", g, i)
				if i%10 == 0 {
					body := strings.Repeat(q, 1000)
					req := newReq(t, context.Background(), http.MethodPost, s.URL+"/", strings.NewReader(body))
					_, got, err := do(t, tr, req) //nolint:bodyclose // do closes it
					if want := fmt.Sprintf("%x", sha256.Sum256([]byte(body))); err != nil || got != want {
						t.Errorf("POST %s: %q %v", q, got, err)
						return
					}
					continue
				}
				u := s.URL + "/?" + url.PathEscape(q)
				_, got, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, u, nil)) //nolint:bodyclose // do closes it
				if want := strings.Repeat(q, 10); err != nil || got != want {
					t.Errorf("GET %s: %q %v", q, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d dials, %d accepted, at most %d open", tr.Dials(), s.accepted.Load(), s.maxOpen.Load())
	if d, a := tr.Dials(), s.accepted.Load(); d != a || d > 16 {
		t.Errorf("Dials %d, server accepts %d, want equal and at most 16", d, a)
	}
}

// TestResponseFields checks what the response carries.
func TestResponseFields(t *testing.T) {
	s := newRawServer(t, replyLoop("HTTP/1.1 201 Created\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 2\r\n\r\nok", nil))
	tr := newTransport(t, nil)
	req := newReq(t, context.Background(), http.MethodGet, s.url("/"), nil)
	resp, body, err := do(t, tr, req) //nolint:bodyclose // do closes it
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		Status, Proto, Body string
		Code, Major, Minor  int
		Length              int64
		XA                  []string
		SameReq             bool
	}{resp.Status, resp.Proto, body, resp.StatusCode, resp.ProtoMajor, resp.ProtoMinor, resp.ContentLength, resp.Header["X-A"], resp.Request == req}
	want := got
	want.Status, want.Proto, want.Body = "201 Created", "HTTP/1.1", "ok"
	want.Code, want.Major, want.Minor, want.Length = 201, 1, 1, 2
	want.XA, want.SameReq = []string{"1", "2"}, true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

// TestKeepAliveWithBodies: requests with bodies, answered as soon as the
// body arrived, keep their connection (the response may end before the
// body writer reported).
func TestKeepAliveWithBodies(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	}))
	tr := newTransport(t, nil)
	for i := range 300 {
		want := fmt.Sprint(i)
		req := newReq(t, context.Background(), http.MethodPost, s.URL, strings.NewReader(want))
		if i%2 == 1 {
			req.ContentLength = -1
		}
		if got := mustDo(t, tr, req); got != want {
			t.Fatalf("body %q, want %q", got, want)
		}
	}
	if d, a := tr.Dials(), s.accepted.Load(); d != 1 || a != 1 {
		t.Errorf("Dials %d, server accepts %d; want 1 and 1", d, a)
	}
}

// TestEarlyAnswerKeepAlive: an upstream answers, keep-alive, without
// reading a body that is still being streamed: the response is returned,
// the connection is not reused.
func TestEarlyAnswerKeepAlive(t *testing.T) {
	eof := make(chan struct{}, 2)
	s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(c, okReply)
		if _, err := io.Copy(io.Discard, br); err == nil {
			eof <- struct{}{}
		}
	})
	tr := newTransport(t, nil)
	pr, pw := io.Pipe()
	defer func() { _ = pw.Close() }()
	go func() { _, _ = pw.Write([]byte("first part")) }()
	req := newReq(t, context.Background(), http.MethodPost, s.url("/"), pr)
	req.ContentLength = -1
	start := time.Now()
	if got := mustDo(t, tr, req); got != "ok" {
		t.Errorf("body %q", got)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	select {
	case <-eof:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}
	if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
		t.Errorf("open %d idle %d, want 0 0", open, idle)
	}
	_ = pw.CloseWithError(errors.New("client gone")) // ends the body writer
}
