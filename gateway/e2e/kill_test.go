package e2e

import (
	"context"

	"testing"
	"time"
)

// TestKillBackendUnderLoad is acceptance item a. One of three replicas is
// killed with SIGKILL during a steady 50 req/s of GETs. Requests that were
// on its connections break, new ones find its port closed: every one is
// retried on another replica, so clients see no failure at all. The dead
// host is ejected (consecutive connect failures). Restarted on the same
// port, it is readmitted when its ejection ends and serves traffic again.
//
// It runs with the default balancer, peak_ewma, and with least_request.
func TestKillBackendUnderLoad(t *testing.T) {
	t.Parallel()
	for _, balancer := range []string{"peak_ewma", "least_request"} {
		t.Run(balancer, func(t *testing.T) {
			t.Parallel()
			testKillBackend(t, balancer)
		})
	}
}

func testKillBackend(t *testing.T, balancer string) {
	bs := startBackends(t, 3)
	victim := bs[1]
	g := startGateway(t, t.TempDir(), header+`
upstreams:
  app:
    targets: `+targets(bs...)+`
    balancer: `+balancer+`
    connect_timeout: 500ms
    outlier: {interval: 1s, consecutive_connect_failures: 3, base_ejection_time: 1s, max_ejection_time: 10s}
routes:
  - name: app
    upstream: app
    timeout: 5s
    retry: {attempts: 3, on: [connect_failure, reset], backoff: 5ms, max_backoff: 20ms}
`)
	c := newClient(t)

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	var l tally
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		openLoop(ctx, c, g.url+"/item", 50, 250, &l) // 5 s at 50/s
	}()
	defer func() { cancel(); <-loadDone }()

	time.Sleep(time.Second)
	victim.kill(9) // SIGKILL: no FIN for requests in flight, no goodbye
	victim.wait(5 * time.Second)
	killed := time.Now()

	ejected := poll(3*time.Second, func() bool {
		_, ok := findEvent(g.events(t), "host_ejected", victim.addr, "consecutive_connect_failures")
		return ok
	})
	if ejected {
		ej, _ := findEvent(g.events(t), "host_ejected", victim.addr, "")
		t.Logf("ejected %v after the kill: %s", ej.Time.Sub(killed).Round(time.Millisecond), ej.Detail)
	} else {
		h, _ := g.status(t).host(victim.addr)
		t.Errorf("the killed host was not ejected within 3s; its /status: %+v; /events: %v", h, g.events(t))
	}

	// Restart it on the same port.
	restarted := startBackend(t, "b2", victim.addr)
	restartedAt := time.Now()
	if ejected {
		g.waitEvent(t, 5*time.Second, "host_readmitted", victim.addr, "ejection_expired")
	}
	if !poll(5*time.Second, func() bool { return restarted.requests(t) > 0 }) {
		h, _ := g.status(t).host(victim.addr)
		t.Errorf("the restarted host served no request within 5s of its restart; its /status: %+v; load: %s", h, l.String())
	} else {
		t.Logf("the restarted host served its first request within %v", time.Since(restartedAt).Round(100*time.Millisecond))
	}
	<-loadDone
	if h, _ := g.status(t).host(victim.addr); h.Ejected {
		t.Errorf("/status of the restarted host: %+v, want ejected: false", h)
	}
	t.Logf("load: %s", l.String())
	if l.failed() != 0 || l.ok < 200 {
		t.Errorf("load: %s; want every request answered 200 (at least 200 of them)", l.String())
	}
}

// poll calls cond every 20ms for up to d and reports whether it held.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
