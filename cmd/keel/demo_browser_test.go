package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelhq/keel/dashboard/dashboardtest"
	"github.com/keelhq/keel/keeltest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write TestDemo's screenshot of the dashboard to ../../docs/dashboard-demo.png")

// withKeelMarker starts the part of keel demo -no-resilience's output that
// belongs to the run with Keel's policies.
const withKeelMarker = "Now the same run with Keel's policies on."

// waitDashboardURL waits until the run with Keel's policies prints its
// dashboard's URL, and returns it. It gives up when ctx ends or the demo
// finishes.
func waitDashboardURL(ctx context.Context, out *keeltest.Buffer, finished <-chan struct{}) (string, error) {
	const prefix = "dashboard  "
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if _, rest, ok := strings.Cut(out.String(), withKeelMarker); ok {
			if _, line, ok := strings.Cut(rest, prefix); ok {
				if url, _, ok := strings.Cut(line, "\n"); ok {
					return strings.TrimSpace(url), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-finished:
			return "", errors.New("the demo ended before the run with Keel printed its dashboard's URL")
		case <-t.C:
		}
	}
}

// checkDashboard opens the running demo's dashboard at url in a headless
// Chromium: the charts draw the load, and when the bad recommendations
// replica's breaker opens, the timeline shows a breaker_open event for that
// host and the host's badge says open. Just after that, with the kill and
// the fault windows on the charts, it saves a screenshot to t.TempDir() (and
// to docs/dashboard-demo.png with -update-screenshot). It does not wait for
// the demo to end.
func checkDashboard(t *testing.T, ctx context.Context, url string) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	bctx, perrs := dashboardtest.Browser(t, ctx)

	if err := chromedp.Do(bctx, chromedp.EmulateViewport(dashboardtest.Width, dashboardtest.Height), chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// The charts draw the demo's load: three canvases, a throughput above
	// zero.
	const drawn = `window.keelDashboard && window.keelDashboard.draws > 0 && document.querySelectorAll('.uplot canvas').length === 3 &&
		parseFloat(document.querySelector('#kpi-rps .kpi-value').textContent) > 0`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](drawn, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		probe, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.keelDashboard)`))
		t.Fatalf("charts not drawn: %v (probe %s, page errors %v)", err, probe, perrs.Errors())
	}
	// The bad replica's breaker opens (at half the run): the timeline has
	// a breaker_open for a recommendations host whose badge says open.
	const opened = `(() => {
		const li = document.querySelector('#timeline li[data-kind="breaker_open"]');
		if (!li) return '';
		for (const tr of document.querySelectorAll('tr[data-upstream="recommendations"]')) {
			if (tr.querySelector('.breaker').textContent === 'open' && li.innerText.includes(tr.dataset.host)) return tr.dataset.host;
		}
		return '';
	})()`
	host, err := chromedp.Run(bctx, chromedp.Poll[string](opened, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		items, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#timeline li')].map((li) => li.innerText).join(' | ')`))
		t.Fatalf("no open breaker shown: %v (timeline: %s; page errors %v)", err, items, perrs.Errors())
	}
	item, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#timeline li[data-kind="breaker_open"]').innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recommendations · " + host, "closed → open"} {
		if !strings.Contains(item, want) {
			t.Errorf("timeline entry %q does not show %q", item, want)
		}
	}
	for _, kind := range []string{"replica_killed", "fault_added"} {
		js := `document.querySelector('#timeline li[data-kind="` + kind + `"]') !== null`
		if ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](js)); err != nil || !ok {
			t.Errorf("the timeline shows no %s before the breaker opened (%v)", kind, err)
		}
	}

	// Let the next snapshot draw the second the breaker opened in.
	n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.keelDashboard.snapshots`))
	if err != nil {
		t.Fatal(err)
	}
	next := fmt.Sprintf(`window.keelDashboard.snapshots > %d`, n)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](next, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("no snapshot after the breaker opened: %v", err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard-demo.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "dashboard-demo.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range perrs.Errors() {
		t.Errorf("page error: %s", e)
	}
}
