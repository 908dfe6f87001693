package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// server is an http.Server on 127.0.0.1 with an owner: start it with serve,
// stop and join it with close.
type server struct {
	srv  *http.Server
	url  string
	done chan struct{}
	err  error // of Serve, once done is closed
}

func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		url:  "http://" + ln.Addr().String() + "/",
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s, nil
}

// close closes the listener and every connection, waits for Serve to return
// and returns its error, if it failed. Handlers still running must be
// released by their own stop signal.
func (s *server) close() error {
	_ = s.srv.Close()
	<-s.done
	return s.err
}

// capped is a backend with a fixed capacity: at most cap(sem) requests are
// served at once, each for service; the others wait in its queue, and a queued
// request is served even when its client has gone. Closing stop releases
// every handler at once (end of a phase).
type capped struct {
	sem     chan struct{}
	service time.Duration
	stop    chan struct{}
	served  atomic.Int64
}

func newCapped(conc int, service time.Duration) *capped {
	return &capped{sem: make(chan struct{}, conc), service: service, stop: make(chan struct{})}
}

func (b *capped) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	select {
	case b.sem <- struct{}{}:
	case <-b.stop:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	t := time.NewTimer(b.service)
	select {
	case <-t.C:
	case <-b.stop:
		t.Stop()
	}
	<-b.sem
	b.served.Add(1)
	w.WriteHeader(http.StatusOK)
}

// tail is the hedging backend: each request takes slow with probability
// slowP and fast otherwise, drawn from a seeded generator. It honors the
// request's context, so a canceled hedge loser frees its place at once.
type tail struct {
	mu       sync.Mutex
	rnd      *rand.Rand
	slowP    float64
	fast     time.Duration
	slow     time.Duration
	requests atomic.Int64
}

func newTail(seed uint64) *tail {
	return &tail{
		rnd:   rand.New(rand.NewPCG(seed, seed)),
		slowP: 0.05,
		fast:  2 * time.Millisecond,
		slow:  100 * time.Millisecond,
	}
}

func (b *tail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	b.mu.Lock()
	d := b.fast
	if b.rnd.Float64() < b.slowP {
		d = b.slow
	}
	b.mu.Unlock()
	if !sleep(r.Context(), d) {
		return // the client went away
	}
	w.WriteHeader(http.StatusOK)
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
