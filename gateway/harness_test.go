package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/gateway/config"
	"github.com/keelhq/keel/keeltest"
)

// testGateway is a gateway started on 127.0.0.1 for one test.
type testGateway struct {
	*Gateway
	url   string // proxy base URL
	admin string // admin base URL
	logs  *keeltest.Buffer
}

// startGateway parses yml (with listen and admin addresses on port 0 added
// when absent), starts the gateway and stops it when the test ends.
func startGateway(t testing.TB, yml string, env map[string]string) *testGateway {
	t.Helper()
	if !strings.Contains(yml, "listen:") {
		yml = "listen: {address: 127.0.0.1:0}\n" + yml
	}
	if !strings.Contains(yml, "admin:") {
		yml = "admin: {address: 127.0.0.1:0, token: secret}\n" + yml
	}
	cfg, err := config.Parse("test.yaml", []byte(yml), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	logs := &keeltest.Buffer{}
	g, err := New(cfg, Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := g.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	tg := &testGateway{Gateway: g, url: "http://" + g.Addr(), logs: logs}
	if a := g.AdminAddr(); a != "" {
		tg.admin = "http://" + a
	}
	return tg
}

// backend is an httptest server on 127.0.0.1 that counts its requests.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
}

func newBackend(t *testing.T, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits++
		b.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits
}

// addr is the backend's host:port.
func (b *backend) addr() string { return strings.TrimPrefix(b.URL, "http://") }

// text answers with a fixed status and body.
func text(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// result is what a client saw.
type result struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, c *http.Client, method, url string, body string, header map[string]string) result {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rb)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return result{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func get(t *testing.T, url string) result {
	t.Helper()
	return do(t, http.DefaultClient, http.MethodGet, url, "", nil)
}

// upstreams renders an upstreams section with the given targets.
func upstreamYAML(name string, extra string, targets ...string) string {
	q := make([]string, len(targets))
	for i, t := range targets {
		q[i] = fmt.Sprintf("%q", t)
	}
	return fmt.Sprintf("  %s:\n    targets: [%s]\n%s", name, strings.Join(q, ", "), extra)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
