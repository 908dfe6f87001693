package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/gateway"
	"github.com/keelhq/keel/gateway/config"
)

// TestGateway mounts the dashboard on a real gateway's admin listener, as
// `keel gateway` does, and reads what the gateway served.
func TestGateway(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer backend.Close()
	host := strings.TrimPrefix(backend.URL, "http://")

	yml := fmt.Sprintf(`listen: {address: 127.0.0.1:0}
admin: {address: 127.0.0.1:0}
upstreams:
  api: {targets: [%q]}
routes:
  - name: api
    upstream: api
`, host)
	cfg, err := config.Parse("test.yaml", []byte(yml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	d := MustNew(g, Config{})
	g.HandleAdmin("GET /", d)
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Streams first: a server's Shutdown waits for them otherwise.
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("dashboard Shutdown: %v", err)
		}
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("gateway Shutdown: %v", err)
		}
	}()
	admin := "http://" + g.AdminAddr()
	client := &http.Client{Timeout: 5 * time.Second}

	const n = 20
	for range n {
		resp, err := client.Get("http://" + g.Addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("through the gateway: %d, want 200", resp.StatusCode)
		}
	}
	g.AddEvent(gateway.Event{Kind: "replica_killed", Upstream: "api", Host: host, Detail: "by the test"})

	fetch := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	// The series counts a second once it is over: wait for it (bounded).
	var snap Snapshot
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := fetch("/api/snapshot")
		if code != http.StatusOK {
			t.Fatalf("GET /api/snapshot on the admin listener: %d %s", code, body)
		}
		snap = Snapshot{}
		if err := json.Unmarshal([]byte(body), &snap); err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, p := range snap.Series {
			total += p.Requests
		}
		if total == n {
			break
		}
		if total > n || time.Now().After(deadline) {
			t.Fatalf("the series counts %d requests, want %d", total, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(snap.Status.Upstreams) != 1 || len(snap.Status.Upstreams[0].Hosts) != 1 || snap.Status.Upstreams[0].Hosts[0].Address != host {
		t.Errorf("status upstreams %+v, want api with the one host %s", snap.Status.Upstreams, host)
	}
	var killed bool
	for _, e := range snap.Events {
		killed = killed || (e.Kind == "replica_killed" && e.Host == host)
	}
	if !killed {
		t.Errorf("events %+v do not include the replica_killed added", snap.Events)
	}

	// The page is at /, and the gateway's own routes still answer.
	if code, body := fetch("/"); code != http.StatusOK || !strings.Contains(body, "<title>Keel</title>") {
		t.Errorf("GET / on the admin listener: %d, want the page", code)
	}
	if code, body := fetch("/status"); code != http.StatusOK || !strings.Contains(body, `"upstreams"`) {
		t.Errorf("GET /status: %d %s, want the gateway's status", code, body)
	}

	// A stream over the admin listener; the deferred Shutdown ends it.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, admin+"/api/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	buf := make([]byte, 64)
	if k, err := io.ReadAtLeast(resp.Body, buf, len("retry: 2000\n\nevent: snapshot")); err != nil || !strings.Contains(string(buf[:k]), "event: snapshot") {
		t.Errorf("stream starts %q (%v), want a snapshot", buf[:k], err)
	}
}
