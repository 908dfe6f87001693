package tcpproxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is one named proxy. Its fields other than toxics are guarded by the
// Server's mu.
type proxy struct {
	s                *Server
	name             string
	listen, upstream string
	run              *run // nil while disabled

	toxics atomic.Pointer[toxicSet]
}

func (p *proxy) info() Proxy {
	return Proxy{
		Name:     p.name,
		Listen:   p.listen,
		Upstream: p.upstream,
		Enabled:  p.run != nil,
		Toxics:   p.toxics.Load().list(),
	}
}

// run is one period during which a proxy listens: from start to stop. It
// owns the accept loop and every connection goroutine, and stop joins them.
type run struct {
	p        *proxy
	ln       net.Listener
	upstream string
	ctx      context.Context // canceled by stop: ends dials in progress
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	conns   map[*conn]struct{}
	stopped bool
}

// start listens and starts accepting. The Server's mu is held.
func (p *proxy) start() error {
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		return err
	}
	p.listen = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{p: p, ln: ln, upstream: p.upstream, ctx: ctx, cancel: cancel, conns: make(map[*conn]struct{})}
	p.run = r
	r.wg.Add(1)
	go r.accept()
	p.s.logger.Info("tcpproxy: proxy started", slog.String("name", p.name),
		slog.String("listen", p.listen), slog.String("upstream", p.upstream))
	return nil
}

// stop closes the listener and every connection, and waits for their
// goroutines. The Server's mu is held.
func (p *proxy) stop() {
	r := p.run
	if r == nil {
		return
	}
	p.run = nil
	_ = r.ln.Close() // ends accept; its error says nothing more
	r.cancel()
	r.mu.Lock()
	r.stopped = true
	conns := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.close(false)
	}
	r.wg.Wait()
	p.s.logger.Info("tcpproxy: proxy stopped", slog.String("name", p.name))
}

// maxSettle bounds how long a toxic change waits for open connections to
// take it up.
const maxSettle = 100 * time.Millisecond

// setToxics installs a new toxic set, tells the open connections and waits
// until each direction runs with it or will check it before passing on more
// data, so that data sent after the change sees the new toxics. A direction
// blocked writing to a peer that does not read is waited for at most
// maxSettle in all; it takes the change up when it next reads. The Server's
// mu is held.
func (p *proxy) setToxics(set *toxicSet) {
	p.toxics.Store(set)
	r := p.run
	if r == nil {
		return
	}
	r.mu.Lock()
	conns := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		c.interrupt()
		conns = append(conns, c)
	}
	r.mu.Unlock()
	deadline := time.Now().Add(maxSettle)
	for _, c := range conns {
		for _, l := range c.links {
			for !l.settled(set) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
}

func (r *run) accept() {
	defer r.wg.Done()
	var backoff time.Duration
	for {
		c, err := r.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors, or the like: wait and try again,
			// as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			r.p.s.logger.Warn("tcpproxy: accept failed", slog.String("name", r.p.name),
				slog.Any("err", err), slog.Duration("retry_in", backoff))
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-r.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		r.wg.Add(1)
		go r.serve(c.(*net.TCPConn))
	}
}

// serve dials the upstream for client and pipes the two together.
func (r *run) serve(client *net.TCPConn) {
	defer r.wg.Done()
	d := net.Dialer{Timeout: r.p.s.dialTimeout}
	uc, err := d.DialContext(r.ctx, "tcp", r.upstream)
	if err != nil {
		r.p.s.logger.Warn("tcpproxy: upstream dial failed", slog.String("name", r.p.name), slog.Any("err", err))
		_ = client.Close() // the client sees the connection end
		return
	}
	c := newConn(r.p, client, uc.(*net.TCPConn))
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		c.close(false)
		return
	}
	r.conns[c] = struct{}{}
	r.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { c.pipe(c.links[1]) })
	c.pipe(c.links[0])
	wg.Wait()
	c.close(false)

	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}
