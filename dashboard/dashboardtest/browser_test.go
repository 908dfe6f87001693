package dashboardtest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelhq/keel/dashboard/dashboardtest"
)

// TestBrowser: the browser renders a page, and the log records its console
// errors and the requests it made.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bctx, log := dashboardtest.Browser(t, ctx)
	page := "data:text/html," + url.PathEscape(`<title>probe</title><script>console.error("boom")</script>`)
	if err := chromedp.Do(bctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "probe" {
		t.Errorf("title %q, want probe", title)
	}
	errs := log.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "boom") {
		t.Errorf("page errors %q, want the one console.error", errs)
	}
	if reqs := log.Requests(); len(reqs) != 1 || !strings.HasPrefix(reqs[0], "data:") {
		t.Errorf("requests %q, want the data: page", reqs)
	}
}
