package gateway

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestAdmissionShedsByCriticality: with the gateway's shedder full for its
// class, a sheddable request (by header or by its route's default) is
// refused with 503 and Retry-After, while a critical one still goes through;
// a path under strip_prefix reaches the upstream without the prefix.
func TestAdmissionShedsByCriticality(t *testing.T) {
	release := make(chan struct{})
	paths := make(chan string, 8)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+`
admission:
  shed: {max_in_flight: 2, thresholds: {sheddable: 50%, default: 100%}}
routes:
  - {name: batch, upstream: app, match: {path_prefix: /batch}, strip_prefix: /batch, criticality: sheddable}
  - {name: app, upstream: app}
`, nil)
	slow := make(chan result, 1)
	go func() {
		slow <- do(t, http.DefaultClient, http.MethodGet, g.url+"/slow", "", nil)
	}()
	if p := <-paths; p != "/slow" {
		t.Fatalf("upstream got %q", p)
	}
	// One request in flight: sheddable ones (share 50% of 2 = 1) are shed.
	r := do(t, http.DefaultClient, http.MethodGet, g.url+"/x", "", map[string]string{"Keel-Criticality": "sheddable"})
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("sheddable by header: %d Retry-After %q, want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if r := get(t, g.url+"/batch/job"); r.status != http.StatusServiceUnavailable {
		t.Errorf("sheddable by route default: %d, want 503", r.status)
	}
	if r := do(t, http.DefaultClient, http.MethodGet, g.url+"/x", "", map[string]string{"Keel-Criticality": "critical"}); r.status != 200 {
		t.Errorf("critical: %d, want 200", r.status)
	}
	if p := <-paths; p != "/x" {
		t.Errorf("upstream got %q, want /x", p)
	}
	close(release)
	if r := <-slow; r.status != 200 {
		t.Errorf("slow request: %d", r.status)
	}
	// Nothing in flight: the batch route is admitted, its prefix stripped.
	if r := get(t, g.url+"/batch/job"); r.status != 200 {
		t.Errorf("batch after the load: %d", r.status)
	}
	select {
	case p := <-paths:
		if p != "/job" {
			t.Errorf("strip_prefix: upstream got %q, want /job", p)
		}
	case <-time.After(time.Second):
		t.Error("the batch request did not reach the upstream")
	}
}

// TestHedgeToAnotherHost: a GET that the slow host holds gets a hedge to
// the other host after the route's hedge delay, and the fast answer wins.
func TestHedgeToAnotherHost(t *testing.T) {
	slow := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done(): // the losing hedge is canceled
		}
		_, _ = io.WriteString(w, "slow")
	})
	fast := newBackend(t, text(200, "fast"))
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "    balancer: round_robin\n    outlier: {disabled: true}\n", slow.addr(), fast.addr())+`
routes:
  - {name: app, upstream: app, hedge: {delay: 30ms}}
`, nil)
	for i := range 4 {
		start := time.Now()
		r := get(t, g.url+"/")
		if r.status != 200 || r.body != "fast" || time.Since(start) > time.Second {
			t.Errorf("request %d: %d %q after %v, want the fast host's answer well before the slow one's 2s", i, r.status, r.body, time.Since(start))
		}
	}
	if slow.count() == 0 {
		t.Errorf("the slow host was never tried; the test proves nothing")
	}
}
