package dashboardtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Width and Height are the browser window's size, in CSS pixels.
const (
	Width  = 1440
	Height = 1000
)

// Chromium returns the path of the browser to drive. Without one it skips
// tb, or fails it when the environment variable CI is set: CI installs
// Chromium, so a missing one there is a broken setup, not a reason to skip.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found: install it (apt-get install -y chromium) to run the dashboard's browser tests"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg + "; CI is set, so this is a failure")
	}
	tb.Skip(msg)
	return ""
}

// Browser starts a headless Chromium for tb, bound to ctx, and returns the
// chromedp context to run actions in and the log of the page. Both end
// when ctx does or when the test ends; the browser has exited, and its
// profile directory is gone, by the time tb's cleanup is over.
func Browser(tb testing.TB, ctx context.Context) (context.Context, *PageLog) {
	tb.Helper()
	exe := Chromium(tb)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Without these the browser's own connections are refused by a
		// closed network, many at a time.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(Width, Height),
	)
	log := &PageLog{}
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(log.listen), chromedp.WithErrorf(tb.Logf))
	tb.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for Chromium to exit, before TempDir's cleanup
	})
	return bctx, log
}

// PageLog records what the page did: the URLs it requested, and its
// exceptions, console errors and console warnings. It is safe for
// concurrent use.
type PageLog struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

func (l *PageLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		l.requests = append(l.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		msg := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
		l.errors = append(l.errors, msg)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			l.errors = append(l.errors, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	}
}

// Requests returns the URLs the page requested so far.
func (l *PageLog) Requests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.requests...)
}

// Errors returns the page's exceptions and console errors and warnings so
// far.
func (l *PageLog) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}
