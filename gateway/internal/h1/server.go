package h1

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves HTTP/1.0 and HTTP/1.1 on plain-text connections, with the
// handler semantics of net/http's Server (http.ResponseWriter, Flusher,
// Hijacker and http.ResponseController), for less work per request:
//
//   - no goroutine reads behind the handler's back. net/http starts one for
//     every request, to notice a client that goes away; here a client is
//     watched only once its handler has run for WatchAfter (a slow
//     upstream), so a disconnect still cancels the request's context;
//   - no timer per request: the deadlines (ReadHeaderTimeout, ReadTimeout,
//     WriteTimeout, IdleTimeout) are kept as numbers on the connection and
//     enforced by one sweep for the whole server, a few times a second, so
//     they fire up to a sweep late;
//   - reads and writes are raw system calls on the socket, which the poller
//     still waits on, and the response header is written in one piece.
//
// TLS, HTTP/2 and h2c stay with net/http. Server handles what a proxy's
// listener needs: keep-alive and pipelining, Content-Length and chunked
// bodies both ways, trailers, "Expect: 100-continue", 1xx responses, HEAD,
// Flush, Hijack (protocol upgrades), bounded headers and graceful Shutdown.
type Server struct {
	Handler http.Handler // nil is http.DefaultServeMux

	// ReadHeaderTimeout bounds the time from a request's first byte to the
	// end of its header; 0 takes ReadTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the time from a request's first byte to the end of
	// its body; 0 is none.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of a request's header to
	// the end of its response; 0 is none.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection; 0 takes ReadTimeout, and both 0 is none.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header (request line included);
	// 0 is http.DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// WatchAfter is how long a handler runs, its request body read, before
	// the server watches the client's connection for a disconnect and
	// cancels the request's context when it sees one. 0 is 50ms.
	WatchAfter time.Duration
	// ErrorLog receives handler panics and accept errors; nil is the log
	// package's standard logger.
	ErrorLog *log.Logger

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*sconn]struct{}
	closing   atomic.Bool
	done      chan struct{} // closed when the server shuts down or closes
	sweeping  bool
	sweepStop chan struct{} // closed by Close, or by Shutdown once no connection is left
	sweepDone chan struct{}
	epoch     time.Time
	dates     dateCache
}

func (s *Server) handler() http.Handler {
	if s.Handler != nil {
		return s.Handler
	}
	return http.DefaultServeMux
}

// ErrServerClosed is http.ErrServerClosed: Serve's error after Shutdown or
// Close.
var ErrServerClosed = http.ErrServerClosed

func (s *Server) initLocked() {
	if s.conns == nil {
		s.conns = make(map[*sconn]struct{})
		s.listeners = make(map[*net.Listener]struct{})
		s.done = make(chan struct{})
		s.epoch = time.Now()
	}
}

// now is the server's monotonic clock, in nanoseconds; never 0.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) + 1 }

func (s *Server) maxHeader() int64 {
	if s.MaxHeaderBytes > 0 {
		return int64(s.MaxHeaderBytes)
	}
	return http.DefaultMaxHeaderBytes
}

func (s *Server) headerTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadTimeout
}

func (s *Server) watchAfter() time.Duration {
	if s.WatchAfter > 0 {
		return s.WatchAfter
	}
	return 50 * time.Millisecond
}

// sweepEvery is the sweep's period: a quarter of the shortest timeout or of
// WatchAfter, within [5ms, 250ms].
func (s *Server) sweepEvery() time.Duration {
	d := s.watchAfter()
	for _, t := range []time.Duration{s.headerTimeout(), s.ReadTimeout, s.WriteTimeout, s.idleTimeout()} {
		if t > 0 && t < d {
			d = t
		}
	}
	return min(max(d/4, 5*time.Millisecond), 250*time.Millisecond)
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// Serve accepts connections on ln and serves each on its own goroutine. It
// returns ErrServerClosed after Shutdown or Close, or the listener's error.
// ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.initLocked()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[&ln] = struct{}{}
	if !s.sweeping {
		s.sweeping = true
		s.sweepStop = make(chan struct{})
		s.sweepDone = make(chan struct{})
		go s.sweep(s.sweepStop, s.sweepDone)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()

	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors and the like: wait, as net/http does.
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				s.logf("h1: accept error: %v; retrying in %v", err, pause)
				t := time.NewTimer(pause)
				select {
				case <-t.C:
				case <-s.done:
					t.Stop()
				}
				continue
			}
			return err
		}
		pause = 0
		sc := newSconn(s, c)
		if !s.track(sc) {
			_ = c.Close()
			return ErrServerClosed
		}
		go sc.serve()
	}
}

func (s *Server) track(c *sconn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *sconn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// sweep enforces the connections' deadlines and starts the watches of long
// handlers, until the server closes or a Shutdown finds no connection left:
// while Shutdown waits, the connections it waits for keep their deadlines.
func (s *Server) sweep(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.sweepEvery())
	defer t.Stop()
	watchAfter := int64(s.watchAfter())
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := s.now()
		s.mu.Lock()
		for c := range s.conns {
			c.check(now, watchAfter)
		}
		s.mu.Unlock()
	}
}

// Shutdown stops the listeners, closes idle connections, and waits for the
// others to finish their requests and close, or for ctx to end (then it
// returns ctx's error and leaves them; Close ends them). Connections that
// finish a request during Shutdown answer with "Connection: close".
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	poll := time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		if s.closeIdle() {
			s.stopSweep()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			poll = min(2*poll, 100*time.Millisecond)
			t.Reset(poll)
		}
	}
}

// Close stops the listeners and closes every connection at once, hijacked
// ones excepted.
func (s *Server) Close() error {
	s.beginClose()
	s.mu.Lock()
	for c := range s.conns {
		c.shut()
	}
	s.mu.Unlock()
	s.stopSweep()
	return nil
}

func (s *Server) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.closing.Swap(true) {
		return
	}
	close(s.done)
	for ln := range s.listeners {
		_ = (*ln).Close()
	}
}

// stopSweep ends the sweep, once, and waits for it.
func (s *Server) stopSweep() {
	s.mu.Lock()
	stop, done := s.sweepStop, s.sweepDone
	if stop != nil && s.sweeping {
		s.sweeping = false
		close(stop)
	}
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// closeIdle closes the connections that wait for a request, and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// dateCache formats the Date header once a second.
type dateCache struct {
	v atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	b   []byte // "Date: ...\r\n"
}

func (d *dateCache) line() []byte {
	now := time.Now()
	sec := now.Unix()
	if v := d.v.Load(); v != nil && v.sec == sec {
		return v.b
	}
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	d.v.Store(&dateValue{sec: sec, b: b})
	return b
}
