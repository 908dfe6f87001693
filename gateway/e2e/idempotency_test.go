package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestKeyedPostAppliedOnce is acceptance item d. A POST with an
// Idempotency-Key reaches the upstream once however often the client sends
// it: a retry after the answer gets the stored answer, concurrent
// duplicates wait for the first and get its answer, and a gateway killed
// with SIGKILL after answering still replays that answer once restarted
// on the same bolt:// store.
func TestKeyedPostAppliedOnce(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "pay", "127.0.0.1:0")
	dir := t.TempDir()
	store := "bolt://" + filepath.ToSlash(filepath.Join(dir, "idempotency.db"))
	cfg := func(listen, admin string) string {
		return fmt.Sprintf(`listen: {address: %q}
admin: {address: %q, token: secret}
telemetry: {access_log: false}
stores: {idempotency: %q}
upstreams:
  pay: {targets: [%q]}
routes:
  - name: charges
    match: {path: /charges, methods: [POST]}
    upstream: pay
    idempotency: {max_wait: 5s}
`, listen, admin, store, b.addr)
	}
	g := startGateway(t, dir, cfg("127.0.0.1:0", "127.0.0.1:0"))
	c := newClient(t)
	post := func(g *gateway, key string) result {
		return doReq(t, c, "POST", g.url+"/charges", `{"amount": 1200}`, map[string]string{
			"Idempotency-Key": key, "Content-Type": "application/json"})
	}

	// A retry after the answer: the stored answer, byte for byte.
	first := post(g, "k1")
	if first.status != 201 {
		t.Fatalf("first POST: %d %s, want 201", first.status, first.body)
	}
	retry := post(g, "k1")
	if retry.status != first.status || retry.body != first.body || retry.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retried POST: %d %q replayed=%q, want %d %q replayed=true", retry.status, retry.body, retry.header.Get("Idempotent-Replayed"), first.status, first.body)
	}

	// Concurrent duplicates while the upstream is slow: one runs, the
	// others wait for its answer (max_wait) and get it.
	b.control(t, behavior{DelayMS: 300})
	var wg sync.WaitGroup
	dup := make([]result, 5)
	for i := range dup {
		wg.Go(func() { dup[i] = post(g, "k2") })
	}
	wg.Wait()
	b.control(t, behavior{})
	for i, r := range dup {
		if r.status != 201 || r.body != dup[0].body {
			t.Errorf("concurrent POST %d: %d %q, want 201 %q like the others", i, r.status, r.body, dup[0].body)
		}
	}

	// A client that gives up while the upstream is still working, then
	// retries: the upstream applied the charge once, and the retry gets
	// that charge's answer, not a second charge and not an error frozen
	// in the store.
	b.control(t, behavior{DelayMS: 500})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	r := send(ctx, c, "POST", g.url+"/charges", `{"amount": 1200}`, map[string]string{"Idempotency-Key": "k4", "Content-Type": "application/json"})
	cancel()
	if r.err == nil {
		t.Fatalf("POST with a 100ms deadline to a 500ms upstream: %d, want the client's timeout", r.status)
	}
	time.Sleep(700 * time.Millisecond) // the upstream has answered by now
	b.control(t, behavior{})
	r = post(g, "k4")
	if r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry after the client gave up: %d %s replayed=%q, want the stored 201 of the first try (replayed=true)", r.status, strings.TrimSpace(r.body), r.header.Get("Idempotent-Replayed"))
	}

	// Crash the gateway after it answered, and start it again on the same
	// store and address.
	g.kill(syscall.SIGKILL)
	g.wait(10 * time.Second)
	writeConfig(t, g.path, cfg(g.addr, "127.0.0.1:0"))
	g2 := runGateway(t, g.path)
	again := post(g2, "k1")
	if again.status != first.status || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("POST after the crash: %d %q replayed=%q, want the first answer %d %q replayed=true", again.status, again.body, again.header.Get("Idempotent-Replayed"), first.status, first.body)
	}
	if r := post(g2, "k3"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("a new key after the restart: %d replayed=%q, want 201 from the upstream", r.status, r.header.Get("Idempotent-Replayed"))
	}

	want := map[string]int{"k1": 1, "k2": 1, "k3": 1, "k4": 1}
	if diff := cmp.Diff(want, b.applied(t)); diff != "" {
		t.Errorf("charges applied by the upstream (-want +got):\n%s", diff)
	}
}
