package h1

// Cases found in review, each checked against net/http's server.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The sweep stops at Shutdown, so a client stalled in its header is never
// timed out and Shutdown waits for the context.
func TestServerShutdownStalledHeader(t *testing.T) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ReadHeaderTimeout: 100 * time.Millisecond}
	addr := testServer(t, s)
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\n") // and nothing more
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := s.Shutdown(ctx)
	t.Logf("Shutdown: %v after %v (ReadHeaderTimeout 100ms)", err, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Errorf("Shutdown did not return after the header timeout: %v", err)
	}
}

// Same with a handler blocked reading a body the client stopped sending.
func TestServerShutdownStalledBody(t *testing.T) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.ReadAll(r.Body) }), ReadTimeout: 200 * time.Millisecond}
	addr := testServer(t, s)
	c := dialServer(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := s.Shutdown(ctx)
	t.Logf("Shutdown: %v after %v (ReadTimeout 200ms)", err, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Errorf("Shutdown did not return after the read timeout: %v", err)
	}
}

// A read deadline a handler sets through http.ResponseController outlives
// its request: the next request on the connection fails.
func TestServerHandlerDeadlineLeaks(t *testing.T) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		}
		_, _ = io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "ok")
	})}
	addr := testServer(t, s)
	c := dialServer(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	if rep, _ := c.response("GET"); rep.StatusCode != 200 {
		t.Fatal(rep.StatusCode)
	}
	time.Sleep(300 * time.Millisecond) // well within any idle timeout (none set)
	c.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("second request on the connection: %v", err)
	}
	_ = resp.Body.Close()
}

// The watch reads with the handler's deadline: a handler that bounds its
// body read sees its context canceled as if the client had left.
func TestServerWatchHandlerDeadline(t *testing.T) {
	got := make(chan error, 1)
	s := &Server{WatchAfter: 10 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			got <- context.Cause(r.Context())
		case <-time.After(400 * time.Millisecond):
			got <- nil
		}
	})}
	addr := testServer(t, s)
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := <-got; err != nil {
		t.Errorf("request canceled while the client is connected: %v", err)
	}
}

// net/http does not sniff a Content-Type for an encoded body.
func TestServerSniffEncoded(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"))
	})
	addr := testServer(t, &Server{Handler: h})
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	rep, _ := c.response("GET")
	if ct := rep.Header.Get("Content-Type"); ct != "" {
		t.Errorf("Content-Type %q sniffed for a gzip-encoded body (net/http sends none)", ct)
	}
}

// WriteHeader(101) then Hijack, as net/http allows: the handler's
// "Connection: Upgrade" is dropped.
func TestServerUpgradeConnectionHeader(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	addr := testServer(t, &Server{Handler: h})
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	b, _ := io.ReadAll(c.br)
	t.Logf("%q", b)
	if !strings.Contains(strings.ToLower(string(b)), "connection: upgrade") {
		t.Errorf("101 without Connection: Upgrade")
	}
}

// A body reader's failed "100 Continue" sets w.err and w.closeAfter under
// wmu, while the handler's goroutine reads and writes them without it.
func TestServerContinueFailRace(t *testing.T) {
	done := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		time.Sleep(100 * time.Millisecond) // the client resets meanwhile
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = io.ReadAll(r.Body) }() // a proxy's body writer
		for i := 0; i < 200; i++ {
			_, _ = w.Write([]byte("x"))
			time.Sleep(50 * time.Microsecond)
		}
		wg.Wait()
	})
	addr := testServer(t, &Server{Handler: h})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	time.Sleep(30 * time.Millisecond)
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
	<-done
}

// net/http answers at once, closing, when more than 256 KiB of a body is
// unread; here the first write (or the handler's return) drains the body
// first, and waits for a client that waits for the answer.
func TestServerLargeUnreadBodyBlocks(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	addr := testServer(t, &Server{Handler: h, ReadTimeout: 3 * time.Second})
	c := dialServer(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nsome")
	start := time.Now()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rep, _ := c.response("POST")
	if rep.StatusCode != http.StatusUnauthorized || !rep.Close {
		t.Errorf("%d close=%v, want 401 and a close", rep.StatusCode, rep.Close)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the 401 waited %v for the body", d)
	}
}

// Same with a small body and "Connection: close": net/http does not drain
// a body on a connection it closes anyway.
func TestServerUnreadBodyCloseBlocks(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	addr := testServer(t, &Server{Handler: h, ReadTimeout: 2 * time.Second})
	c := dialServer(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n")
	start := time.Now()
	rep, _ := c.response("POST")
	if rep.StatusCode != http.StatusUnauthorized || !rep.Close {
		t.Errorf("%d close=%v, want 401 and a close", rep.StatusCode, rep.Close)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the 401 waited %v for the body", d)
	}
}

// An announced trailer name is written without checking it is a field
// name: CR LF in it splits the trailer section (net/http's Header.Write
// drops such names).
func TestServerTrailerNameInjection(t *testing.T) {
	const name = "X-A\r\nInjected: yes\r\nX-B"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Trailer"] = []string{name}
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "body")
		w.Header()[name] = []string{"v"}
	})
	addr := testServer(t, &Server{Handler: h})
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b := c.rest()
	t.Logf("%q", b)
	if strings.Contains(b, "\r\nInjected: yes\r\n") {
		t.Errorf("a trailer line was injected")
	}
}

// A handler that outlives ReadTimeout without reading a small body (all of
// it arrived at once): the response says keep-alive, then the server
// closes the connection; net/http keeps it.
func TestServerReadTimeoutUnreadBodyClose(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		w.WriteHeader(204)
	})
	addr := testServer(t, &Server{Handler: h, ReadTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second})
	c := dialServer(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	rep, _ := c.response("POST")
	t.Logf("status %d, Close %v", rep.StatusCode, rep.Close)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if rep, _ := c.response("GET"); rep.StatusCode != http.StatusNoContent {
		t.Errorf("second request on the kept connection: %d", rep.StatusCode)
	}
}

// net/http refuses (panics) a Hijack after ServeHTTP returned, under the
// connection's lock; here handlerDone is a plain bool and nothing orders
// the late Hijack against finish and the next request.
func TestServerLateHijack(t *testing.T) {
	got := make(chan error, 1)
	answered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		go func() {
			<-answered
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
			got <- err
		}()
	})
	addr := testServer(t, &Server{Handler: h})
	c := dialServer(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.response("GET")
	close(answered)
	if err := <-got; !errors.Is(err, errLateHijack) {
		t.Errorf("Hijack after the handler returned: %v, want errLateHijack", err)
	}
}

// TestBufferWatchByte: the byte the watch read lands behind what the read
// buffer holds, also when the buffer is full.
func TestBufferWatchByte(t *testing.T) {
	for _, held := range []int{0, 10, 4 << 10} {
		client, server := net.Pipe()
		c := newSconn(&Server{}, server)
		go func() {
			_, _ = client.Write([]byte(strings.Repeat("a", held)))
			_, _ = client.Write([]byte("c"))
			_ = client.Close()
		}()
		if held > 0 {
			if _, err := c.br.Peek(held); err != nil {
				t.Fatal(err)
			}
		}
		c.r.hasByte, c.r.b = true, 'b'
		if err := c.bufferWatchByte(); err != nil {
			t.Fatalf("held %d: %v", held, err)
		}
		if got := c.br.Buffered(); got != held+1 {
			t.Errorf("held %d: %d bytes buffered, want %d", held, got, held+1)
		}
		rest, _ := io.ReadAll(c.br)
		if want := strings.Repeat("a", held) + "bc"; string(rest) != want {
			t.Errorf("held %d: read %q, want %q", held, rest, want)
		}
		_ = server.Close()
	}
}
