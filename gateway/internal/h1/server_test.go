package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer runs s on 127.0.0.1 until the test ends.
func testServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.ErrorLog == nil {
		s.ErrorLog = log.New(io.Discard, "", 0)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// client is a raw connection to a test server.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialServer(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// reply is a response as a test looks at it.
type reply struct {
	StatusCode int
	Close      bool
	Header     http.Header
}

// response reads one response to a request with method.
func (c *client) response(method string) (reply, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading a response body: %v", err)
	}
	return reply{resp.StatusCode, resp.Close, resp.Header}, string(body)
}

// rest reads until the server closes the connection.
func (c *client) rest() string {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if err != nil {
		c.t.Fatalf("reading to the end: %v", err)
	}
	return string(b)
}

var dateLine = regexp.MustCompile(`Date: [^\r]*\r\n`)

func TestServerWire(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		req     string
		want    string
	}{
		{
			name: "short body gets a length and a sniffed type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-B", "2")
				w.Header().Set("X-A", "1")
				_, _ = io.WriteString(w, "<html>hi</html>")
			},
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 15\r\n\r\n<html>hi</html>",
		},
		{
			name: "declared length and status",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "3")
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(201)
				_, _ = io.WriteString(w, "abc")
			},
			req:  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
			want: "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
		},
		{
			name: "flush makes it chunked, with announced and prefixed trailers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Sum")
				w.Header().Set("Content-Type", "text/plain")
				_, _ = io.WriteString(w, "ab")
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, "cd")
				w.Header().Set("X-Sum", "4")
				w.Header().Set(http.TrailerPrefix+"X-Late", "y")
			},
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\nX-Sum: 4\r\nX-Late: y\r\n\r\n",
		},
		{
			name: "HEAD keeps the declared length and sends no body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5")
				_, _ = io.WriteString(w, "hello")
			},
			req:  "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		},
		{
			name: "304 drops the type and the length",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "10")
				w.Header().Set("Etag", `"v1"`)
				w.WriteHeader(http.StatusNotModified)
			},
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "HTTP/1.1 304 Not Modified\r\nEtag: \"v1\"\r\n\r\n",
		},
		{
			name: "204 and an informational 103 before it",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</a.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				w.WriteHeader(http.StatusNoContent)
			},
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		},
		{
			name: "header values lose line breaks, bad names are dropped",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["X-Evil"] = []string{"a\r\nInjected: 1"}
				w.Header()["Bad Name"] = []string{"x"}
				w.WriteHeader(200)
			},
			req:  "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "HTTP/1.1 200 OK\r\nX-Evil: a  Injected: 1\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "HTTP/1.0 without keep-alive closes",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, strings.Repeat("z", 3000))
			},
			req:  "GET / HTTP/1.0\r\n\r\n",
			want: "HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + strings.Repeat("z", 3000),
		},
		{
			name:    "HTTP/1.0 keep-alive with a length",
			handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") },
			req:     "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			want:    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := testServer(t, &Server{Handler: tt.handler})
			c := dialServer(t, addr)
			c.send(tt.req)
			if cw, ok := c.c.(*net.TCPConn); ok && !strings.Contains(tt.req, "keep-alive") && strings.Contains(tt.req, "HTTP/1.0") {
				_ = cw.CloseWrite()
			}
			var got []byte
			buf := make([]byte, 64<<10)
			for !bytes.HasSuffix(dateLine.ReplaceAll(got, nil), []byte(tt.want)) {
				n, err := c.br.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			if !dateLine.Match(got) {
				t.Errorf("no Date line in %q", got)
			}
			if g := string(dateLine.ReplaceAll(got, nil)); g != tt.want {
				t.Errorf("on the wire:\n%q\nwant\n%q", g, tt.want)
			}
		})
	}
}

func TestServerKeepAliveAndPipelining(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path+":"+string(body))
		mu.Unlock()
		_, _ = fmt.Fprintf(w, "%s %s", r.URL.Path, body) //nolint:gosec // a test server echoing to a test client
	})})
	c := dialServer(t, addr)
	// Three requests in one write, one with a chunked body.
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n" +
		"PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
	for _, want := range []string{"/a ", "/b xyz", "/c ok"} {
		resp, body := c.response("GET")
		if resp.StatusCode != 200 || body != want || resp.Close {
			t.Errorf("response %d %q close=%v, want 200 %q on a kept connection", resp.StatusCode, body, resp.Close, want)
		}
	}
	// And one more after a pause, on the same connection.
	c.send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := c.response("GET"); body != "/d " {
		t.Errorf("fourth response %q", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(paths, ","); got != "/a:,/b:xyz,/c:ok,/d:" {
		t.Errorf("handled %s", got)
	}
}

func TestServerRejects(t *testing.T) {
	tests := []struct {
		name, req, status string
	}{
		{"header over the bound", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("h", 8<<10) + "\r\n\r\n", "431 Request Header Fields Too Large"},
		{"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", "400 Bad Request: missing required Host header"},
		{"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400 Bad Request"},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "400 Bad Request: malformed Host header"},
		{"garbage request line", "HELLO\r\n\r\n", "400 Bad Request"},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501 Not Implemented"},
		{"HTTP/2 on the HTTP/1 port", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505 HTTP Version Not Supported: unsupported protocol version"},
		{"unknown expectation", "POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", "417 Expectation Failed: unsupported Expect header"},
		{"content length and chunked", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400 Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handled := false
			addr := testServer(t, &Server{MaxHeaderBytes: 1 << 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handled = true })})
			c := dialServer(t, addr)
			c.send(tt.req)
			got := c.rest()
			if !strings.HasPrefix(got, "HTTP/1.1 "+tt.status+"\r\n") || !strings.Contains(got, "Connection: close\r\n") {
				t.Errorf("answer %q, want %s and a close", got, tt.status)
			}
			if handled {
				t.Error("the handler ran")
			}
		})
	}
}

func TestServerRequestBody(t *testing.T) {
	t.Run("unread small body is read away and the connection kept", func(t *testing.T) {
		addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.URL.Path) //nolint:gosec // a test server echoing to a test client
		})})
		c := dialServer(t, addr)
		c.send("POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
		c.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
		for _, want := range []string{"/1", "/2"} {
			if resp, body := c.response("GET"); body != want || resp.Close {
				t.Errorf("%q close=%v, want %q kept", body, resp.Close, want)
			}
		}
	})
	t.Run("unread large body closes the connection", func(t *testing.T) {
		addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		})})
		c := dialServer(t, addr)
		go func() {
			_, _ = fmt.Fprintf(c.c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<20)
			_, _ = c.c.Write(make([]byte, 1<<20))
		}()
		resp, _ := c.response("POST")
		if resp.StatusCode != 413 || !resp.Close {
			t.Errorf("%d close=%v, want 413 and a close", resp.StatusCode, resp.Close)
		}
	})
	t.Run("expect 100-continue, read", func(t *testing.T) {
		addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
		})})
		c := dialServer(t, addr)
		c.send("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		line, err := c.br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("first line %q, %v; want 100 Continue before the body is sent", line, err)
		}
		_, _ = c.br.ReadString('\n')
		c.send("data")
		if _, body := c.response("PUT"); body != "data" {
			t.Errorf("body %q", body)
		}
	})
	t.Run("expect 100-continue, not read", func(t *testing.T) {
		addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		})})
		c := dialServer(t, addr)
		c.send("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		resp, _ := c.response("PUT")
		if resp.StatusCode != 403 || !resp.Close {
			t.Errorf("%d close=%v, want 403 without 100 Continue, and a close", resp.StatusCode, resp.Close)
		}
	})
}

func TestServerWriterErrors(t *testing.T) {
	errs := make(chan error, 3)
	addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/len":
			w.Header().Set("Content-Length", "2")
			_, _ = io.WriteString(w, "ab")
			_, err := io.WriteString(w, "c")
			errs <- err
		case "/204":
			w.WriteHeader(204)
			_, err := io.WriteString(w, "x")
			errs <- err
		case "/short":
			w.Header().Set("Content-Length", "10")
			_, err := io.WriteString(w, "abc")
			errs <- err
		}
	})})
	c := dialServer(t, addr)
	c.send("GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := <-errs; !errors.Is(err, http.ErrContentLength) {
		t.Errorf("writing past Content-Length: %v", err)
	}
	c.response("GET")
	c.send("GET /204 HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := <-errs; !errors.Is(err, http.ErrBodyNotAllowed) {
		t.Errorf("writing a 204's body: %v", err)
	}
	c.response("GET")
	c.send("GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	// A body shorter than declared: the client can only learn it from the
	// connection's end.
	if got := c.rest(); !strings.HasSuffix(got, "\r\n\r\nabc") {
		t.Errorf("short body: %q, want the 3 bytes then a close", got)
	}
}

func TestServerTimeouts(t *testing.T) {
	t.Run("slowloris header", func(t *testing.T) {
		addr := testServer(t, &Server{ReadHeaderTimeout: 100 * time.Millisecond, Handler: http.NotFoundHandler()})
		c := dialServer(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n")
		start := time.Now()
		if got := c.rest(); got != "" {
			t.Errorf("got %q, want a silent close", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("closed after %v, want about 100ms", d)
		}
	})
	t.Run("idle", func(t *testing.T) {
		addr := testServer(t, &Server{IdleTimeout: 100 * time.Millisecond, Handler: http.NotFoundHandler()})
		c := dialServer(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.response("GET")
		start := time.Now()
		if got := c.rest(); got != "" {
			t.Errorf("got %q", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("idle connection closed after %v, want about 100ms", d)
		}
	})
	t.Run("body", func(t *testing.T) {
		errc := make(chan error, 1)
		addr := testServer(t, &Server{ReadTimeout: 100 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			errc <- err
		})})
		c := dialServer(t, addr)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		select {
		case err := <-errc:
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("reading a stalled body: %v, want a timeout", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a stalled body was not cut off")
		}
	})
}

func TestServerClientGone(t *testing.T) {
	causes := make(chan error, 1)
	addr := testServer(t, &Server{WatchAfter: 10 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			causes <- context.Cause(r.Context())
		case <-time.After(5 * time.Second):
			causes <- nil
		}
	})})
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	_ = c.c.Close()
	if err := <-causes; !errors.Is(err, ErrClientClosed) {
		t.Errorf("context cause %v, want ErrClientClosed", err)
	}
}

// TestServerWatchKeepsPipelinedByte: a request pipelined while a long
// handler is watched is served intact.
func TestServerWatchKeepsPipelinedByte(t *testing.T) {
	addr := testServer(t, &Server{WatchAfter: 5 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(150 * time.Millisecond)
		}
		if r.Context().Err() != nil {
			t.Errorf("%s: context ended: %v", r.URL.Path, context.Cause(r.Context()))
		}
		_, _ = io.WriteString(w, r.URL.Path) //nolint:gosec // a test server echoing to a test client
	})})
	c := dialServer(t, addr)
	c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(60 * time.Millisecond) // the watch runs by now
	c.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/slow", "/next"} {
		if _, body := c.response("GET"); body != want {
			t.Errorf("body %q, want %q", body, want)
		}
	}
}

func TestServerHijack(t *testing.T) {
	addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = conn.Close() }()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		// Echo lines, the first of which the client sent with its request.
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = brw.WriteString("echo " + line)
			_ = brw.Flush()
		}
	})})
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nfirst\n")
	resp, err := http.ReadResponse(c.br, nil) //nolint:bodyclose // a 101 has no body; the connection is the stream
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	for _, line := range []string{"first\n", "second\n"} {
		if line == "second\n" {
			c.send(line)
		}
		got, err := c.br.ReadString('\n')
		if err != nil || got != "echo "+line {
			t.Errorf("%q %v, want echo %q", got, err, line)
		}
	}
}

func TestServerPanic(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	addr := testServer(t, &Server{
		ErrorLog: log.New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logged.Write(p) }), "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/boom":
				panic("boom")
			case "/abort":
				panic(http.ErrAbortHandler)
			}
			_, _ = io.WriteString(w, "fine")
		}),
	})
	for _, p := range []string{"/boom", "/abort"} {
		c := dialServer(t, addr)
		c.send("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := c.rest(); got != "" {
			t.Errorf("%s: got %q, want the connection closed", p, got)
		}
	}
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := c.response("GET"); body != "fine" {
		t.Errorf("after the panics: %q", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logged.String(), "panic serving"); n != 1 {
		t.Errorf("%d panics logged, want 1 (ErrAbortHandler is silent): %s", n, logged.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestServerShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})}
	addr := testServer(t, s)
	idle := dialServer(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.response("GET")
	busy := dialServer(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if got := idle.rest(); got != "" {
		t.Errorf("idle connection got %q, want closed", got)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the listener still accepts")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	resp, body := busy.response("GET")
	if body != "done" || !resp.Close {
		t.Errorf("in-flight request: %q close=%v, want done and Connection: close", body, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestServerShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	})}
	addr := testServer(t, s)
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the context's deadline", err)
	}
	_ = s.Close() // ends the connection; the handler sees its context end
	if got := c.rest(); got != "" {
		t.Errorf("got %q after Close", got)
	}
}

// TestServerSendsCompleteBodyEarly: a body of declared length goes out as
// soon as its last byte is written, not when the handler returns.
func TestServerSendsCompleteBodyEarly(t *testing.T) {
	release := make(chan struct{})
	addr := testServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4")
		_, _ = io.WriteString(w, "done")
		<-release // the handler's own bookkeeping, after the response
	})})
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	got := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			got <- err.Error()
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	select {
	case body := <-got:
		if body != "done" {
			t.Errorf("body %q", body)
		}
	case <-time.After(5 * time.Second):
		t.Error("the response waited for the handler to return")
	}
	close(release)
}
