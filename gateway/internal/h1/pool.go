package h1

import (
	"context"
	"sync"
	"time"
)

// hostConns is the connection pool of one host: idle connections, newest
// last, and the requests waiting for a connection when MaxConnsPerHost is
// reached.
type hostConns struct {
	t    *Transport
	addr string

	mu      sync.Mutex
	idle    []*pconn      // oldest first; taken from the end
	open    int           // connections dialing, in use or idle
	waiters []chan *pconn // a connection, or nil for a free slot to dial
	sweeper *time.Timer   // closes idle connections past their timeout
	sweepOn bool          // sweeper is scheduled
	closed  bool
}

func newHostConns(t *Transport, addr string) *hostConns {
	return &hostConns{t: t, addr: addr}
}

// get returns an idle connection, a new one, or (at MaxConnsPerHost) the
// first one another request gives back.
func (h *hostConns) get(ctx context.Context) (*pconn, error) {
	probe := h.t.probeAfter()
	timeout := h.t.idleTimeout()
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrClosed
		}
		if n := len(h.idle); n > 0 {
			pc := h.idle[n-1]
			h.idle[n-1] = nil
			h.idle = h.idle[:n-1]
			h.mu.Unlock()
			idle := time.Since(pc.idleAt)
			if idle >= timeout || (probe > 0 && idle >= probe && !pc.alive()) {
				pc.close()
				continue
			}
			pc.reused = true
			return pc, nil
		}
		if m := h.t.MaxConnsPerHost; m <= 0 || h.open < m {
			h.open++
			h.mu.Unlock()
			return h.dial(ctx)
		}
		ch := make(chan *pconn, 1)
		h.waiters = append(h.waiters, ch)
		h.mu.Unlock()
		select {
		case pc := <-ch:
			if pc == nil {
				if h.isClosed() { // the slot passes on to the next waiter
					h.release()
					return nil, ErrClosed
				}
				return h.dial(ctx)
			}
			pc.reused = true
			return pc, nil
		case <-ctx.Done():
			if !h.unwait(ch) { // a connection or a slot was given meanwhile
				if pc := <-ch; pc != nil {
					h.put(pc)
				} else {
					h.release()
				}
			}
			return nil, context.Cause(ctx)
		}
	}
}

func (h *hostConns) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// unwait removes ch from the waiters; false when it was no longer there.
func (h *hostConns) unwait(ch chan *pconn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, w := range h.waiters {
		if w == ch {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// dial opens a connection in a slot already counted in open.
func (h *hostConns) dial(ctx context.Context) (*pconn, error) {
	c, err := h.t.dial(ctx, h.addr)
	if err != nil {
		h.release()
		return nil, err
	}
	return newPconn(h, c), nil
}

// put gives a connection whose exchange is complete back: to the first
// waiter, to the idle list, or, past MaxIdleConnsPerHost, closed.
func (h *hostConns) put(pc *pconn) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		pc.close()
		return
	}
	if ch := h.nextWaiterLocked(); ch != nil {
		h.mu.Unlock()
		ch <- pc
		return
	}
	if len(h.idle) >= h.t.maxIdle() {
		h.mu.Unlock()
		pc.close()
		return
	}
	pc.idleAt = time.Now()
	h.idle = append(h.idle, pc)
	if !h.sweepOn {
		h.sweepOn = true
		if h.sweeper == nil {
			h.sweeper = time.AfterFunc(h.t.idleTimeout(), h.sweep)
		} else {
			h.sweeper.Reset(h.t.idleTimeout())
		}
	}
	h.mu.Unlock()
}

// nextWaiterLocked removes and returns the longest-waiting request's
// channel, or nil when none waits.
func (h *hostConns) nextWaiterLocked() chan *pconn {
	if len(h.waiters) == 0 {
		return nil
	}
	ch := h.waiters[0]
	h.waiters[0] = nil
	h.waiters = h.waiters[1:]
	return ch
}

// release frees the slot of a closed connection: a waiter may dial in it.
func (h *hostConns) release() {
	h.mu.Lock()
	if ch := h.nextWaiterLocked(); ch != nil {
		h.mu.Unlock()
		ch <- nil // the slot passes to the waiter
		return
	}
	h.open--
	h.mu.Unlock()
}

// sweep closes the idle connections past their timeout and schedules
// itself for the next one.
func (h *hostConns) sweep() {
	timeout := h.t.idleTimeout()
	h.mu.Lock()
	now := time.Now()
	i := 0
	for i < len(h.idle) && now.Sub(h.idle[i].idleAt) >= timeout {
		i++
	}
	dead := make([]*pconn, i)
	copy(dead, h.idle[:i])
	n := copy(h.idle, h.idle[i:])
	clear(h.idle[n:])
	h.idle = h.idle[:n]
	if n > 0 && !h.closed {
		h.sweeper.Reset(timeout - now.Sub(h.idle[0].idleAt))
	} else {
		h.sweepOn = false
	}
	h.mu.Unlock()
	for _, pc := range dead {
		pc.close()
	}
}

// takeIdle empties the idle list and returns what it held.
func (h *hostConns) takeIdle(shut bool) []*pconn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if shut {
		h.closed = true
		if h.sweeper != nil {
			h.sweeper.Stop()
			h.sweepOn = false
		}
	}
	idle := h.idle
	h.idle = nil
	return idle
}

func (h *hostConns) closeIdle() {
	for _, pc := range h.takeIdle(false) {
		pc.close()
	}
}

func (h *hostConns) shut() {
	for _, pc := range h.takeIdle(true) {
		pc.close()
	}
}

// stats reports the host's open and idle connections.
func (h *hostConns) stats() (open, idle int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open, len(h.idle)
}
