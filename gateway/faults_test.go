package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaults: configured faults hit their route only, the route's policies
// react to them as to a failing upstream, and the admin API adds and
// removes faults at run time.
func TestFaults(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "    outlier: {disabled: true}\n    breaker: {disabled: true}\n", b.addr())+`
routes:
  - name: recs
    upstream: app
    match: {path_prefix: /recs}
    retry: {attempts: 2, backoff: 1ms}
    fallback: {body: popular}
  - name: other
    upstream: app
chaos:
  seed: 7
  faults:
    - {id: recs-down, kind: error, status: 503, route: recs}
`, nil)
	if r := get(t, g.url+"/recs"); r.body != "popular" || r.header.Get(FallbackHeader) != "true" {
		t.Errorf("faulted route: %d %q, want the fallback", r.status, r.body)
	}
	if b.count() != 0 {
		t.Errorf("the upstream saw %d requests of the faulted route, want 0 (the fault answers for it)", b.count())
	}
	if r := get(t, g.url+"/other"); r.body != "ok" {
		t.Errorf("other route: %q, want ok", r.body)
	}

	auth := map[string]string{"Authorization": "Bearer secret"}
	if r := do(t, http.DefaultClient, http.MethodPost, g.admin+"/faults", `{"id":"slow","kind":"latency","latency":"300ms","route":"other"}`, nil); r.status != http.StatusUnauthorized {
		t.Errorf("POST /faults without token: %d", r.status)
	}
	if r := do(t, http.DefaultClient, http.MethodPost, g.admin+"/faults", `{"id":"slow","kind":"latency","latency":"300ms","route":"other"}`, auth); r.status != http.StatusCreated {
		t.Fatalf("POST /faults: %d %s", r.status, r.body)
	}
	start := time.Now()
	if r := get(t, g.url+"/other"); r.body != "ok" || time.Since(start) < 300*time.Millisecond {
		t.Errorf("with a 300ms latency fault: %q after %v", r.body, time.Since(start))
	}
	var fs faultsStatus
	if err := json.Unmarshal([]byte(get(t, g.admin+"/faults").body), &fs); err != nil || len(fs.Faults) != 2 || fs.Seed != 7 || fs.Stats.DelaysInjected != 1 {
		t.Errorf("GET /faults: %+v %v", fs, err)
	}
	if r := do(t, http.DefaultClient, http.MethodDelete, g.admin+"/faults/slow", "", auth); r.status != http.StatusNoContent {
		t.Errorf("DELETE /faults/slow: %d", r.status)
	}
	start = time.Now()
	if get(t, g.url+"/other"); time.Since(start) > 250*time.Millisecond {
		t.Errorf("after removing the fault the request took %v", time.Since(start))
	}
	if ev := get(t, g.admin+"/events").body; !strings.Contains(ev, "fault_added") || !strings.Contains(ev, "fault_removed") {
		t.Errorf("events lack the fault window: %s", ev)
	}
}

// TestFaultOnOneHost: a fault aimed at one replica is injected after the
// pool chose that host, so the host's breaker opens on it and the retries
// take the other replica; a fault that expires by itself closes its window
// on the timeline.
func TestFaultOnOneHost(t *testing.T) {
	a := newBackend(t, text(200, "a"))
	b := newBackend(t, text(200, "b"))
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "    balancer: round_robin\n    outlier: {disabled: true}\n    breaker: {minimum_calls: 4, window: 10, open_duration: 1m}\n", a.addr(), b.addr())+`
routes:
  - {name: app, upstream: app, retry: {attempts: 2, backoff: 1ms, budget: 100%}}
`, nil)
	auth := map[string]string{"Authorization": "Bearer secret"}
	body := `{"id":"bad-a","kind":"error","status":503,"host":"` + a.addr() + `","duration":"700ms"}`
	if r := do(t, http.DefaultClient, http.MethodPost, g.admin+"/faults", body, auth); r.status != http.StatusCreated {
		t.Fatalf("POST /faults: %d %s", r.status, r.body)
	}
	for i := range 20 {
		if r := get(t, g.url+"/"); r.status != 200 || r.body != "b" {
			t.Fatalf("request %d: %d %q, want b's answer (a fails, the retry goes to b)", i, r.status, r.body)
		}
	}
	if a.count() != 0 {
		t.Errorf("a served %d requests; the fault answers for it", a.count())
	}
	st := g.Status()
	for _, h := range st.Upstreams[0].Hosts {
		if want := map[bool]string{true: "open", false: "closed"}[h.Address == a.addr()]; h.Breaker != want {
			t.Errorf("host %s breaker %q, want %q", h.Address, h.Breaker, want)
		}
	}
	time.Sleep(time.Second) // the fault expires, and the watcher sees it
	ev := get(t, g.admin+"/events").body
	for _, want := range []string{`"breaker_open"`, `"host": "` + a.addr() + `"`, `bad-a ended`} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %s: %s", want, ev)
		}
	}
}

// TestClientMetricsNameTheHost: the per-attempt client histogram carries the
// upstream host's address, not the gateway's own.
func TestClientMetricsNameTheHost(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	g := startGateway(t, "upstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n", nil)
	get(t, g.url+"/")
	_, port, _ := strings.Cut(b.addr(), ":")
	m := get(t, g.admin+"/metrics").body
	if !strings.Contains(m, "http_client_request_duration_seconds_count{") || !strings.Contains(m, `server_port="`+port+`"`) {
		t.Errorf("/metrics has no client histogram for the backend's port %s:\n%.3000s", port, m)
	}
}
