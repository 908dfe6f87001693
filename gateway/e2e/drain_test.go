package e2e

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown is acceptance item f. SIGTERM arrives while slow
// requests (300ms upstream) are in flight. The gateway reports 503 on
// /readyz at once and keeps serving through drain_delay, so a load
// balancer has time to stop sending; then it closes its listener, lets
// every request in flight finish — here some take 1.5s, well past the
// listener's close — and exits 0. A client that stops sending when
// /readyz says so sees no failure at all.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	slow := startBackend(t, "slow", "127.0.0.1:0")
	slower := startBackend(t, "slower", "127.0.0.1:0")
	slow.control(t, behavior{DelayMS: 300})
	slower.control(t, behavior{DelayMS: 1500})
	const drainDelay = 400 * time.Millisecond
	g := startGateway(t, t.TempDir(), `listen: {address: "127.0.0.1:0", drain_delay: 400ms, drain_timeout: 5s}
admin: {address: "127.0.0.1:0", token: secret}
telemetry: {access_log: false}
upstreams:
  slow: {targets: [`+`"`+slow.addr+`"`+`]}
  slower: {targets: [`+`"`+slower.addr+`"`+`]}
routes:
  - {name: slower, upstream: slower, match: {path_prefix: /slower}}
  - {name: slow, upstream: slow}
`)
	c := newClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()

	// Load: 8 workers back to back on the 300ms route until /readyz turns
	// 503 and a moment more, like a load balancer that needs a few checks.
	var l tally
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		closedLoop(ctx, c, func(int) string { return g.url + "/slow" }, 8, 2000, &stop, &l)
	}()
	defer func() { stop.Store(true); <-done }()
	time.Sleep(500 * time.Millisecond)

	// Two requests that will still be running when the listener closes.
	var long tally
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { long.add(send(ctx, c, "GET", g.url+"/slower", "", nil), "GET /slower") })
	}
	time.Sleep(50 * time.Millisecond) // they are in flight
	g.kill(syscall.SIGTERM)
	termAt := time.Now()

	var readyzAt time.Duration
	waitFor(t, drainDelay, "/readyz answers 503 during drain_delay", func() (bool, string) {
		r := send(ctx, c, "GET", g.admin+"/readyz", "", nil)
		readyzAt = time.Since(termAt)
		return r.err == nil && r.status == 503, "last answer: " + r.body
	})
	t.Logf("/readyz 503 %v after SIGTERM", readyzAt.Round(time.Millisecond))
	sent := l.String()
	time.Sleep(100 * time.Millisecond) // traffic still arrives, and is served
	stop.Store(true)
	<-done
	wg.Wait()

	if code := g.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	exited := time.Since(termAt)
	t.Logf("exited %v after SIGTERM; load before the stop: %s; after: %s; long: %s", exited.Round(time.Millisecond), sent, l.String(), long.String())
	if l.failed() != 0 || l.ok < 16 {
		t.Errorf("load: %s; want every request that was sent answered 200", l.String())
	}
	if long.failed() != 0 || long.ok != 2 {
		t.Errorf("requests in flight when the listener closed: %s; want both answered 200", long.String())
	}
	if exited < 1400*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before the 1.5s requests in flight could finish", exited)
	}
	if n := g.out.count("drain timeout"); n != 0 {
		t.Errorf("the drain timed out:\n%s", g.out)
	}
	// The listener is closed: nothing is served any more.
	if r := send(ctx, c, "GET", g.url+"/slow", "", nil); r.err == nil || !isRefused(r.err) {
		t.Errorf("GET after exit: %d %v, want connection refused", r.status, r.err)
	}
}
