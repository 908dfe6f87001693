package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestKeepAlive sends 200 sequential GETs, bodies read to EOF, on one
// connection.
func TestKeepAlive(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path) //nolint:gosec // a test server echoing the path to its own client
	}))
	tr := newTransport(t, nil)
	for i := range 200 {
		p := fmt.Sprintf("/%d", i)
		if got := mustGet(t, tr, s.URL+p); got != p {
			t.Fatalf("body %q, want %q", got, p)
		}
	}
	if d, a := tr.Dials(), s.accepted.Load(); d != 1 || a != 1 {
		t.Errorf("Dials %d, server accepts %d; want 1 and 1", d, a)
	}
}

// TestNotReused checks the responses after which the connection must not
// carry another request. The server keeps every connection open and
// answers every request, so only the client can make the second request
// dial.
func TestNotReused(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		body  string
		close bool // the server closes after the reply (close-delimited body)
	}{
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "ok", false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", false},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nuntil close", "until close", true},
		{"unsolicited bytes after the response", okReply + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "ok", false},
		{"extra body bytes", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokjunk", "ok", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := replyLoop(tc.reply, nil)
			if tc.close {
				h = replyOnce(tc.reply)
			}
			s := newRawServer(t, h)
			tr := newTransport(t, nil)
			if got := mustGet(t, tr, s.url("/")); got != tc.body {
				t.Errorf("body %q, want %q", got, tc.body)
			}
			if got := mustGet(t, tr, s.url("/")); got != tc.body {
				t.Errorf("second body %q, want %q", got, tc.body)
			}
			if d, a := tr.Dials(), s.accepts.Load(); d != 2 || a != 2 {
				t.Errorf("Dials %d, server accepts %d; want 2 and 2", d, a)
			}
		})
	}
	t.Run("HTTP/1.0 keep-alive is reused", func(t *testing.T) {
		s := newRawServer(t, replyLoop("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", nil))
		tr := newTransport(t, nil)
		mustGet(t, tr, s.url("/"))
		mustGet(t, tr, s.url("/"))
		if d := tr.Dials(); d != 1 {
			t.Errorf("Dials %d, want 1", d)
		}
	})
}

// TestUnsolicitedLate: bytes that arrive on an idle connection after its
// response ended make the probe drop it.
func TestUnsolicitedLate(t *testing.T) {
	sent := make(chan struct{})
	var once sync.Once
	s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		first := false
		once.Do(func() { first = true })
		if !first {
			replyLoop(okReply, nil)(c, br)
			return
		}
		if _, err := readRaw(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, okReply)
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(c, "HTTP/1.1 500 Unasked\r\nContent-Length: 0\r\n\r\n")
		close(sent)
		replyLoop(okReply, nil)(c, br)
	})
	tr := newTransport(t, &Transport{ProbeAfter: time.Nanosecond})
	mustGet(t, tr, s.url("/"))
	<-sent
	time.Sleep(20 * time.Millisecond)
	mustGet(t, tr, s.url("/"))
	if d := tr.Dials(); d != 2 {
		t.Errorf("Dials %d, want 2", d)
	}
}

// TestFraming reads responses of every framing.
func TestFraming(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		reply   string
		status  int
		body    string
		trailer http.Header
		reused  bool // the next request goes on the same connection
	}{
		{name: "Content-Length", reply: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", status: 200, body: "hello", reused: true},
		{name: "Content-Length 0", reply: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, reused: true},
		{
			name:    "chunked with trailers",
			reply:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n",
			status:  200,
			body:    "hello world",
			trailer: http.Header{"X-Sum": {"42"}},
			reused:  true,
		},
		{name: "HEAD", method: http.MethodHead, reply: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", status: 200, reused: true},
		{name: "204", reply: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, reused: true},
		{name: "304", reply: "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n", status: 304, reused: true},
		{
			name:   "100 and 103 skipped",
			reply:  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + okReply,
			status: 200, body: "ok", reused: true,
		},
		{
			name:   "five 1xx skipped",
			reply:  strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 5) + okReply,
			status: 200, body: "ok", reused: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, replyLoop(tc.reply, nil))
			tr := newTransport(t, nil)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			for i := range 2 {
				resp, body, err := do(t, tr, newReq(t, context.Background(), method, s.url("/"), nil)) //nolint:bodyclose // do closes it
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if resp.StatusCode != tc.status || body != tc.body {
					t.Errorf("request %d: got %d %q, want %d %q", i, resp.StatusCode, body, tc.status, tc.body)
				}
				if tc.trailer != nil {
					if diff := cmp.Diff(tc.trailer, resp.Trailer); diff != "" {
						t.Errorf("trailer (-want +got):\n%s", diff)
					}
				}
			}
			want := int64(2)
			if tc.reused {
				want = 1
			}
			if d := tr.Dials(); d != want {
				t.Errorf("Dials %d, want %d", d, want)
			}
		})
	}
}

// TestTrailerAfterEOF checks that resp.Trailer holds the announced keys
// before the body is read and their values once it reached EOF.
func TestTrailerAfterEOF(t *testing.T) {
	s := newRawServer(t, replyLoop("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 7\r\n\r\n", nil))
	tr := newTransport(t, nil)
	resp, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, s.url("/"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Trailer.Get("X-Sum"); got != "" {
		t.Errorf("trailer before EOF %q, want empty", got)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	if got := resp.Trailer.Get("X-Sum"); got != "7" {
		t.Errorf("trailer after EOF %q, want 7", got)
	}
}

// TestFramingErrors checks malformed, oversized and truncated answers.
func TestFramingErrors(t *testing.T) {
	big := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 4000) + "\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name    string
		reply   string
		maxHdr  int64
		is      []error // the error matches every one
		inBody  bool    // the error comes from reading the body
		errText string
	}{
		{name: "six 1xx", reply: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + okReply, errText: "informational"},
		{name: "101", reply: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", errText: "101"},
		{name: "header too large", reply: big, maxHdr: 1024, is: []error{ErrHeaderTooLarge}},
		{name: "header too large across 1xx", reply: "HTTP/1.1 100 Continue\r\n\r\n" + big, maxHdr: 1024, is: []error{ErrHeaderTooLarge}},
		{name: "closed before answering", reply: "", is: []error{io.EOF}},
		{name: "truncated status line", reply: "HTTP/1.1 200", is: []error{io.ErrUnexpectedEOF}},
		{name: "truncated header", reply: "HTTP/1.1 200 OK\r\nContent-Le", is: []error{io.ErrUnexpectedEOF}},
		{name: "truncated Content-Length body", reply: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", inBody: true, is: []error{io.ErrUnexpectedEOF}},
		{name: "truncated chunked body", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", inBody: true, is: []error{io.ErrUnexpectedEOF}},
		{name: "garbage", reply: "SSH-2.0-OpenSSH\r\n\r\n", errText: "malformed HTTP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, replyOnce(tc.reply))
			tr := newTransport(t, &Transport{MaxResponseHeaderBytes: tc.maxHdr})
			resp, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, s.url("/"), nil))
			if tc.inBody {
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			} else if err == nil {
				resp.Body.Close()
				t.Fatalf("RoundTrip succeeded with %d, want an error", resp.StatusCode)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("error %q (%T) does not match %v", err, err, target)
				}
			}
			if tc.errText != "" && !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q, want it to mention %q", err, tc.errText)
			}
			if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
				t.Errorf("open %d idle %d after a failed exchange, want 0 0", open, idle)
			}
		})
	}
}

// serverCloses is an upstream that answers each request and then closes
// the connection without saying so; closed receives a value after each
// close.
func serverCloses(t *testing.T) (*rawServer, chan struct{}) {
	closed := make(chan struct{}, 16)
	s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRaw(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, okReply)
		_ = c.Close()
		closed <- struct{}{}
	})
	return s, closed
}

// TestStaleReplay: a server closed an idle connection; which requests are
// sent again on a new one.
func TestStaleReplay(t *testing.T) {
	tests := []struct {
		name   string
		req    func(t *testing.T, url string) *http.Request
		replay bool
	}{
		{"GET", func(t *testing.T, url string) *http.Request {
			return newReq(t, context.Background(), http.MethodGet, url, nil)
		}, true},
		{"POST with GetBody", func(t *testing.T, url string) *http.Request {
			return newReq(t, context.Background(), http.MethodPost, url, strings.NewReader("payload"))
		}, false},
		{"POST without GetBody", func(t *testing.T, url string) *http.Request {
			r := newReq(t, context.Background(), http.MethodPost, url, io.NopCloser(strings.NewReader("payload")))
			r.ContentLength = 7
			return r
		}, false},
		{"PUT with GetBody", func(t *testing.T, url string) *http.Request {
			return newReq(t, context.Background(), http.MethodPut, url, strings.NewReader("payload"))
		}, false},
		{"POST with Idempotency-Key and GetBody", func(t *testing.T, url string) *http.Request {
			r := newReq(t, context.Background(), http.MethodPost, url, strings.NewReader("payload"))
			r.Header.Set("Idempotency-Key", "k1")
			return r
		}, true},
		{"POST with Idempotency-Key without GetBody", func(t *testing.T, url string) *http.Request {
			r := newReq(t, context.Background(), http.MethodPost, url, io.NopCloser(strings.NewReader("payload")))
			r.ContentLength = 7
			r.Header.Set("Idempotency-Key", "k1")
			return r
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, closed := serverCloses(t)
			tr := newTransport(t, &Transport{ProbeAfter: -1})
			mustGet(t, tr, s.url("/"))
			<-closed
			time.Sleep(10 * time.Millisecond)                   // the FIN reaches the client
			resp, body, err := do(t, tr, tc.req(t, s.url("/"))) //nolint:bodyclose // do closes it
			if tc.replay {
				if err != nil {
					t.Fatalf("replayable request failed: %v", err)
				}
				if resp.StatusCode != 200 || body != "ok" {
					t.Errorf("got %d %q, want 200 ok", resp.StatusCode, body)
				}
				if d := tr.Dials(); d != 2 {
					t.Errorf("Dials %d, want 2", d)
				}
				return
			}
			if err == nil {
				t.Fatalf("a request that cannot be replayed succeeded (%d %q) on a closed connection", resp.StatusCode, body)
			}
			if !errors.Is(err, errStale) {
				t.Errorf("error %q, want it to match errStale", err)
			}
			if d := tr.Dials(); d != 1 {
				t.Errorf("Dials %d, want 1 (no replay)", d)
			}
		})
	}
}

// TestStaleProbe: with the probe on, the closed connection is noticed
// before use, so even a request that cannot be replayed succeeds.
func TestStaleProbe(t *testing.T) {
	s, closed := serverCloses(t)
	tr := newTransport(t, &Transport{ProbeAfter: time.Nanosecond})
	mustGet(t, tr, s.url("/"))
	<-closed
	time.Sleep(10 * time.Millisecond)
	req := newReq(t, context.Background(), http.MethodPost, s.url("/"), io.NopCloser(strings.NewReader("payload")))
	req.ContentLength = 7
	if body := mustDo(t, tr, req); body != "ok" {
		t.Errorf("body %q", body)
	}
	if d := tr.Dials(); d != 2 {
		t.Errorf("Dials %d, want 2", d)
	}
}

// TestStaleFreshConnNotReplayed: a new connection that fails is not sent
// again: the failure is the server's answer.
func TestStaleFreshConnNotReplayed(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, br *bufio.Reader) { _, _ = readRaw(br) })
	tr := newTransport(t, nil)
	_, _, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, s.url("/"), nil)) //nolint:bodyclose // do closes it
	if !errors.Is(err, io.EOF) || errors.Is(err, errStale) {
		t.Errorf("error %v, want io.EOF and not errStale", err)
	}
	if d := tr.Dials(); d != 1 {
		t.Errorf("Dials %d, want 1", d)
	}
}

// hangServer reads requests and never answers; eof receives a value when
// the client closes a connection.
func hangServer(t *testing.T, head string) (*rawServer, chan struct{}) {
	eof := make(chan struct{}, 16)
	s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRaw(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, head)
		if _, err := io.Copy(io.Discard, br); err == nil {
			eof <- struct{}{}
		}
	})
	return s, eof
}

// TestContextCancel cancels while the answer is awaited.
func TestContextCancel(t *testing.T) {
	cause := errors.New("client went away")
	tests := []struct {
		name string
		ctx  func() (context.Context, func())
		want error
	}{
		{"cancel", func() (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, func()) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cause", func() (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
			return ctx, func() { cancel(nil) }
		}, cause},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, eof := hangServer(t, "")
			tr := newTransport(t, nil)
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := rtErr(tr, newReq(t, ctx, http.MethodGet, s.url("/"), nil))
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("RoundTrip took %v after the cancel", el)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			select {
			case <-eof:
			case <-time.After(5 * time.Second):
				t.Fatal("the server did not see the connection closed")
			}
			if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
				t.Errorf("open %d idle %d, want 0 0", open, idle)
			}
		})
	}
	t.Run("already done", func(t *testing.T) {
		tr := newTransport(t, nil)
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		err := rtErr(tr, newReq(t, ctx, http.MethodGet, "http://127.0.0.1:1/", nil))
		if !errors.Is(err, cause) || tr.Dials() != 0 {
			t.Errorf("error %v, Dials %d; want %v and 0", err, tr.Dials(), cause)
		}
	})
}

// TestContextCancelBody cancels while the body is read.
func TestContextCancelBody(t *testing.T) {
	cause := errors.New("gone")
	s, eof := hangServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
	tr := newTransport(t, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	resp, err := tr.RoundTrip(newReq(t, ctx, http.MethodGet, s.url("/"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(30*time.Millisecond, func() { cancel(cause) })
	_, err = resp.Body.Read(buf)
	if !errors.Is(err, cause) {
		t.Errorf("Read error %v, want %v", err, cause)
	}
	select {
	case <-eof:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the connection closed")
	}
	if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
		t.Errorf("open %d idle %d, want 0 0", open, idle)
	}
}

// TestBodyCloseEarly closes a body before EOF: the connection is closed,
// not reused, and reads after Close fail.
func TestBodyCloseEarly(t *testing.T) {
	s, eof := hangServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
	tr := newTransport(t, nil)
	resp, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, s.url("/"), nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := resp.Body.Read(buf); !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Errorf("Read after Close: %v, want ErrBodyReadAfterClose", err)
	}
	select {
	case <-eof:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the connection closed")
	}
	if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
		t.Errorf("open %d idle %d, want 0 0", open, idle)
	}
}

// TestBodyEOFThenClose: a body read to EOF and then closed keeps its
// connection in the pool.
func TestBodyEOFThenClose(t *testing.T) {
	s := newRawServer(t, replyLoop(okReply, nil))
	tr := newTransport(t, nil)
	for range 3 {
		resp, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, s.url("/"), nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		if open, idle := hostStats(t, tr, s.addr()); open != 1 || idle != 1 {
			t.Errorf("at EOF: open %d idle %d, want 1 1", open, idle)
		}
		resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, http.ErrBodyReadAfterClose) {
			t.Errorf("Read after Close: %v", err)
		}
	}
	if d := tr.Dials(); d != 1 {
		t.Errorf("Dials %d, want 1", d)
	}
}
