package dashboard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/keelhq/keel/dashboard/dashboardtest"
	"github.com/keelhq/keel/flags"
	"github.com/keelhq/keel/gateway"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the browser test's screenshot to ../docs/dashboard.png")

// demoSource tells a story over the last five minutes, for the browser test
// and the screenshot: steady traffic, a replica killed and restarted, a
// latency fault window on another host; the test then opens a breaker.
type demoSource struct {
	*fakeSource
	base time.Time // second 0 of the story: "now" when the source was made
}

func newDemoSource(now time.Time) *demoSource {
	base := now.Truncate(time.Second)
	d := &demoSource{fakeSource: newFakeSource(), base: base}
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

	st := testStatus(at(-3*3600 - 17*60))
	st.Reloads = 2
	st.Routes = append(st.Routes, gateway.RouteStatus{Name: "checkout", Upstream: "api", Flag: "new-checkout",
		Bulkhead: &gateway.BulkheadStatus{InFlight: 29, Max: 32, Queued: 4}})
	st.Upstreams[0].Hosts[1].Ejections = 1
	st.Upstreams[0].Hosts[1].Requests = 3120
	st.Upstreams = append(st.Upstreams, testStatus(base).Upstreams[0])
	st.Upstreams[1].Name = "catalog"
	st.Upstreams[1].Balancer = "peak_ewma"
	st.Upstreams[1].Hosts = st.Upstreams[1].Hosts[:2]
	st.Upstreams[1].Hosts[0].Address = "10.0.1.1:9000"
	st.Upstreams[1].Hosts[1].Address = "10.0.1.2:9000"
	st.Upstreams[1].Hosts[1].Healthy = false
	st.Upstreams[1].Hosts[1].Breaker = "half_open"
	st.Admission = &gateway.AdmissionStatus{ShedInFlight: 41, ShedCapacity: 256, Limit: 96, LimitInFlight: 57}
	st.Flags = []flags.Flag{
		{Name: "new-checkout", Enabled: true, Percent: 0.25, Description: "new checkout flow, 25% rollout"},
		{Name: "recommendations", Enabled: true, Percent: 1},
		{Name: "legacy-search", Enabled: false, Description: "kill switch"},
	}
	d.setStatus(st)

	for _, e := range []gateway.Event{
		{Time: at(-281), Kind: "reload", Detail: "configuration reloaded"},
		{Time: at(-212), Kind: "replica_killed", Upstream: "api", Host: "10.0.0.2:8080", Detail: "chaos monkey: SIGKILL"},
		{Time: at(-209), Kind: "host_ejected", Upstream: "api", Host: "10.0.0.2:8080", Detail: "5 consecutive local-origin failures for 30s"},
		{Time: at(-196), Kind: "replica_restarted", Upstream: "api", Host: "10.0.0.2:8080", Detail: "supervisor restarted it"},
		{Time: at(-179), Kind: "host_readmitted", Upstream: "api", Host: "10.0.0.2:8080", Detail: "ejection over"},
		{Time: at(-121), Kind: "fault_added", Detail: "f1: latency 180ms on all route catalog"},
		{Time: at(-96), Kind: "host_unhealthy", Upstream: "catalog", Host: "10.0.1.2:9000", Detail: "3 failed health checks"},
		{Time: at(-94), Kind: "breaker_open", Upstream: "catalog", Host: "10.0.1.2:9000", Detail: "catalog/10.0.1.2:9000: closed → open"},
		{Time: at(-71), Kind: "fault_removed", Detail: "f1"},
		{Time: at(-64), Kind: "breaker_half_open", Upstream: "catalog", Host: "10.0.1.2:9000", Detail: "catalog/10.0.1.2:9000: open → half_open"},
	} {
		d.addEvent(e)
	}
	d.gen = d.series
	return d
}

// point is second sec of the story (0 is base), the same every time it is
// asked for.
func (d *demoSource) point(sec int64) gateway.Point {
	r := rand.New(rand.NewPCG(42, uint64(sec+1<<32)))
	x := float64(sec)
	req := 820 + 90*math.Sin(x/37) + 40*math.Sin(x/11) + r.NormFloat64()*18
	p50 := 11 + 1.5*math.Sin(x/23) + r.Float64()
	p95, p99 := p50*3.1+r.Float64()*3, p50*6.5+r.Float64()*12
	var errs, rejected, stale, fallbacks float64 = math.Max(0, r.NormFloat64()*0.6), 0, 0, 0
	switch {
	case sec >= -212 && sec < -207: // replica killed, before its ejection
		errs += 35 + r.Float64()*25
		stale = 20 + r.Float64()*10
		p99 *= 2.4
	case sec >= -207 && sec < -179: // one host fewer
		p95 *= 1.2
		p99 *= 1.3
	case sec >= -121 && sec < -71: // latency fault on a catalog host
		p95 += 150 + r.Float64()*30
		p99 += 195 + r.Float64()*40
		if sec >= -104 && sec < -92 {
			errs += 6 + r.Float64()*4
			fallbacks = 14 + r.Float64()*6
			rejected = 8 + r.Float64()*8
		}
	}
	return gateway.Point{
		Time: d.base.Add(time.Duration(sec) * time.Second).UTC(), Requests: int64(req),
		Errors: int64(errs), Stale: int64(stale), Fallbacks: int64(fallbacks), Rejected: int64(rejected),
		P50: math.Round(p50*100) / 100, P95: math.Round(p95*100) / 100, P99: math.Round(p99*100) / 100,
	}
}

// series is the demo's Series: complete seconds from since on, at most 15
// minutes, like the gateway's.
func (d *demoSource) series(since time.Time) []gateway.Point {
	end := time.Now().Unix()
	start := max(since.Unix(), end-900)
	var out []gateway.Point
	for u := start; u < end; u++ {
		out = append(out, d.point(u-d.base.Unix()))
	}
	return out
}

// TestBrowser opens the dashboard in a real headless Chromium: the charts
// draw the series, and a breaker that opens shows in the timeline and on
// the host's badge. The page loads nothing from other hosts.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	dashboardtest.Chromium(t)

	src := newDemoSource(time.Now())
	d := MustNew(src, Config{Interval: 250 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.Shutdown(sctx); err != nil {
			t.Errorf("dashboard Shutdown: %v", err)
		}
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("server Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String() + "/"

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	bctx, blog := dashboardtest.Browser(t, ctx)

	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(dashboardtest.Width, dashboardtest.Height),
		chromedp.Navigate(base),
	); err != nil {
		t.Fatalf("open %s: %v", base, err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil || title != "Keel" {
		t.Errorf("title %q (%v), want Keel", title, err)
	}

	// The charts draw the history: three uPlot canvases and every point of
	// the last five minutes.
	const drawn = `window.keelDashboard && window.keelDashboard.points >= 290 && window.keelDashboard.draws > 0 &&
		document.querySelectorAll('.uplot canvas').length === 3 && document.querySelectorAll('#timeline li').length === 10`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](drawn, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		probe, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.keelDashboard)`))
		t.Fatalf("charts not drawn: %v (probe %s, page errors %v)", err, probe, blog.Errors())
	}
	// The gateway's fault_added/fault_removed pair is one shaded window;
	// a half-open breaker is amber, an open one red.
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.keelDashboard.faultWindows`)); err != nil || n != 1 {
		t.Errorf("fault windows drawn: %d (%v), want 1", n, err)
	}
	for kind, want := range map[string]string{"breaker_half_open": "badge warn kind", "breaker_open": "badge bad kind", "fault_added": "badge fault kind", "host_readmitted": "badge ok kind"} {
		js := fmt.Sprintf(`document.querySelector('#timeline li[data-kind="%s"] .kind').className`, kind)
		if got, err := chromedp.Run(bctx, chromedp.Evaluate[string](js)); err != nil || got != want {
			t.Errorf("timeline badge of %s: class %q (%v), want %q", kind, got, err, want)
		}
	}
	badge := `document.querySelector('tr[data-upstream="api"][data-host="10.0.0.3:8080"] .breaker').textContent`
	if got, err := chromedp.Run(bctx, chromedp.Evaluate[string](badge)); err != nil || got != "closed" {
		t.Errorf("breaker badge of 10.0.0.3:8080 before: %q (%v), want closed", got, err)
	}

	// A breaker opens: the host's badge and the timeline show it.
	src.setBreaker("api", "10.0.0.3:8080", "open")
	opened := src.addEvent(gateway.Event{Kind: "breaker_open", Upstream: "api", Host: "10.0.0.3:8080",
		Detail: "api/10.0.0.3:8080: closed → open (failure rate 62% over 50 calls)"})
	shown := fmt.Sprintf(`%s === "open" && document.querySelector('#timeline li[data-seq="%d"]') !== null`, badge, opened.Seq)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](shown, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the open breaker is not shown: %v (page errors %v)", err, blog.Errors())
	}
	item, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('#timeline li[data-seq="%d"]').innerText`, opened.Seq)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"breaker_open", "api · 10.0.0.3:8080", "closed → open"} {
		if !strings.Contains(item, want) {
			t.Errorf("timeline entry %q does not show %q", item, want)
		}
	}
	first, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#timeline li').dataset.seq`))
	if err != nil || first != fmt.Sprint(opened.Seq) {
		t.Errorf("newest timeline entry has seq %q (%v), want %d: newest first", first, err, opened.Seq)
	}
	rowClass, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('tr[data-host="10.0.0.3:8080"]').className`))
	if rowClass != "down" {
		t.Errorf("row of the host with an open breaker has class %q, want down", rowClass)
	}
	conn, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('conn').textContent`))
	if conn != "live" {
		t.Errorf("connection pill %q, want live", conn)
	}

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "docs", "dashboard.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Responsive: on a phone's screen the page is no wider than the
	// screen; the charts shrink to fit.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	const fits = `document.documentElement.scrollWidth <= window.innerWidth &&
		[...document.querySelectorAll('.uplot')].every((c) => c.getBoundingClientRect().right <= window.innerWidth)`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](fits, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		width, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		t.Errorf("at 390px wide the page is %dpx wide: %v", width, err)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		narrow := filepath.Join(filepath.Dir(shot), "dashboard-narrow.png")
		if err := os.WriteFile(narrow, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("narrow screenshot: %s", narrow)
	}

	// The feed ends (the gateway shuts down): the page says so.
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := d.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	const lost = `['reconnecting…', 'disconnected'].includes(document.getElementById('conn').textContent)`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](lost, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("after Shutdown the page does not show the feed is lost: %v", err)
	}

	// Offline: every request went to the dashboard itself (or was data:).
	requests := blog.Requests()
	if len(requests) < 5 {
		t.Errorf("saw %d requests, want at least the page, 2 scripts, 2 styles and the stream: %v", len(requests), requests)
	}
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "data" && u.Host != ln.Addr().String()) {
			t.Errorf("the page requested %s: want only %s", r, ln.Addr())
		}
	}
	for _, e := range blog.Errors() {
		t.Errorf("page error: %s", e)
	}
}
