package tcpproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	errResetPeer = errors.New("tcpproxy: reset_peer")
	errLimit     = errors.New("tcpproxy: limit_data reached")
	errTimedOut  = errors.New("tcpproxy: timeout toxic expired")
	errConnDone  = errors.New("tcpproxy: connection closed")
	errReconfig  = errors.New("tcpproxy: toxics changed")
)

// past is a read deadline in the past: setting it makes a blocked Read
// return at once, which is how a connection is told to look at its toxics
// again.
var past = time.Unix(1, 0)

// conn is one proxied connection: a client and the upstream dialed for it.
type conn struct {
	p          *proxy
	client, up *net.TCPConn
	done       chan struct{}
	once       sync.Once
	links      [2]*link // downstream, upstream
}

func newConn(p *proxy, client, up *net.TCPConn) *conn {
	c := &conn{p: p, client: client, up: up, done: make(chan struct{})}
	c.links[0] = &link{c: c, src: up, dst: client}
	c.links[1] = &link{c: c, upstream: true, src: client, dst: up}
	return c
}

// interrupt makes both directions re-read the proxy's toxics.
func (c *conn) interrupt() {
	_ = c.client.SetReadDeadline(past) // fails only on a closed conn
	_ = c.up.SetReadDeadline(past)
}

// close closes both sides, with a TCP reset (SO_LINGER 0) if reset is set.
func (c *conn) close(reset bool) {
	c.once.Do(func() {
		close(c.done)
		if reset {
			_ = c.client.SetLinger(0) // best effort: a plain close still ends it
			_ = c.up.SetLinger(0)
		}
		_ = c.client.Close()
		_ = c.up.Close()
	})
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// sleep waits for d, or returns errConnDone when the connection closes.
func (c *conn) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.done:
		return errConnDone
	}
}

// pipe copies one direction until it ends, then ends the connection as the
// way it ended asks: a half close after an end of stream, a reset after a
// reset (received or injected), a close otherwise.
func (c *conn) pipe(l *link) {
	defer l.exited.Store(true)
	err := l.run()
	switch {
	case err == nil:
		_ = l.dst.CloseWrite() // the peer may be gone; the other direction decides
	case errors.Is(err, errResetPeer), errors.Is(err, syscall.ECONNRESET):
		c.close(true)
	default:
		c.close(false)
	}
}

// link is one direction of a connection.
type link struct {
	c        *conn
	upstream bool
	src, dst *net.TCPConn
	active   []*toxicState          // toxics applying now, in order
	state    map[string]*toxicState // by toxic name; nil until a toxic applies to this direction

	// pending is a chunk read after the toxics changed, to pass through
	// the new ones; pendingAt is when it was read.
	pending   []byte
	pendingAt time.Time

	// What setToxics waits for (see proxy.setToxics).
	acked  atomic.Pointer[toxicSet] // the set the link runs with
	busy   atomic.Bool              // passing a chunk through toxics; checks the set before the next
	exited atomic.Bool
}

// settled reports whether the link runs with set, or will look at it
// before it passes on any more data.
func (l *link) settled(set *toxicSet) bool {
	return l.acked.Load() == set || l.busy.Load() || l.exited.Load()
}

// toxicState is what a link knows of one toxic.
type toxicState struct {
	t     *toxic
	on    bool      // the toxicity draw for this connection
	since time.Time // when the toxic started applying
	sent  int64     // limit_data: bytes let through
	thr   throttle  // bandwidth
	seen  bool
}

// run copies src to dst until src ends (nil) or an error. With no toxic it
// copies with io.Copy between the two TCP connections, which splices on
// Linux; with toxics it reads chunks and passes them through the toxics.
func (l *link) run() error {
	var buf []byte
	for {
		set := l.c.p.toxics.Load()
		deadline := l.configure(set)
		if err := l.src.SetReadDeadline(deadline); err != nil {
			return err
		}
		if l.c.p.toxics.Load() != set {
			continue // changed before the deadline was set: look again
		}
		l.acked.Store(set)
		var err error
		if len(l.active) == 0 && l.pending == nil {
			_, err = io.Copy(l.dst, l.src)
		} else {
			if buf == nil {
				buf = make([]byte, 32<<10)
			}
			err = l.copyToxic(buf, set)
		}
		switch {
		case err == nil:
			return l.slowClose()
		case errors.Is(err, errReconfig):
		case errors.Is(err, os.ErrDeadlineExceeded) && !l.c.closed():
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				return errTimedOut
			}
			// Interrupted: the toxics changed.
		default:
			return err
		}
	}
}

// configure works out which toxics apply to this direction from set, drawing
// each new or updated toxic's toxicity once, and returns the read deadline
// a timeout toxic sets (zero for none).
func (l *link) configure(set *toxicSet) time.Time {
	l.active = l.active[:0]
	var deadline time.Time
	now := time.Now()
	for _, st := range l.state {
		st.seen = false
	}
	for _, t := range set.all {
		if t.upstream != l.upstream {
			continue
		}
		if l.state == nil {
			l.state = make(map[string]*toxicState)
		}
		st := l.state[t.Name]
		if st == nil {
			st = &toxicState{}
			l.state[t.Name] = st
		}
		if st.t != t {
			st.t, st.on, st.since = t, l.c.p.s.draw(t.Toxicity), now
		}
		st.seen = true
		if !st.on {
			continue
		}
		l.active = append(l.active, st)
		if t.Type == "timeout" && t.timeout > 0 {
			if d := st.since.Add(t.timeout); deadline.IsZero() || d.Before(deadline) {
				deadline = d
			}
		}
	}
	for name, st := range l.state {
		if !st.seen {
			delete(l.state, name)
		}
	}
	return deadline
}

// copyToxic reads chunks from src and passes them through the active
// toxics, until src ends (nil), an error, or the toxics change
// (errReconfig).
func (l *link) copyToxic(buf []byte, set *toxicSet) error {
	if b := l.pending; b != nil {
		l.pending = nil
		if err := l.emit(0, b, l.pendingAt); err != nil {
			return err
		}
		if len(l.active) == 0 {
			return errReconfig // back to the zero-copy path
		}
	}
	for {
		l.busy.Store(false)
		n, err := l.src.Read(buf)
		if n > 0 {
			l.busy.Store(true)
			at := time.Now()
			// Data can win the race with the interrupting deadline: check
			// that the toxics are still the ones configured.
			if l.c.p.toxics.Load() != set {
				l.pending, l.pendingAt = buf[:n], at
				return errReconfig
			}
			if werr := l.emit(0, buf[:n], at); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// emit passes b, read at time at, through the active toxics from the i-th on,
// and writes what comes out to dst.
func (l *link) emit(i int, b []byte, at time.Time) error {
	if i == len(l.active) {
		_, err := l.dst.Write(b)
		return err
	}
	st := l.active[i]
	t := st.t
	switch t.Type {
	case "latency":
		d := t.latency
		if t.jitter > 0 {
			d += time.Duration(l.c.p.s.intN(2*int64(t.jitter)+1)) - t.jitter
		}
		due := at.Add(d)
		if err := l.c.sleep(time.Until(due)); err != nil {
			return err
		}
		return l.emit(i+1, b, due)
	case "bandwidth":
		if t.rate <= 0 {
			return l.emit(i+1, b, at)
		}
		st.thr.rate = t.rate
		for len(b) > 0 {
			n := min(len(b), st.thr.chunk())
			if err := st.thr.wait(l.c, n); err != nil {
				return err
			}
			if err := l.emit(i+1, b[:n], at); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	case "timeout":
		return nil // dropped; the deadline closes the connection
	case "reset_peer":
		if err := l.c.sleep(t.timeout); err != nil {
			return err
		}
		return errResetPeer
	case "slicer":
		for len(b) > 0 {
			size := t.avgSize
			if t.sizeVar > 0 {
				size += int(l.c.p.s.intN(2*int64(t.sizeVar)+1)) - t.sizeVar
			}
			n := min(max(size, 1), len(b))
			if err := l.emit(i+1, b[:n], at); err != nil {
				return err
			}
			b = b[n:]
			if err := l.c.sleep(t.delay); err != nil {
				return err
			}
		}
		return nil
	case "limit_data":
		left := t.bytes - st.sent
		if left <= 0 {
			return errLimit
		}
		if int64(len(b)) > left {
			b = b[:left]
		}
		if err := l.emit(i+1, b, at); err != nil {
			return err
		}
		st.sent += int64(len(b))
		if st.sent >= t.bytes {
			return errLimit
		}
		return nil
	}
	return l.emit(i+1, b, at) // slow_close acts at the end of the stream
}

// slowClose waits for the delay of the active slow_close toxics before the
// end of the stream is passed on.
func (l *link) slowClose() error {
	for _, st := range l.active {
		if st.t.Type == "slow_close" {
			if err := l.c.sleep(st.t.delay); err != nil {
				return err
			}
		}
	}
	return nil
}

// throttle paces writes to rate bytes per second.
type throttle struct {
	rate int64
	next time.Time // when the bytes sent so far are due
}

// chunk is how many bytes to send at once: a tenth of a second's worth, at
// least 1 byte.
func (t *throttle) chunk() int { return int(max(t.rate/10, 1)) }

// wait sleeps until n more bytes are due. A link that fell behind catches up
// by up to a second's worth; after a longer pause the schedule restarts.
func (t *throttle) wait(c *conn, n int) error {
	now := time.Now()
	if now.Sub(t.next) > time.Second {
		t.next = now
	}
	t.next = t.next.Add(time.Duration(int64(n) * int64(time.Second) / t.rate))
	return c.sleep(time.Until(t.next))
}
