package gateway

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/keelhttp"
)

func TestSeries(t *testing.T) {
	s := newSeries(60)
	t0 := time.Unix(1_700_000_000, 0)
	// Second 0: 100 requests of 1ms..100ms, two 503 rejections, one stale.
	for i := 1; i <= 100; i++ {
		s.record(t0.Add(time.Duration(i)*time.Millisecond), keelhttp.RequestInfo{Status: 200, Duration: time.Duration(i) * time.Millisecond})
	}
	s.record(t0, keelhttp.RequestInfo{Status: 503, Flag: keelhttp.FlagOverflow, Duration: time.Millisecond})
	s.record(t0, keelhttp.RequestInfo{Status: 503, Flag: keelhttp.FlagNoHealthyUpstream, Duration: time.Millisecond})
	s.record(t0, keelhttp.RequestInfo{Status: 200, Flag: keelhttp.FlagStale, Duration: time.Millisecond})
	// Second 2: one fallback. Second 1 is empty.
	s.record(t0.Add(2*time.Second), keelhttp.RequestInfo{Status: 200, Flag: keelhttp.FlagFallback, Duration: time.Millisecond})

	pts := s.points(t0, t0.Add(3*time.Second+time.Millisecond))
	if len(pts) != 3 {
		t.Fatalf("got %d points, want 3 (the current second is left out)", len(pts))
	}
	p := pts[0]
	if p.Requests != 103 || p.Errors != 2 || p.Rejected != 2 || p.Stale != 1 || p.Fallbacks != 0 {
		t.Errorf("second 0: %+v", p)
	}
	// The 100 spread latencies dominate: p50 ≈ 48ms, p99 ≈ 98ms, within
	// the histogram's 9%.
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", p.P50, 48}, {"p95", p.P95, 93}, {"p99", p.P99, 98}} {
		if math.Abs(c.got-c.want)/c.want > 0.12 {
			t.Errorf("%s = %.2fms, want about %.0fms", c.name, c.got, c.want)
		}
	}
	if pts[1].Requests != 0 || pts[2].Fallbacks != 1 || !pts[1].Time.Equal(t0.Add(time.Second).UTC()) {
		t.Errorf("seconds 1-2: %+v %+v", pts[1], pts[2])
	}
	// The ring keeps its size less one seconds before the current one:
	// second 60 took second 0's place.
	s.record(t0.Add(60*time.Second), keelhttp.RequestInfo{Status: 200, Duration: time.Millisecond})
	pts = s.points(t0, t0.Add(61*time.Second))
	if len(pts) != 59 || !pts[0].Time.Equal(t0.Add(2*time.Second).UTC()) || pts[0].Fallbacks != 1 || pts[58].Requests != 1 {
		t.Errorf("after wrap: %d points, first %+v, last %+v", len(pts), pts[0], pts[len(pts)-1])
	}
}

func TestHistBucket(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, 50 * time.Microsecond, time.Millisecond, 123 * time.Millisecond, time.Second, time.Hour} {
		b := histBucket(d)
		if b < 0 || b >= histBuckets {
			t.Fatalf("bucket %d for %v", b, d)
		}
		if d >= time.Millisecond && d <= time.Minute {
			got := bucketValue(b)
			want := float64(d) / float64(time.Millisecond)
			if math.Abs(got-want)/want > 0.1 {
				t.Errorf("%v: bucket value %.3fms, want within 10%%", d, got)
			}
		}
	}
}

// TestAdminSeriesAndEvents: /series serves the per-second points, POST
// /events (with the token) adds to the timeline, and HandleAdmin mounts
// extra handlers.
func TestAdminSeriesAndEvents(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	cfg := mustParse(t, "listen: {address: 127.0.0.1:0}\nadmin: {address: 127.0.0.1:0, token: s}\nupstreams:\n"+upstreamYAML("app", "", b.addr())+"routes: [{name: app, upstream: app}]\n")
	g, err := New(cfg, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	g.HandleAdmin("GET /hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hi")) }))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(t.Context()) })
	admin := "http://" + g.AdminAddr()
	for range 5 {
		get(t, "http://"+g.Addr()+"/")
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	var pts []Point
	if err := json.Unmarshal([]byte(get(t, admin+"/series").body), &pts); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range pts {
		total += p.Requests
	}
	if total != 5 {
		t.Errorf("/series counts %d requests, want 5", total)
	}
	if r := do(t, http.DefaultClient, http.MethodPost, admin+"/events", `{"kind":"replica_killed","detail":"payments-2"}`, nil); r.status != http.StatusUnauthorized {
		t.Errorf("POST /events without token: %d", r.status)
	}
	if r := do(t, http.DefaultClient, http.MethodPost, admin+"/events", `{"kind":"replica_killed","detail":"payments-2"}`, map[string]string{"Authorization": "Bearer s"}); r.status != http.StatusNoContent {
		t.Errorf("POST /events: %d %s", r.status, r.body)
	}
	if r := get(t, admin+"/events"); !strings.Contains(r.body, `"replica_killed"`) || !strings.Contains(r.body, "payments-2") {
		t.Errorf("/events lacks the posted event: %s", r.body)
	}
	if r := get(t, admin+"/hello"); r.body != "hi" {
		t.Errorf("HandleAdmin route: %q", r.body)
	}
}
