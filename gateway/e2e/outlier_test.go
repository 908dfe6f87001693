package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestOutlierAndBreaker is acceptance item b: a replica that fails or slows
// down is taken out of rotation by the rule configured for it.
func TestOutlierAndBreaker(t *testing.T) {
	t.Parallel()
	t.Run("consecutive_5xx", func(t *testing.T) { t.Parallel(); testConsecutive5xx(t) })
	t.Run("latency", func(t *testing.T) { t.Parallel(); testLatencyEjection(t) })
	t.Run("breaker", func(t *testing.T) { t.Parallel(); testHostBreaker(t) })
}

// runLoad runs a closed-loop load of workers on url in the background
// until the returned stop function is called (or 20 s pass); stop waits for
// it.
func runLoad(t *testing.T, url string, workers int, l *tally) (stop func()) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	var halt atomic.Bool
	done := make(chan struct{})
	c := newClient(t)
	go func() {
		defer close(done)
		closedLoop(ctx, c, func(int) string { return url }, workers, 20000, &halt, l)
	}()
	return func() {
		halt.Store(true)
		<-done
		cancel()
	}
}

// testConsecutive5xx: a replica that starts answering 500 is ejected after
// outlier.consecutive_5xx of them and then gets no more requests.
func testConsecutive5xx(t *testing.T) {
	bs := startBackends(t, 3)
	bad := bs[2]
	g := startGateway(t, t.TempDir(), header+`
upstreams:
  app:
    targets: `+targets(bs...)+`
    outlier: {interval: 500ms, consecutive_5xx: 3, base_ejection_time: 30s}
    breaker: {disabled: true}
routes:
  - {name: app, upstream: app, retry: {attempts: 1}}
`)
	var l tally
	stop := runLoad(t, g.url+"/x", 2, &l)
	defer stop()
	time.Sleep(300 * time.Millisecond)
	bad.control(t, behavior{Status: 500})

	ej := g.waitEvent(t, 5*time.Second, "host_ejected", bad.addr, "consecutive_5xx")
	t.Logf("%s", ej)
	if h, _ := g.status(t).host(bad.addr); !h.Ejected {
		t.Errorf("/status of the failing host: %+v, want ejected: true", h)
	}
	// Ejected: the failing host sees nothing more, and clients see 200s.
	time.Sleep(100 * time.Millisecond) // requests picked before the ejection finish
	before := bad.requests(t)
	var after tally
	c := newClient(t)
	for range 30 {
		after.add(send(t.Context(), c, "GET", g.url+"/y", "", nil), "GET /y")
	}
	if n := bad.requests(t) - before; n != 0 {
		t.Errorf("the ejected host got %d requests, want 0", n)
	}
	if after.failed() != 0 {
		t.Errorf("after the ejection: %s, want no failure", after.String())
	}
	for _, b := range bs[:2] {
		if h, _ := g.status(t).host(b.addr); h.Ejected {
			t.Errorf("a healthy host was ejected too: %+v", h)
		}
	}
}

// testLatencyEjection: with every replica answering in 10ms, one that
// becomes 10× slower is ejected by outlier.latency, and only that one.
// The balancer is round_robin, so that the slow host keeps its share of
// requests: peak_ewma would steer traffic away from it before the detector
// had enough samples (which is the balancer doing its job).
func testLatencyEjection(t *testing.T) {
	bs := startBackends(t, 3)
	slow := bs[0]
	for _, b := range bs {
		b.control(t, behavior{DelayMS: 10})
	}
	g := startGateway(t, t.TempDir(), header+`
upstreams:
  app:
    targets: `+targets(bs...)+`
    balancer: round_robin
    outlier:
      interval: 500ms
      latency: {factor: 3, min_requests: 5, min_hosts: 2, threshold: 50ms}
      base_ejection_time: 30s
    breaker: {disabled: true}
routes:
  - {name: app, upstream: app}
`)
	var l tally
	stop := runLoad(t, g.url+"/x", 6, &l)
	defer stop()
	// Two intervals at equal speed: nobody is ejected.
	time.Sleep(1100 * time.Millisecond)
	if evs := g.events(t); len(evs) > 3 {
		t.Fatalf("events before any host slowed down: %v, want only the three host_added", evs)
	}
	slow.control(t, behavior{DelayMS: 100})
	slowed := time.Now()
	ej := g.waitEvent(t, 3*time.Second, "host_ejected", slow.addr, "latency")
	t.Logf("%s, %v after the slowdown", ej, ej.Time.Sub(slowed).Round(time.Millisecond))
	if h, _ := g.status(t).host(slow.addr); !h.Ejected {
		t.Errorf("/status of the slow host: %+v, want ejected: true", h)
	}
	stop()
	for _, e := range g.events(t) {
		if e.Kind == "host_ejected" && e.Host != slow.addr {
			t.Errorf("a fast host was ejected too: %s", e)
		}
	}
	if l.failed() != 0 {
		t.Errorf("load: %s, want no failure (a slow host is still a working one)", l.String())
	}
}

// testHostBreaker: with outlier detection off, the per-host breaker alone
// stops traffic to a failing replica: it opens once minimum_calls calls in
// its window fail at failure_rate, rejects for open_duration, lets
// half_open_permits probes through, and closes when they succeed.
func testHostBreaker(t *testing.T) {
	bs := startBackends(t, 3)
	bad := bs[1]
	g := startGateway(t, t.TempDir(), header+`
upstreams:
  app:
    targets: `+targets(bs...)+`
    outlier: {disabled: true}
    breaker: {minimum_calls: 4, window: 10, failure_rate: 50%, open_duration: 1s, half_open_permits: 2}
routes:
  - {name: app, upstream: app, retry: {attempts: 1}}
`)
	var l tally
	stop := runLoad(t, g.url+"/x", 2, &l)
	defer stop()
	time.Sleep(200 * time.Millisecond)
	bad.control(t, behavior{Status: 500})
	opened := g.waitEvent(t, 5*time.Second, "breaker_open", bad.addr, "")
	t.Logf("%s", opened)
	if h, _ := g.status(t).host(bad.addr); h.Breaker != "open" && h.Breaker != "half_open" {
		t.Errorf("/status of the failing host: %+v, want breaker open", h)
	}
	// Open: no request reaches the host until open_duration has passed.
	before := bad.requests(t)
	if d := time.Until(opened.Time.Add(800 * time.Millisecond)); d > 0 {
		time.Sleep(d)
		if n := bad.requests(t) - before; n != 0 {
			t.Errorf("the host got %d requests while its breaker was open", n)
		}
	}
	bad.control(t, behavior{}) // healthy again
	half := g.waitEvent(t, 5*time.Second, "breaker_half_open", bad.addr, "")
	closed := g.waitEvent(t, 5*time.Second, "breaker_closed", bad.addr, "")
	t.Logf("%s after %v; %s", half, half.Time.Sub(opened.Time).Round(time.Millisecond), closed)
	if d := half.Time.Sub(opened.Time); d < 950*time.Millisecond {
		t.Errorf("half-open %v after opening, want at least open_duration (1s)", d)
	}
	if closed.Seq < half.Seq {
		t.Errorf("closed (seq %d) before half-open (seq %d)", closed.Seq, half.Seq)
	}
	waitFor(t, 2*time.Second, "traffic back on the recovered host", func() (bool, string) {
		h, _ := g.status(t).host(bad.addr)
		return bad.requests(t) > before && h.Breaker == "closed", "its status: " + h.Breaker
	})
}
