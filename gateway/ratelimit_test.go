package gateway

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// redisURL returns the test Redis server's URL. It skips the test when
// KEEL_REDIS_URL is unset, unless CI is set: there a missing server fails.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("KEEL_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("KEEL_REDIS_URL is unset and CI is set: run scripts/services.sh start")
		}
		t.Skip("KEEL_REDIS_URL is unset: run eval \"$(scripts/services.sh start)\" to test against a real Redis")
	}
	return u
}

// TestLocalRateLimit: a route's token bucket answers 429 with Retry-After
// once its burst is spent, per client key.
func TestLocalRateLimit(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+`
routes:
  - name: app
    upstream: app
    rate_limit: {rate: 1/m, burst: 3, key: "header:X-Api-Key"}
`, nil)
	for _, key := range []string{"alice", "bob"} {
		var statuses []int
		for range 5 {
			r := do(t, http.DefaultClient, http.MethodGet, g.url+"/", "", map[string]string{"X-Api-Key": key})
			statuses = append(statuses, r.status)
			if r.status == 429 && r.header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
		if fmt.Sprint(statuses) != "[200 200 200 429 429]" {
			t.Errorf("%s: statuses %v, want three 200 then 429", key, statuses)
		}
	}
	if b.count() != 6 {
		t.Errorf("upstream saw %d requests, want 6", b.count())
	}
}

// TestSharedRateLimit: two gateway replicas sharing a Redis rate limit
// admit the burst once between them, not once each.
func TestSharedRateLimit(t *testing.T) {
	u := redisURL(t)
	b := newBackend(t, text(200, "ok"))
	key := fmt.Sprintf("t%d", time.Now().UnixNano()) // a fresh bucket per run
	yml := "upstreams:\n" + upstreamYAML("app", "", b.addr()) + fmt.Sprintf(`
routes:
  - name: app
    upstream: app
    rate_limit: {rate: 1/m, burst: 4, key: "header:X-Api-Key", store: %q}
`, u)
	g1 := startGateway(t, yml, nil)
	g2 := startGateway(t, yml, nil)
	allowed, limited := 0, 0
	for i := range 10 {
		g := []*testGateway{g1, g2}[i%2]
		r := do(t, http.DefaultClient, http.MethodGet, g.url+"/", "", map[string]string{"X-Api-Key": key})
		switch r.status {
		case 200:
			allowed++
		case 429:
			limited++
			if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("429 with Retry-After %q", ra)
			}
		default:
			t.Errorf("status %d: %s", r.status, r.body)
		}
	}
	if allowed != 4 || limited != 6 {
		t.Errorf("allowed %d, limited %d across two replicas; want 4 and 6", allowed, limited)
	}
}

// TestSharedRateLimitStoreDown: when Redis cannot be reached the route
// fails closed: 503 with Retry-After, and the upstream is not called.
func TestSharedRateLimitStoreDown(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String() // nothing listens here once closed
	_ = ln.Close()
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+fmt.Sprintf(`
routes:
  - name: app
    upstream: app
    rate_limit: {rate: 10/s, store: "redis://%s/0"}
`, dead), nil)
	r := get(t, g.url+"/")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("got %d Retry-After %q, want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if b.count() != 0 {
		t.Errorf("upstream called %d times", b.count())
	}
}
