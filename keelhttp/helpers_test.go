package keelhttp_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/keelhttp"
)

// server is an httptest server on 127.0.0.1 that records what it received
// and counts its connections.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []seen
	states map[net.Conn]http.ConnState
	newc   int
}

type seen struct {
	Method, Key, Body, Deadline string
}

// newServer starts a server whose handler h is called with the number of the
// request (1 for the first).
func newServer(t *testing.T, h func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{states: map[net.Conn]http.ConnState{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{Method: r.Method, Key: r.Header.Get("Idempotency-Key"), Body: string(body), Deadline: r.Header.Get(keelhttp.DeadlineHeader)})
		n := len(s.reqs)
		s.mu.Unlock()
		h(n, w, r)
	}))
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if st == http.StateNew {
			s.newc++
		}
		if st == http.StateClosed || st == http.StateHijacked {
			delete(s.states, c)
			return
		}
		s.states[c] = st
	}
	s.Start()
	t.Cleanup(func() {
		// Break connections first: a handler blocked writing a body the
		// client leaked would otherwise keep Close waiting forever.
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

func (s *server) seen() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

// conns returns the number of connections ever opened and of those now
// active (serving or blocked writing a response).
func (s *server) conns() (opened, active int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.states {
		if st == http.StateActive {
			active++
		}
	}
	return s.newc, active
}

// client returns an http.Client over a fresh http.Transport wrapped by a
// keelhttp.Transport configured by cfg (with instant retries unless cfg sets
// a backoff), closing its idle connections at the end of the test.
func client(t *testing.T, cfg keelhttp.TransportConfig) (*http.Client, *keelhttp.Transport) {
	t.Helper()
	if cfg.Base == nil {
		base := &http.Transport{MaxIdleConnsPerHost: 4}
		t.Cleanup(base.CloseIdleConnections)
		cfg.Base = base
	}
	if cfg.Retry.Backoff.IsZero() {
		cfg.Retry.Backoff = backoff.Constant(0)
	}
	kt, err := keelhttp.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: kt}, kt
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}
