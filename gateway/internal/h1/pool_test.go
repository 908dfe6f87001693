package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestMaxConnsPerHost: 8 concurrent slow requests share 2 connections.
func TestMaxConnsPerHost(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond)
		_, _ = io.WriteString(w, r.URL.Path) //nolint:gosec // a test server echoing the path to its own client
	}))
	tr := newTransport(t, &Transport{MaxConnsPerHost: 2})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p := fmt.Sprintf("/%d", i)
			resp, body, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, s.URL+p, nil)) //nolint:bodyclose // do closes it
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			if resp.StatusCode != 200 || body != p {
				t.Errorf("request %d: %d %q", i, resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	if m := s.maxOpen.Load(); m > 2 {
		t.Errorf("server saw %d connections at once, want at most 2", m)
	}
	if d := tr.Dials(); d > 2 {
		t.Errorf("Dials %d, want at most 2", d)
	}
	if open, idle := hostStats(t, tr, s.Listener.Addr().String()); open != int(tr.Dials()) || idle != open {
		t.Errorf("open %d idle %d, want both %d", open, idle, tr.Dials())
	}
}

// TestWaiterContext: a request waiting for a connection gives up with its
// context and leaves no slot behind.
func TestWaiterContext(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	}))
	addr := s.Listener.Addr().String()
	tr := newTransport(t, &Transport{MaxConnsPerHost: 1})
	slow := make(chan error, 1)
	go func() {
		_, _, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, s.URL+"/slow", nil)) //nolint:bodyclose // do closes it
		slow <- err
	}()
	eventually(t, "the slow request to take the connection", func() bool {
		m := tr.hosts.Load()
		return s.accepted.Load() == 1 && m != nil && (*m)[addr] != nil
	})
	for _, cancelFirst := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		if cancelFirst {
			cancel()
		}
		_, _, err := do(t, tr, newReq(t, ctx, http.MethodGet, s.URL+"/", nil)) //nolint:bodyclose // do closes it
		cancel()
		if cancelFirst && !errors.Is(err, context.Canceled) {
			t.Errorf("canceled waiter: %v, want context.Canceled", err)
		}
		if !cancelFirst && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiter: %v, want context.DeadlineExceeded", err)
		}
	}
	// Waiters that gave up, and one that waits for the connection to come back.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _, _, _ = do(t, tr, newReq(t, ctx, http.MethodGet, s.URL+"/", nil)) }) //nolint:bodyclose // do closes it
	}
	got := make(chan string, 1)
	go func() {
		time.Sleep(10 * time.Millisecond)
		got <- mustGet(t, tr, s.URL+"/")
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	wg.Wait()
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("slow request: %v", err)
	}
	if b := <-got; b != "ok" {
		t.Errorf("body %q", b)
	}
	for range 5 {
		mustGet(t, tr, s.URL+"/")
	}
	if open, idle := hostStats(t, tr, addr); open != 1 || idle != 1 {
		t.Errorf("open %d idle %d, want 1 1", open, idle)
	}
	if d := tr.Dials(); d != 1 {
		t.Errorf("Dials %d, want 1", d)
	}
}

// TestWaiterGetsSlot: a connection that closes frees its slot for a
// waiter, which dials.
func TestWaiterGetsSlot(t *testing.T) {
	s := newRawServer(t, replyLoop("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", nil))
	tr := newTransport(t, &Transport{MaxConnsPerHost: 1})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { mustGet(t, tr, s.url("/")) })
	}
	wg.Wait()
	if d := tr.Dials(); d != 6 {
		t.Errorf("Dials %d, want 6", d)
	}
	if open, idle := hostStats(t, tr, s.addr()); open != 0 || idle != 0 {
		t.Errorf("open %d idle %d, want 0 0", open, idle)
	}
}

// TestDialFailureFreesSlot: a failed dial gives its slot back.
func TestDialFailureFreesSlot(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	s := newRawServer(t, replyLoop(okReply, nil))
	var d net.Dialer
	tr := newTransport(t, &Transport{
		MaxConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if fail.Load() {
				return nil, errors.New("dial refused")
			}
			return d.DialContext(ctx, network, addr)
		},
	})
	for range 3 {
		if err := rtErr(tr, newReq(t, context.Background(), http.MethodGet, s.url("/"), nil)); err == nil || err.Error() != "dial refused" {
			t.Errorf("error %v, want dial refused", err)
		}
	}
	fail.Store(false)
	mustGet(t, tr, s.url("/"))
	if open, idle := hostStats(t, tr, s.addr()); open != 1 || idle != 1 {
		t.Errorf("open %d idle %d, want 1 1", open, idle)
	}
}

// TestMaxIdleConnsPerHost: after 3 concurrent requests only 1 connection
// stays idle.
func TestMaxIdleConnsPerHost(t *testing.T) {
	for _, tc := range []struct{ max, idle int }{{1, 1}, {-1, 0}, {0, 3}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			var arrived sync.WaitGroup
			arrived.Add(3)
			all := make(chan struct{})
			go func() { arrived.Wait(); close(all) }()
			s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived.Done()
				<-all
				_, _ = io.WriteString(w, "ok")
			}))
			tr := newTransport(t, &Transport{MaxIdleConnsPerHost: tc.max})
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() { mustGet(t, tr, s.URL) })
			}
			wg.Wait()
			open, idle := hostStats(t, tr, s.Listener.Addr().String())
			if open != tc.idle || idle != tc.idle {
				t.Errorf("open %d idle %d, want %d %d", open, idle, tc.idle, tc.idle)
			}
			eventually(t, "the server to see the closes", func() bool { return s.open.Load() == int64(tc.idle) })
		})
	}
}

// pipeUpstream serves HTTP/1.1 over net.Pipe connections: its dial
// returns the client end and serves the other in a goroutine. closedAt
// records when the server saw each connection's close.
type pipeUpstream struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	closedAt []time.Time
	dials    int
}

func (u *pipeUpstream) dial(_ context.Context, _, addr string) (net.Conn, error) {
	if addr != "up.test:80" {
		return nil, fmt.Errorf("dial %q, want up.test:80", addr)
	}
	cc, sc := net.Pipe()
	u.mu.Lock()
	u.dials++
	u.mu.Unlock()
	u.wg.Go(func() {
		defer func() { _ = sc.Close() }()
		br := bufio.NewReader(sc)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				u.mu.Lock()
				u.closedAt = append(u.closedAt, time.Now())
				u.mu.Unlock()
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(sc, okReply); err != nil {
				return
			}
		}
	})
	return cc, nil
}

func (u *pipeUpstream) closes() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.closedAt...)
}

// TestIdleConnTimeout: the sweeper closes an idle connection once its
// timeout passed, not before, in fake time.
func TestIdleConnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &pipeUpstream{}
		tr := &Transport{DialContext: u.dial, IdleConnTimeout: 10 * time.Second}
		start := time.Now()
		mustGet(t, tr, "http://up.test/")
		synctest.Wait()
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		if c := u.closes(); len(c) != 0 {
			t.Fatalf("closed at %v, before the idle timeout", c[0].Sub(start))
		}
		// Reused before the timeout: its idle time starts again.
		mustGet(t, tr, "http://up.test/")
		restart := time.Now()
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		if c := u.closes(); len(c) != 0 {
			t.Fatalf("closed %v after reuse, before the idle timeout", c[0].Sub(restart))
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		c := u.closes()
		if len(c) != 1 || c[0].Sub(restart) != 10*time.Second {
			t.Fatalf("closes %v, want one at 10s after the last use", c)
		}
		if open, idle := hostStats(t, tr, "up.test"); open != 0 || idle != 0 {
			t.Errorf("open %d idle %d, want 0 0", open, idle)
		}
		// A later request dials again.
		mustGet(t, tr, "http://up.test/")
		if u.dials != 2 {
			t.Errorf("dials %d, want 2", u.dials)
		}
		tr.Close()
		u.wg.Wait()
	})
}

// TestIdleConnTimeoutSeveral: connections idle since different times are
// each closed at their own timeout.
func TestIdleConnTimeoutSeveral(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &pipeUpstream{}
		tr := &Transport{DialContext: u.dial, IdleConnTimeout: 10 * time.Second}
		start := time.Now()
		// Two connections at once, returned 3s apart.
		r1, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, "http://up.test/", nil))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := tr.RoundTrip(newReq(t, context.Background(), http.MethodGet, "http://up.test/", nil))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(r1.Body)
		r1.Body.Close()
		time.Sleep(3 * time.Second)
		_, _ = io.ReadAll(r2.Body)
		r2.Body.Close()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		c := u.closes()
		if len(c) != 2 || c[0].Sub(start) != 10*time.Second || c[1].Sub(start) != 13*time.Second {
			t.Errorf("closes %v after start, want 10s and 13s", c)
		}
		tr.Close()
		u.wg.Wait()
	})
}

// TestCloseWithWaiters: requests waiting for a connection when Close is
// called fail with ErrClosed once a slot frees; none dials.
func TestCloseWithWaiters(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	addr := s.Listener.Addr().String()
	tr := &Transport{MaxConnsPerHost: 1}
	first := make(chan error, 1)
	go func() {
		_, _, err := do(t, tr, newReq(t, context.Background(), http.MethodGet, s.URL, nil)) //nolint:bodyclose // do closes it
		first <- err
	}()
	eventually(t, "the first request to take the connection", func() bool { return s.accepted.Load() == 1 })
	waiters := make(chan error, 3)
	for range 3 {
		go func() { waiters <- rtErr(tr, newReq(t, context.Background(), http.MethodGet, s.URL, nil)) }()
	}
	eventually(t, "the waiters to queue", func() bool {
		m := tr.hosts.Load()
		h := (*m)[addr]
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.waiters) == 3
	})
	tr.Close()
	close(release)
	if err := <-first; err != nil {
		t.Errorf("request in flight: %v", err)
	}
	for range 3 {
		if err := <-waiters; !errors.Is(err, ErrClosed) {
			t.Errorf("waiter: %v, want ErrClosed", err)
		}
	}
	if d := tr.Dials(); d != 1 {
		t.Errorf("Dials %d, want 1", d)
	}
	if open, idle := hostStats(t, tr, addr); open != 0 || idle != 0 {
		t.Errorf("open %d idle %d, want 0 0", open, idle)
	}
}
