package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
)

// backend is a test server that counts its requests.
type backend struct {
	srv  *httptest.Server
	addr string
	hits atomic.Int64
}

func newBackend(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *backend {
	t.Helper()
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("X-Backend", b.addr)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	b.addr = b.srv.Listener.Addr().String()
	t.Cleanup(b.srv.Close)
	return b
}

// deadAddr returns a 127.0.0.1 address with nothing listening.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// events records host events.
type events struct {
	mu  sync.Mutex
	evs []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() }

func (e *events) of(kind EventKind, host string) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.evs {
		if ev.Kind == kind && (host == "" || ev.Host == host) {
			out = append(out, ev)
		}
	}
	return out
}

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "api"
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// get sends one attempt through p and returns the backend that answered
// ("" on error) and the status.
func get(t *testing.T, p *Pool, ctx context.Context) (string, int, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.internal/x", nil)
	resp, err := p.RoundTrip(req)
	if err != nil {
		return "", 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.Header.Get("X-Backend"), resp.StatusCode, nil
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectFailuresEjectAndReadmit(t *testing.T) {
	a, b := newBackend(t, nil), newBackend(t, nil)
	dead := deadAddr(t)
	var ev events
	p := newPool(t, Config{
		Targets:  []string{a.addr, b.addr, dead},
		Balancer: RoundRobin,
		Outlier:  Outlier{Interval: 5 * time.Second, BaseEjectionTime: 300 * time.Millisecond},
		OnEvent:  ev.add,
	})
	ctx := context.Background()
	failures := 0
	for range 9 {
		if _, _, err := get(t, p, ctx); err != nil {
			failures++
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "dial" {
				t.Fatalf("error %v: want a *net.OpError with Op dial in its chain", err)
			}
		}
	}
	if failures != 3 {
		t.Errorf("%d failed attempts before the ejection, want 3 (ConsecutiveConnectFailures)", failures)
	}
	ej := ev.of(EventEjected, dead)
	if len(ej) != 1 || ej[0].Reason != ReasonConsecutiveConnect || ej[0].Duration != 300*time.Millisecond {
		t.Fatalf("ejection events %+v, want one for %s, consecutive_connect_failures, 300ms", ej, dead)
	}
	if st := p.Status(); !st.Hosts[2].Ejected || st.Hosts[2].Ejections != 1 {
		t.Errorf("Status of the dead host %+v, want ejected once", st.Hosts[2])
	}
	for range 20 {
		if host, _, err := get(t, p, ctx); err != nil || host == "" {
			t.Fatalf("attempt while the dead host is ejected: host %q, err %v; want a live host", host, err)
		}
	}
	waitFor(t, "readmission", 2*time.Second, func() bool { return len(ev.of(EventReadmitted, dead)) == 1 })
	if d := ev.of(EventReadmitted, dead)[0].Time.Sub(ej[0].Time); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("readmitted %v after the ejection, want 300ms (+ scheduling)", d)
	}
	for range 9 {
		_, _, _ = get(t, p, ctx)
	}
	ej = ev.of(EventEjected, dead)
	if len(ej) != 2 || ej[1].Duration != 600*time.Millisecond {
		t.Fatalf("ejection events %+v, want a second one of 600ms (2 × base)", ej)
	}
}

func Test5xxEjectionMaxPercentAndPanic(t *testing.T) {
	fail := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
	t.Run("max ejection percent", func(t *testing.T) {
		good := newBackend(t, nil)
		bad := []*backend{newBackend(t, fail), newBackend(t, fail), newBackend(t, fail)}
		var ev events
		p := newPool(t, Config{
			Targets:  []string{good.addr, bad[0].addr, bad[1].addr, bad[2].addr},
			Balancer: RoundRobin,
			Outlier:  Outlier{Interval: time.Hour, BaseEjectionTime: time.Hour, PanicThreshold: -1},
			OnEvent:  ev.add,
		})
		for range 40 {
			_, _, _ = get(t, p, context.Background())
		}
		ej := ev.of(EventEjected, "")
		if len(ej) != 2 {
			t.Fatalf("%d ejections %+v, want 2 (50%% of 4 hosts)", len(ej), ej)
		}
		for _, e := range ej {
			if e.Reason != ReasonConsecutive5xx || e.Host == good.addr {
				t.Errorf("ejection %+v, want a failing host for consecutive_5xx", e)
			}
		}
		if st := p.Status(); st.Panic {
			t.Error("Status.Panic with panic mode off")
		}
	})
	t.Run("panic", func(t *testing.T) {
		good := newBackend(t, nil)
		bad := []*backend{newBackend(t, fail), newBackend(t, fail), newBackend(t, fail)}
		p := newPool(t, Config{
			Targets:  []string{good.addr, bad[0].addr, bad[1].addr, bad[2].addr},
			Balancer: RoundRobin,
			Outlier:  Outlier{Interval: time.Hour, BaseEjectionTime: time.Hour, MaxEjectionPercent: 1},
		})
		for range 40 {
			_, _, _ = get(t, p, context.Background())
		}
		st := p.Status()
		if !st.Panic {
			t.Fatalf("Status %+v: want panic with 1 of 4 hosts available", st)
		}
		before := bad[0].hits.Load()
		for range 40 {
			_, _, _ = get(t, p, context.Background())
		}
		if n := bad[0].hits.Load() - before; n != 10 {
			t.Errorf("an ejected host got %d of 40 attempts in panic mode, want 10 (all hosts in turn)", n)
		}
	})
}

func TestLatencyEjection(t *testing.T) {
	slow := func(w http.ResponseWriter, _ *http.Request) { time.Sleep(20 * time.Millisecond) }
	fast := func(w http.ResponseWriter, _ *http.Request) { time.Sleep(2 * time.Millisecond) }
	a, b, s := newBackend(t, fast), newBackend(t, fast), newBackend(t, slow)
	var ev events
	p := newPool(t, Config{
		Targets:  []string{a.addr, b.addr, s.addr},
		Balancer: RoundRobin,
		Outlier: Outlier{
			Interval: 300 * time.Millisecond, BaseEjectionTime: time.Minute,
			Latency: &Latency{MinRequests: 5, Threshold: 10 * time.Millisecond},
		},
		OnEvent: ev.add,
	})
	deadline := time.Now().Add(3 * time.Second)
	for len(ev.of(EventEjected, "")) == 0 && time.Now().Before(deadline) {
		_, _, _ = get(t, p, context.Background())
	}
	ej := ev.of(EventEjected, "")
	if len(ej) != 1 || ej[0].Host != s.addr || ej[0].Reason != ReasonLatency {
		t.Fatalf("ejections %+v, want one of the slow host %s for latency", ej, s.addr)
	}
}

func TestPeakEWMAShares(t *testing.T) {
	slow := func(w http.ResponseWriter, _ *http.Request) { time.Sleep(50 * time.Millisecond) }
	fast := func(w http.ResponseWriter, _ *http.Request) { time.Sleep(5 * time.Millisecond) }
	const n = 120
	run := func(balancer string) float64 {
		a, b, s := newBackend(t, fast), newBackend(t, fast), newBackend(t, slow)
		p := newPool(t, Config{
			Targets:        []string{a.addr, b.addr, s.addr},
			Balancer:       balancer,
			Seed:           11,
			EWMADefaultRTT: time.Millisecond,
			Outlier:        Outlier{Disabled: true},
		})
		// Two concurrent clients, so active counts matter too.
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for range n / 2 {
					_, _, _ = get(t, p, context.Background())
				}
			})
		}
		wg.Wait()
		return float64(s.hits.Load()) / n
	}
	rr, ewma := run(RoundRobin), run(PeakEWMA)
	t.Logf("slow host share: round_robin %.2f, peak_ewma %.2f", rr, ewma)
	if ewma > 0.15 || ewma >= rr/2 {
		t.Errorf("slow host share with peak_ewma %.2f, want at most 0.15 and under half of round robin's %.2f", ewma, rr)
	}
}

func TestHealthCheckHTTP(t *testing.T) {
	var down atomic.Bool
	a := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	b := newBackend(t, nil)
	var ev events
	p := newPool(t, Config{
		Targets:     []string{a.addr, b.addr},
		Balancer:    RoundRobin,
		HealthCheck: &HealthCheck{Path: "/healthz", Interval: 20 * time.Millisecond},
		Outlier:     Outlier{PanicThreshold: -1},
		OnEvent:     ev.add,
	})
	down.Store(true)
	waitFor(t, "unhealthy", 2*time.Second, func() bool { return len(ev.of(EventUnhealthy, a.addr)) == 1 })
	before := a.hits.Load()
	for range 10 {
		if host, _, _ := get(t, p, context.Background()); host != b.addr {
			t.Fatalf("attempt went to %q, want the healthy %s", host, b.addr)
		}
	}
	if p.Status().Hosts[0].Healthy {
		t.Error("Status: unhealthy host reported healthy")
	}
	down.Store(false)
	waitFor(t, "healthy", 2*time.Second, func() bool { return len(ev.of(EventHealthy, a.addr)) == 1 })
	_ = before
}

// fakeResolver answers from a map that tests change.
type fakeResolver struct {
	mu    sync.Mutex
	addrs map[string][]string
	err   error
}

func (r *fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	return r.addrs[host], nil
}

func (r *fakeResolver) set(host string, addrs []string, err error) {
	r.mu.Lock()
	r.addrs[host], r.err = addrs, err
	r.mu.Unlock()
}

func TestDNSRefresh(t *testing.T) {
	res := &fakeResolver{addrs: map[string][]string{"api.svc": {"10.0.0.1", "10.0.0.2"}}}
	var ev events
	p := newPool(t, Config{
		Targets:    []string{"api.svc:8080", "10.9.9.9:80"},
		Resolver:   res,
		DNSRefresh: time.Hour,
		OnEvent:    ev.add,
		Breaker:    &breaker.Config{},
	})
	addrs := func() []string {
		var out []string
		for _, h := range p.Status().Hosts {
			out = append(out, h.Address)
		}
		return out
	}
	if diff := cmp.Diff([]string{"10.0.0.1:8080", "10.0.0.2:8080", "10.9.9.9:80"}, addrs()); diff != "" {
		t.Fatalf("initial hosts (-want +got):\n%s", diff)
	}
	if n := len(ev.of(EventAdded, "")); n != 3 {
		t.Errorf("%d added events, want 3", n)
	}
	if err := p.Drain("10.0.0.2:8080", true); err != nil {
		t.Fatal(err)
	}
	kept := p.hosts.Load().byAddr["10.0.0.2:8080"]
	br, _ := p.Breaker("10.0.0.2:8080")
	br.ForceOpen()

	res.set("api.svc", []string{"10.0.0.3", "10.0.0.2"}, nil)
	p.refresh(context.Background())
	if diff := cmp.Diff([]string{"10.0.0.2:8080", "10.0.0.3:8080", "10.9.9.9:80"}, addrs()); diff != "" {
		t.Fatalf("hosts after the change (-want +got):\n%s", diff)
	}
	if got := p.hosts.Load().byAddr["10.0.0.2:8080"]; got != kept || !got.drained.Load() {
		t.Error("the host that stayed lost its state (drain)")
	}
	if b2, _ := p.Breaker("10.0.0.2:8080"); b2 != br || b2.State() != breaker.ForcedOpen {
		t.Error("the host that stayed lost its breaker")
	}
	if got := ev.of(EventAdded, "10.0.0.3:8080"); len(got) != 1 || got[0].Reason != ReasonDNS {
		t.Errorf("added events for 10.0.0.3: %+v, want one, reason dns", got)
	}
	if got := ev.of(EventRemoved, "10.0.0.1:8080"); len(got) != 1 {
		t.Errorf("removed events for 10.0.0.1: %+v, want one", got)
	}
	// A failed lookup keeps the last addresses.
	res.set("api.svc", nil, errors.New("SERVFAIL"))
	p.refresh(context.Background())
	if diff := cmp.Diff([]string{"10.0.0.2:8080", "10.0.0.3:8080", "10.9.9.9:80"}, addrs()); diff != "" {
		t.Errorf("hosts after a failed lookup (-want +got):\n%s", diff)
	}
	if err := p.Drain("10.0.0.1:8080", true); err == nil {
		t.Error("Drain of a removed host: nil error")
	}
}

func TestAttemptTrackerPicksAnotherHost(t *testing.T) {
	a, b, c := newBackend(t, nil), newBackend(t, nil), newBackend(t, nil)
	p := newPool(t, Config{Targets: []string{a.addr, b.addr, c.addr}, Seed: 5})
	for i := range 30 {
		ctx := WithAttemptTracker(context.Background())
		seen := map[string]bool{}
		for range 3 {
			host, _, err := get(t, p, ctx)
			if err != nil {
				t.Fatal(err)
			}
			if seen[host] {
				t.Fatalf("request %d: attempt went to %s again, want a host not tried", i, host)
			}
			seen[host] = true
		}
		// With every host tried, a fourth attempt still gets one.
		if _, _, err := get(t, p, ctx); err != nil {
			t.Fatalf("fourth attempt: %v", err)
		}
	}
}

func TestBreakerAndDrainSkipHost(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	a := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	b := newBackend(t, nil)
	p := newPool(t, Config{
		Targets:  []string{a.addr, b.addr},
		Balancer: RoundRobin,
		Outlier:  Outlier{Disabled: true},
		Breaker:  &breaker.Config{MinimumCalls: 4, WindowSize: 4, OpenDuration: time.Hour},
	})
	for range 8 {
		_, _, _ = get(t, p, context.Background())
	}
	br, ok := p.Breaker(a.addr)
	if !ok || br.State() != breaker.Open {
		t.Fatalf("breaker of the failing host: %v, want open", br.State())
	}
	if got := p.Status().Hosts[0].Breaker; got != "open" {
		t.Errorf("Status breaker = %q, want open", got)
	}
	before := a.hits.Load()
	for range 10 {
		if host, _, err := get(t, p, context.Background()); host != b.addr {
			t.Fatalf("attempt went to %q (err %v), want %s", host, err, b.addr)
		}
	}
	if a.hits.Load() != before {
		t.Error("the host with an open breaker got requests")
	}
	// Every breaker open: the breaker's rejection comes back.
	bb, _ := p.Breaker(b.addr)
	bb.ForceOpen()
	if _, _, err := get(t, p, context.Background()); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("all breakers open: err %v, want breaker.ErrOpen", err)
	}
	br.Reset()
	bb.Reset()
	failing.Store(false)

	if err := p.Drain(b.addr, true); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if host, _, _ := get(t, p, context.Background()); host != a.addr {
			t.Fatalf("attempt went to %q, want %s (the other is drained)", host, a.addr)
		}
	}
	_ = p.Drain(a.addr, true)
	_, _, err := get(t, p, context.Background())
	var nh *NoHostError
	if !errors.As(err, &nh) || !errors.Is(err, ErrNoHost) || !errors.Is(err, keel.ErrRejected) {
		t.Fatalf("all drained: err %v, want a *NoHostError matching ErrNoHost and keel.ErrRejected", err)
	}
	if d, ok := keel.RetryAfter(err); !ok || d != time.Second {
		t.Errorf("RetryAfter = %v, %v; want 1s", d, ok)
	}
	_ = p.Drain(a.addr, false)
	if host, _, _ := get(t, p, context.Background()); host != a.addr {
		t.Errorf("after undrain: attempt went to %q, want %s", host, a.addr)
	}
}

func TestRoundTripLeavesRequestAlone(t *testing.T) {
	var gotHost atomic.Value
	a := newBackend(t, func(w http.ResponseWriter, r *http.Request) { gotHost.Store(r.Host) })
	p := newPool(t, Config{Targets: []string{a.addr}})
	req, _ := http.NewRequest(http.MethodGet, "http://api.internal/x?q=1", nil)
	req.Host = "shop.example"
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if req.URL.String() != "http://api.internal/x?q=1" || req.Host != "shop.example" {
		t.Errorf("request changed: URL %s Host %s", req.URL, req.Host)
	}
	if got := gotHost.Load(); got != "shop.example" {
		t.Errorf("Host header %q, want shop.example", got)
	}
	req.Host = ""
	resp, err = p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := gotHost.Load(); got != "api.internal" {
		t.Errorf("Host header with empty req.Host: %q, want the URL's api.internal", got)
	}
}

func TestCallerCancellationIsNeutral(t *testing.T) {
	block := make(chan struct{})
	a := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	defer close(block)
	p := newPool(t, Config{Targets: []string{a.addr}, Outlier: Outlier{ConsecutiveConnectFailures: 1}})
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, _, err := get(t, p, ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want context.DeadlineExceeded", err)
		}
	}
	if st := p.Status().Hosts[0]; st.Requests != 0 || st.Failures != 0 || st.Ejected {
		t.Errorf("after three canceled attempts: %+v, want nothing recorded", st)
	}
}

func TestRoundTripAllocs(t *testing.T) {
	a := newBackend(t, nil)
	p := newPool(t, Config{Targets: []string{a.addr}})
	plain := &http.Transport{}
	defer plain.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "http://"+a.addr+"/", nil)
	send := func(rt http.RoundTripper) {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	base := testing.AllocsPerRun(200, func() { send(plain) })
	pool := testing.AllocsPerRun(200, func() { send(p) })
	t.Logf("allocs per attempt: plain %.1f, pool %.1f", base, pool)
	if pool-base > 3 {
		t.Errorf("pool allocates %.1f more than a plain transport, want at most 3", pool-base)
	}
}

func TestCloseJoins(t *testing.T) {
	res := &fakeResolver{addrs: map[string][]string{"api.svc": {"127.0.0.1"}}}
	p, err := New(Config{
		Targets:     []string{"api.svc:1"},
		Resolver:    res,
		DNSRefresh:  10 * time.Millisecond,
		HealthCheck: &HealthCheck{Interval: 10 * time.Millisecond},
		Outlier:     Outlier{Interval: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// goleak in TestMain checks nothing is left; check here as well that
	// the joined goroutines are gone at once.
	if !strings.Contains(p.Status().Hosts[0].Address, "127.0.0.1:1") {
		t.Errorf("Status after Close: %+v", p.Status())
	}
}

func TestHTTPSWithHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto) //nolint:gosec // a test server echoing to a test client
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tc := srv.Client().Transport.(*http.Transport).TLSClientConfig
	p := newPool(t, Config{Targets: []string{srv.Listener.Addr().String()}, Scheme: "https", TLSClientConfig: tc})
	req, _ := http.NewRequest(http.MethodGet, "http://api.internal/", nil)
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "HTTP/2.0" {
		t.Errorf("server saw %q, want HTTP/2.0 over TLS", body)
	}
}
