package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadUnderLoad is acceptance item e. Ten reloads during continuous
// load, alternately by SIGHUP and by rewriting the watched file, each with
// a changed route timeout and a new route: no request fails, and every new
// route serves. Then an invalid file is refused — logged, shown in
// /status — and the gateway keeps serving the last good configuration.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	bs := startBackends(t, 2)
	config := func(n int) string {
		var b strings.Builder
		b.WriteString(header)
		fmt.Fprintf(&b, "upstreams:\n  app: {targets: %s}\nroutes:\n", targets(bs...))
		for i := range n {
			fmt.Fprintf(&b, "  - {name: r%d, upstream: app, match: {path_prefix: /r%d/}}\n", i, i)
		}
		fmt.Fprintf(&b, "  - {name: app, upstream: app, timeout: %ds}\n", n+2)
		return b.String()
	}
	g := startGateway(t, t.TempDir(), config(0))

	var l tally
	ctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	done := make(chan struct{})
	c := newClient(t)
	go func() {
		defer close(done)
		openLoop(ctx, c, g.url+"/item", 200, 6000, &l)
	}()
	defer func() { stop(); <-done }()

	routes := func() []string {
		var names []string
		for _, r := range g.status(t).Routes {
			names = append(names, r.Name)
		}
		return names
	}
	for i := range 10 {
		time.Sleep(100 * time.Millisecond)
		writeConfig(t, g.path, config(i+1))
		how := "file change"
		if i%2 == 0 {
			how = "SIGHUP"
			g.kill(syscall.SIGHUP)
		}
		name := fmt.Sprintf("r%d", i)
		waitFor(t, 5*time.Second, fmt.Sprintf("reload %d (%s) adds route %s", i+1, how, name), func() (bool, string) {
			rs := routes()
			return slices.Contains(rs, name), fmt.Sprintf("routes %v", rs)
		})
		r := doReq(t, c, "GET", g.url+"/"+name+"/x", "", nil)
		if r.status != 200 {
			t.Errorf("GET /%s/x after reload %d: %d %s, want 200", name, i+1, r.status, r.body)
		}
	}
	if n := g.out.count("SIGHUP: reloading the configuration"); n != 5 {
		t.Errorf("%d SIGHUP reloads logged, want 5", n)
	}
	if n := g.out.count("configuration file changed; reloading"); n < 5 {
		t.Errorf("%d file-change reloads logged, want at least 5", n)
	}
	if s := g.status(t); s.Reloads < 10 || s.LastReloadError != "" {
		t.Errorf("/status: reloads %d, last_reload_error %q; want at least 10 and none", s.Reloads, s.LastReloadError)
	}

	// An invalid file is refused and the last good configuration serves on.
	writeConfig(t, g.path, config(10)+"  - {name: broken, upstream: nowhere}\n")
	g.kill(syscall.SIGHUP)
	g.waitLine(t, "configuration reload refused", 5*time.Second)
	waitFor(t, 2*time.Second, "last_reload_error in /status", func() (bool, string) {
		s := g.status(t)
		return strings.Contains(s.LastReloadError, "nowhere"), fmt.Sprintf("last_reload_error %q", s.LastReloadError)
	})
	time.Sleep(300 * time.Millisecond) // load on the kept configuration
	if rs := routes(); !slices.Contains(rs, "r9") || slices.Contains(rs, "broken") {
		t.Errorf("routes after the refused reload: %v, want those of the last good file", rs)
	}
	stop()
	<-done
	t.Logf("load: %s", l.String())
	if l.failed() != 0 || l.ok < 100 {
		t.Errorf("load across the reloads: %s; want no failure (and at least 100 requests)", l.String())
	}
}
