package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/gateway/config"
)

func mustParse(t *testing.T, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReloadKeepsUnchangedPools: a reload that leaves an upstream's
// configuration alone keeps its pool, and so its hosts' state; a changed
// upstream gets a new pool.
func TestReloadKeepsUnchangedPools(t *testing.T) {
	a := newBackend(t, text(200, "a"))
	b := newBackend(t, text(200, "b"))
	base := "listen: {address: 127.0.0.1:0}\nadmin: {address: \"off\"}\nupstreams:\n" + upstreamYAML("one", "", a.addr()) + upstreamYAML("two", "", b.addr())
	g := startGateway(t, base+"routes: [{name: r, upstream: one}]\n", nil)
	before := g.current.Load()
	if r := get(t, g.url+"/"); r.body != "a" {
		t.Fatalf("got %q", r.body)
	}
	if err := g.Reload(mustParse(t, base+"routes: [{name: r, upstream: two}]\n")); err != nil {
		t.Fatal(err)
	}
	after := g.current.Load()
	if after.pools["one"] != before.pools["one"] || after.pools["two"] != before.pools["two"] {
		t.Errorf("unchanged upstreams got new pools")
	}
	if r := get(t, g.url+"/"); r.body != "b" {
		t.Errorf("after reload: got %q, want the new route's upstream", r.body)
	}
	changed := "listen: {address: 127.0.0.1:0}\nadmin: {address: \"off\"}\nupstreams:\n" + upstreamYAML("one", "    balancer: round_robin\n", a.addr()) + upstreamYAML("two", "", b.addr())
	if err := g.Reload(mustParse(t, changed+"routes: [{name: r, upstream: one}]\n")); err != nil {
		t.Fatal(err)
	}
	if g.current.Load().pools["one"] == after.pools["one"] {
		t.Errorf("a changed upstream kept its pool")
	}
	if r := get(t, g.url+"/"); r.body != "a" {
		t.Errorf("after second reload: got %q", r.body)
	}
}

// TestReloadFileRefusesInvalid: an invalid file is refused with its
// position, and the running configuration keeps serving.
func TestReloadFileRefusesInvalid(t *testing.T) {
	b := newBackend(t, text(200, "ok"))
	dir := t.TempDir()
	path := filepath.Join(dir, "keel.yaml")
	good := "listen: {address: 127.0.0.1:0}\nadmin: {address: 127.0.0.1:0, token: s}\nupstreams:\n" + upstreamYAML("app", "", b.addr()) + "routes: [{name: app, upstream: app}]\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{ConfigPath: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	if err := os.WriteFile(path, []byte(strings.Replace(good, "upstream: app", "upstream: nope", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	err = g.ReloadFile()
	if err == nil || !strings.Contains(err.Error(), "keel.yaml:6:22: routes[0].upstream") || !strings.Contains(err.Error(), "nope") {
		t.Errorf("ReloadFile = %v, want an error naming the line and the unknown upstream", err)
	}
	if st := g.Status(); st.LastReloadError == "" || st.Reloads != 0 {
		t.Errorf("status: reloads %d, last error %q", st.Reloads, st.LastReloadError)
	}
	if r := get(t, "http://"+g.Addr()+"/"); r.status != 200 {
		t.Errorf("after a refused reload: %d", r.status)
	}
	// The admin API's reload answers 422 with the same error.
	r := do(t, http.DefaultClient, http.MethodPost, "http://"+g.AdminAddr()+"/reload", "", map[string]string{"Authorization": "Bearer s"})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "nope") {
		t.Errorf("admin reload: %d %s", r.status, r.body)
	}
}

// TestReloadsUnderLoad: ten reloads while requests run lose none of them.
func TestReloadsUnderLoad(t *testing.T) {
	a := newBackend(t, text(200, "ok"))
	b := newBackend(t, text(200, "ok"))
	conf := func(i int) string {
		// Alternate the route's timeout and the second upstream's balancer,
		// so that some reloads rebuild a pool and some keep it.
		bal := "round_robin"
		if i%2 == 0 {
			bal = "least_request"
		}
		return "listen: {address: 127.0.0.1:0}\nadmin: {address: \"off\"}\nupstreams:\n" +
			upstreamYAML("app", "    balancer: "+bal+"\n", a.addr(), b.addr()) +
			"routes: [{name: app, upstream: app, timeout: " + []string{"5s", "6s"}[i%2] + "}]\n"
	}
	g := startGateway(t, conf(1), nil)
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		wg.Go(func() {
			for n := 0; n < 2000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(g.url + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	for i := range 10 {
		time.Sleep(20 * time.Millisecond)
		if err := g.Reload(mustParse(t, conf(i))); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	client.CloseIdleConnections()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("%d requests failed, %d succeeded across 10 reloads; want 0 failed", failed.Load(), ok.Load())
	}
}

// TestShutdownDrains: Shutdown turns /readyz to 503 first, and requests in
// flight finish with their responses.
func TestShutdownDrains(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	yml := "listen: {address: 127.0.0.1:0, drain_delay: 200ms}\nadmin: {address: 127.0.0.1:0}\nupstreams:\n" + upstreamYAML("app", "", b.addr()) + "routes: [{name: app, upstream: app}]\n"
	g, err := New(mustParse(t, yml), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	url, admin := "http://"+g.Addr(), "http://"+g.AdminAddr()
	results := make(chan string, 5)
	for range 5 {
		go func() {
			resp, err := http.Get(url + "/slow")
			if err != nil {
				results <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			results <- string(body)
		}()
	}
	time.Sleep(100 * time.Millisecond) // the requests are in flight
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	if r := get(t, admin+"/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d, want 503", r.status)
	}
	for range 5 {
		if got := <-results; got != "done" {
			t.Errorf("in-flight request: %q, want done", got)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}
