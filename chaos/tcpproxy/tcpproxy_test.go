package tcpproxy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

// env is a Server with its control API on 127.0.0.1, and the official
// Toxiproxy client pointed at it.
type env struct {
	srv    *Server
	api    *httptest.Server
	client *toxiproxy.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := MustNew(Config{Seed: 1, Logger: quiet})
	api := httptest.NewServer(s)
	t.Cleanup(func() {
		api.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return &env{srv: s, api: api, client: toxiproxy.NewClient(api.URL)}
}

// upstream is a TCP server on 127.0.0.1 that runs serve for each
// connection and closes it afterwards.
func upstream(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				serve(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

func (e *env) proxy(t testing.TB, name, up string) *toxiproxy.Proxy {
	t.Helper()
	p, err := e.client.CreateProxy(name, "127.0.0.1:0", up)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg on c and reads it back, and returns how long it took.
func roundTrip(t testing.TB, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo: got %q, want %q", got, msg)
	}
	return time.Since(start)
}

func addToxic(t testing.TB, p *toxiproxy.Proxy, typ, stream string, toxicity float32, attrs toxiproxy.Attributes) {
	t.Helper()
	if _, err := p.AddToxic("", typ, stream, toxicity, attrs); err != nil {
		t.Fatal(err)
	}
}

func TestLatencyToxic(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	c := dial(t, p.Listen)
	if d := roundTrip(t, c, []byte("ping")); d > 80*time.Millisecond {
		t.Errorf("no toxic: round trip took %v, want < 80ms", d)
	}
	addToxic(t, p, "latency", "downstream", 1, toxiproxy.Attributes{"latency": 100})
	addToxic(t, p, "latency", "upstream", 1, toxiproxy.Attributes{"latency": 50, "jitter": 10})
	// The toxics apply to the open connection and to new ones.
	for i, c := range []net.Conn{c, dial(t, p.Listen)} {
		if d := roundTrip(t, c, []byte("ping")); d < 140*time.Millisecond || d > 240*time.Millisecond {
			t.Errorf("connection %d: latency 100ms down + 50±10ms up: round trip took %v, want [140ms, 240ms]", i, d)
		}
	}
	if err := p.RemoveToxic("latency_downstream"); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveToxic("latency_upstream"); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, []byte("ping")); d > 80*time.Millisecond {
		t.Errorf("toxics removed: round trip took %v, want < 80ms", d)
	}
}

func TestBandwidthToxic(t *testing.T) {
	const size = 60_000
	data := bytes.Repeat([]byte("b"), size)
	e := newEnv(t)
	p := e.proxy(t, "source", upstream(t, func(c net.Conn) { _, _ = c.Write(data) }))
	addToxic(t, p, "bandwidth", "downstream", 1, toxiproxy.Attributes{"rate": 100}) // 100 KB/s: 0.6s
	c := dial(t, p.Listen)
	start := time.Now()
	got, err := io.ReadAll(c)
	d := time.Since(start)
	if err != nil || len(got) != size {
		t.Fatalf("got %d bytes, %v; want %d", len(got), err, size)
	}
	if rate := float64(size) / d.Seconds(); rate < 90_000 || rate > 110_000 {
		t.Errorf("got %.0f B/s (%d bytes in %v), want 100000 ± 10%%", rate, size, d)
	}
}

func TestResetPeerToxic(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	addToxic(t, p, "reset_peer", "downstream", 1, toxiproxy.Attributes{"timeout": 0})
	c := dial(t, p.Listen)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("got %d bytes, %v; want a connection reset", n, err)
	}
}

func TestTimeoutToxic(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	addToxic(t, p, "timeout", "downstream", 1, toxiproxy.Attributes{"timeout": 0})
	c := dial(t, p.Listen)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 10)); !errors.Is(err, syscall.ETIMEDOUT) && !isTimeout(err) {
		t.Fatalf("black hole: got %d bytes, %v; want no data until the read deadline", n, err)
	}

	if _, err := p.UpdateToxic("timeout_downstream", 1, toxiproxy.Attributes{"timeout": 150}); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, p.Listen)
	start := time.Now()
	_, _ = c2.Write([]byte("hello"))
	_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(c2)
	if d := time.Since(start); len(got) != 0 || err != nil || d < 150*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("timeout 150ms: got %q, %v after %v; want no data and a close after ~150ms", got, err, d)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestLimitDataToxic(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	addToxic(t, p, "limit_data", "downstream", 1, toxiproxy.Attributes{"bytes": 10})
	c := dial(t, p.Listen)
	if _, err := c.Write(bytes.Repeat([]byte("x"), 100)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(c)
	if len(got) != 10 || err != nil {
		t.Fatalf("got %d bytes, %v; want exactly 10 and a close", len(got), err)
	}
}

func TestDown(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	open := dial(t, p.Listen)
	roundTrip(t, open, []byte("up"))
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", p.Listen); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("proxy down: dial got %v, want connection refused", err)
	}
	_ = open.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := open.Read(make([]byte, 1)); err == nil {
		t.Fatalf("proxy down: open connection read %d bytes, want it closed", n)
	}
	if err := p.Enable(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, dial(t, p.Listen), []byte("up again"))
}

func TestSlicerToxic(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	// 1000 bytes in slices of 100 ± 20, 10ms apart: at least ~8 pauses.
	addToxic(t, p, "slicer", "downstream", 1, toxiproxy.Attributes{"average_size": 100, "size_variation": 20, "delay": 10_000})
	c := dial(t, p.Listen)
	msg := bytes.Repeat([]byte("0123456789"), 100)
	if d := roundTrip(t, c, msg); d < 70*time.Millisecond {
		t.Errorf("slicer: round trip took %v, want >= 70ms", d)
	}
}

func TestSlowCloseToxic(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "hello", upstream(t, func(c net.Conn) { _, _ = c.Write([]byte("bye")) }))
	addToxic(t, p, "slow_close", "downstream", 1, toxiproxy.Attributes{"delay": 150})
	c := dial(t, p.Listen)
	start := time.Now()
	got, err := io.ReadAll(c)
	if d := time.Since(start); string(got) != "bye" || err != nil || d < 150*time.Millisecond {
		t.Fatalf("got %q, %v after %v; want bye and the close after >= 150ms", got, err, d)
	}
}

// TestToxicity checks that toxicity 0 never applies, and that 0.5 applies to
// about half of the connections.
func TestToxicity(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	addToxic(t, p, "limit_data", "downstream", 0, toxiproxy.Attributes{"bytes": 0})
	count := func(n int) int {
		hit := 0
		for range n {
			c, err := net.Dial("tcp", p.Listen)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte("abc"))
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			got, _ := io.ReadAll(io.LimitReader(c, 3))
			if len(got) < 3 {
				hit++
			}
			_ = c.Close()
		}
		return hit
	}
	if hit := count(20); hit != 0 {
		t.Errorf("toxicity 0: %d of 20 connections affected, want 0", hit)
	}
	if _, err := p.UpdateToxic("limit_data_downstream", 0.5, toxiproxy.Attributes{}); err != nil {
		t.Fatal(err)
	}
	// n=200, p=0.5: σ ≈ 7.1; accept ±4.5σ.
	if hit := count(200); hit < 68 || hit > 132 {
		t.Errorf("toxicity 0.5: %d of 200 connections affected, want 100 ± 32", hit)
	}
}

func TestCloseJoinsConnections(t *testing.T) {
	s := MustNew(Config{Seed: 1, Logger: quiet})
	up := upstream(t, echo)
	p, err := s.CreateProxy(Proxy{Name: "p", Listen: "127.0.0.1:0", Upstream: up, Enabled: true,
		Toxics: []Toxic{{Type: "latency", Toxicity: 1, Attributes: Attributes{"latency": 10_000}}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		c := dial(t, p.Listen)
		_, _ = c.Write([]byte("x")) // held in a 10s latency
	}
	dial(t, p.Listen) // an idle connection, on the zero-copy path
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with connections in a 10s latency, want it to cut them short", d)
	}
	if _, err := s.Proxies(); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
	// goleak in TestMain checks that no goroutine is left.
}

// TestToxicChangesApplyToOpenConnection adds and removes a toxic on an open
// connection again and again: data sent after each change must see it, on
// the zero-copy path and on the chunked path alike.
func TestToxicChangesApplyToOpenConnection(t *testing.T) {
	e := newEnv(t)
	p := e.proxy(t, "echo", upstream(t, echo))
	c := dial(t, p.Listen)
	for i := range 30 {
		addToxic(t, p, "latency", "downstream", 1, toxiproxy.Attributes{"latency": 20})
		if d := roundTrip(t, c, []byte("ping")); d < 20*time.Millisecond {
			t.Fatalf("iteration %d: toxic added, round trip took %v, want >= 20ms", i, d)
		}
		if err := p.RemoveToxic("latency_downstream"); err != nil {
			t.Fatal(err)
		}
		if d := roundTrip(t, c, []byte("ping")); d >= 20*time.Millisecond {
			t.Fatalf("iteration %d: toxic removed, round trip took %v, want < 20ms", i, d)
		}
	}
}
