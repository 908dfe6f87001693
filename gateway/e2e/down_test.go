package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAllBackendsDown is acceptance item c. With every replica gone, each
// kind of route degrades its own way, and at once: a cached GET is answered
// from the last good response (Keel-Cache: stale), a route with a fallback
// serves it (Keel-Fallback: true), and a route with neither answers 503
// with Retry-After, so that clients back off instead of hammering. None of
// them waits: not while connect failures pile up, not once the hosts are
// ejected, and not once every host's breaker is open.
func TestAllBackendsDown(t *testing.T) {
	t.Parallel()
	bs := startBackends(t, 2)
	g := startGateway(t, t.TempDir(), header+`
upstreams:
  app:
    targets: `+targets(bs...)+`
    connect_timeout: 500ms
    breaker: {minimum_calls: 4, window: 10, open_duration: 5s}
x-retry: &retry {attempts: 2, backoff: 5ms, max_backoff: 10ms}
routes:
  - name: cached
    match: {path_prefix: /cached}
    upstream: app
    retry: *retry
    cache: {ttl: 200ms, max_stale: 1m}
  - name: degradable
    match: {path_prefix: /fb}
    upstream: app
    retry: *retry
    fallback: {status: 200, body: '{"items": [], "degraded": true}'}
  - name: plain
    upstream: app
    retry: *retry
`)
	c := newClient(t)
	fresh := doReq(t, c, "GET", g.url+"/cached/item", "", nil)
	if fresh.status != 200 || fresh.header.Get("Keel-Cache") != "" {
		t.Fatalf("with the backends up: %d Keel-Cache=%q %s, want 200 from the upstream", fresh.status, fresh.header.Get("Keel-Cache"), fresh.body)
	}
	for _, b := range bs {
		b.kill(syscall.SIGKILL)
		b.wait(5 * time.Second)
	}
	time.Sleep(300 * time.Millisecond) // past the cache ttl

	const fast = time.Second // a degraded answer comes at once
	timed := func(path string) (result, time.Duration) {
		start := time.Now()
		r := doReq(t, c, "GET", g.url+path, "", nil)
		return r, time.Since(start)
	}
	for i := range 10 {
		r, d := timed("/cached/item")
		if r.status != 200 || r.header.Get("Keel-Cache") != "stale" || r.body != fresh.body || d > fast {
			t.Errorf("cached GET %d: %d Keel-Cache=%q %q after %v, want 200 stale %q within %v", i, r.status, r.header.Get("Keel-Cache"), r.body, d, fresh.body, fast)
		}
		r, d = timed("/fb/list")
		if r.status != 200 || r.header.Get("Keel-Fallback") != "true" || r.body != `{"items": [], "degraded": true}` || d > fast {
			t.Errorf("fallback GET %d: %d Keel-Fallback=%q %q after %v, want 200 true and the fallback body within %v", i, r.status, r.header.Get("Keel-Fallback"), r.body, d, fast)
		}
		r, d = timed("/other")
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != 503 || err != nil || ra < 1 || d > fast {
			t.Errorf("unprotected GET %d: %d Retry-After=%q %s after %v, want 503 with Retry-After in seconds within %v", i, r.status, r.header.Get("Retry-After"), strings.TrimSpace(r.body), d, fast)
		}
	}
	// The episode went through every stage: one host is ejected (at most
	// 50% may be), and the other's breaker is open.
	var states []hostStatus
	open := 0
	for _, b := range bs {
		h, _ := g.status(t).host(b.addr)
		states = append(states, h)
		if h.Breaker == "open" {
			open++
		}
	}
	if open == 0 {
		t.Errorf("hosts %+v: no breaker open after 30 failed requests", states)
	}
	// A cached GET never stored has nothing to fall back on.
	if r := doReq(t, c, "GET", g.url+"/cached/never-seen", "", nil); r.status != 503 {
		t.Errorf("uncached GET on the cached route: %d, want 503", r.status)
	}
}
