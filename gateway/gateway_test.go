package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRetryGoesToAnotherHost: one of two hosts always answers 503; with two
// attempts, every GET succeeds, because the retry never returns to the
// host that failed.
func TestRetryGoesToAnotherHost(t *testing.T) {
	bad := newBackend(t, text(503, "down"))
	good := newBackend(t, text(200, "ok"))
	g := startGateway(t, `
upstreams:
`+upstreamYAML("app", "    balancer: round_robin\n    outlier: {disabled: true}\n    breaker: {disabled: true}\n", bad.addr(), good.addr())+`
routes:
  - name: app
    upstream: app
    retry: {attempts: 2, backoff: 1ms, max_backoff: 2ms, budget: 100%}
`, nil)
	for i := range 40 {
		if r := get(t, g.url+"/x"); r.status != 200 || r.body != "ok" {
			t.Fatalf("request %d: got %d %q, want 200 ok", i, r.status, r.body)
		}
	}
	if n := bad.count(); n == 0 || n > 40 {
		t.Errorf("the failing host saw %d requests, want between 1 and 40 (each at most once)", n)
	}
}

// TestPostNotRetriedAfterSend: a POST without an Idempotency-Key whose
// connection breaks after it was sent is not repeated.
func TestPostNotRetriedAfterSend(t *testing.T) {
	var posts atomic.Int32
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close() // the request arrived; the response never comes
		}
	})
	g := startGateway(t, `
upstreams:
`+upstreamYAML("app", "    outlier: {disabled: true}\n", b.addr())+`
routes:
  - {name: app, upstream: app, retry: {attempts: 3, backoff: 1ms}}
`, nil)
	r := do(t, http.DefaultClient, http.MethodPost, g.url+"/charges", `{"amount":1}`, nil)
	if r.status != http.StatusBadGateway {
		t.Errorf("status %d, want 502", r.status)
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("the upstream saw the POST %d times, want 1", n)
	}
}

// TestKeyedPostReachesUpstreamOnce: the gateway's idempotency layer answers
// a retried keyed POST from its store.
func TestKeyedPostReachesUpstreamOnce(t *testing.T) {
	var mu sync.Mutex
	applied := map[string]int{}
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		applied[r.Header.Get("Idempotency-Key")]++
		n := len(applied)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"charge":%d}`, n)
	})
	dir := t.TempDir()
	g := startGateway(t, fmt.Sprintf(`
stores: {idempotency: "bolt://%s/idem.db"}
upstreams:
%s
routes:
  - name: charges
    upstream: payments
    match: {path: /charges}
    idempotency: {scope: none}
`, dir, upstreamYAML("payments", "", b.addr())), nil)
	hdr := map[string]string{"Idempotency-Key": "key-123456", "Content-Type": "application/json"}
	first := do(t, http.DefaultClient, http.MethodPost, g.url+"/charges", `{"amount":5}`, hdr)
	for i := range 3 {
		again := do(t, http.DefaultClient, http.MethodPost, g.url+"/charges", `{"amount":5}`, hdr)
		if again.status != first.status || again.body != first.body {
			t.Errorf("retry %d: got %d %q, want the first response %d %q", i, again.status, again.body, first.status, first.body)
		}
	}
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %q", first.status, first.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if applied["key-123456"] != 1 {
		t.Errorf("the upstream applied the key %d times, want 1", applied["key-123456"])
	}
	// The same key with another body is refused.
	if r := do(t, http.DefaultClient, http.MethodPost, g.url+"/charges", `{"amount":6}`, hdr); r.status != http.StatusUnprocessableEntity {
		t.Errorf("reused key: got %d, want 422", r.status)
	}
}

// TestAllBackendsDown: a cached GET is served stale with its marker; an
// uncached route serves its fallback; an unprotected route answers 503
// with Retry-After.
func TestAllBackendsDown(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"path":%q}`, r.URL.Path) //nolint:gosec // a test backend echoing the path, quoted
	})
	g := startGateway(t, `
upstreams:
`+upstreamYAML("app", "    outlier: {disabled: true}\n", b.addr())+`
routes:
  - name: cached
    upstream: app
    match: {path_prefix: /items}
    retry: {attempts: 2, backoff: 1ms}
    cache: {ttl: 1s, max_stale: 1h}
  - name: fallback
    upstream: app
    match: {path_prefix: /recommendations}
    fallback: {status: 200, body: '{"items":["popular"]}'}
  - name: plain
    upstream: app
`, nil)
	if r := get(t, g.url+"/items/1"); r.status != 200 || r.header.Get("Keel-Cache") != "" {
		t.Fatalf("warm-up: %d %q %v", r.status, r.body, r.header)
	}
	b.Close()

	stale := get(t, g.url+"/items/1")
	if stale.status != 200 || stale.body != `{"path":"/items/1"}` || stale.header.Get("Keel-Cache") != "stale" {
		t.Errorf("cached route: got %d %q Keel-Cache=%q, want 200, the last good body, stale", stale.status, stale.body, stale.header.Get("Keel-Cache"))
	}
	fb := get(t, g.url+"/recommendations")
	if fb.status != 200 || fb.body != `{"items":["popular"]}` || fb.header.Get(FallbackHeader) != "true" || fb.header.Get("Content-Type") != "application/json" {
		t.Errorf("fallback route: got %d %q %v", fb.status, fb.body, fb.header)
	}
	plain := get(t, g.url+"/other")
	if plain.status != http.StatusServiceUnavailable || plain.header.Get("Retry-After") == "" {
		t.Errorf("unprotected route: got %d Retry-After=%q, want 503 with Retry-After", plain.status, plain.header.Get("Retry-After"))
	}
	// Each answer names why in the access log.
	for _, flag := range []string{`"flag":"SC"`, `"flag":"FB"`} {
		if !strings.Contains(g.logs.String(), flag) {
			t.Errorf("access log lacks %s", flag)
		}
	}
}

// TestFlagGate: a route whose flag is off serves its fallback; the admin
// API turns it on with the token, and refuses without one.
func TestFlagGate(t *testing.T) {
	b := newBackend(t, text(200, "personalized"))
	g := startGateway(t, `
flags:
  recs: {enabled: false}
  gated: {enabled: false}
upstreams:
`+upstreamYAML("app", "", b.addr())+`
routes:
  - name: other
    upstream: app
    match: {path_prefix: /gated}
    flag: gated
  - name: recs
    upstream: app
    flag: recs
    fallback: {body: popular}
`, nil)
	if r := get(t, g.url+"/"); r.body != "popular" {
		t.Errorf("flag off: got %q, want the fallback", r.body)
	}
	if r := get(t, g.url+"/gated"); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("unknown flag without fallback: got %d, want 503 with Retry-After", r.status)
	}
	if b.count() != 0 {
		t.Errorf("upstream called %d times while the flag was off", b.count())
	}
	if r := do(t, http.DefaultClient, http.MethodPost, g.admin+"/flags/recs", `{"enabled":true}`, nil); r.status != http.StatusUnauthorized {
		t.Errorf("flag change without token: %d, want 401", r.status)
	}
	if r := do(t, http.DefaultClient, http.MethodPost, g.admin+"/flags/recs", `{"enabled":true}`, map[string]string{"Authorization": "Bearer wrong"}); r.status != http.StatusUnauthorized {
		t.Errorf("flag change with a wrong token: %d, want 401", r.status)
	}
	if r := do(t, http.DefaultClient, http.MethodPost, g.admin+"/flags/recs", `{"enabled":true}`, map[string]string{"Authorization": "Bearer secret"}); r.status != 200 {
		t.Fatalf("flag change: %d %s", r.status, r.body)
	}
	if r := get(t, g.url+"/"); r.body != "personalized" {
		t.Errorf("flag on: got %q, want the upstream's answer", r.body)
	}
}

// TestAdminMutationsNeedToken: without a configured token, mutations are
// refused with 403, and reads still work.
func TestAdminMutationsNeedToken(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	g := startGateway(t, `
admin: {address: 127.0.0.1:0}
upstreams:
`+upstreamYAML("app", "", b.addr())+`
routes: [{name: app, upstream: app}]
`, nil)
	if r := do(t, http.DefaultClient, http.MethodPost, g.admin+"/reload", "", map[string]string{"Authorization": "Bearer x"}); r.status != http.StatusForbidden {
		t.Errorf("reload without a configured token: %d, want 403", r.status)
	}
	r := get(t, g.admin+"/status")
	var st Status
	if err := json.Unmarshal([]byte(r.body), &st); err != nil || len(st.Upstreams) != 1 || len(st.Upstreams[0].Hosts) != 1 {
		t.Errorf("status: %v %s", err, r.body)
	}
	if !strings.HasPrefix(g.AdminAddr(), "127.0.0.1:") {
		t.Errorf("admin listens on %s, want 127.0.0.1", g.AdminAddr())
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/events", "/flags"} {
		if r := get(t, g.admin+path); r.status != 200 {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
}

// TestNoRoute answers 404 with the NR flag.
func TestNoRoute(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	g := startGateway(t, `
upstreams:
`+upstreamYAML("app", "", b.addr())+`
routes: [{name: app, upstream: app, match: {path: /only}}]
`, nil)
	r := get(t, g.url+"/other")
	if r.status != 404 || !strings.Contains(r.body, `"NR"`) {
		t.Errorf("got %d %s, want 404 with flag NR", r.status, r.body)
	}
}
