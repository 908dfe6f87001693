package idempotency

import (
	"context"
	"errors"
	"sync"
	"time"
)

// heartbeat renews a running handler's lease every interval. It is owned by
// the request that started it: stop ends it and waits for a renewal in
// flight. Between renewals nothing runs: a timer (time.AfterFunc) starts
// each renewal, which re-arms the timer when it is done.
type heartbeat struct {
	m                 *Middleware
	ctx               context.Context
	scope, key, token string

	mu      sync.Mutex
	t       *time.Timer
	stopped bool
	running sync.WaitGroup
	err     error // the last failure
}

// startHeartbeat starts renewing the lease, or returns nil when heartbeats
// are off.
func (m *Middleware) startHeartbeat(ctx context.Context, scope, key, token string) *heartbeat {
	if m.heartbeat <= 0 {
		return nil
	}
	hb := &heartbeat{m: m, ctx: ctx, scope: scope, key: key, token: token}
	hb.mu.Lock()
	hb.t = time.AfterFunc(m.heartbeat, hb.renew)
	hb.mu.Unlock()
	return hb
}

func (hb *heartbeat) renew() {
	hb.mu.Lock()
	if hb.stopped {
		hb.mu.Unlock()
		return
	}
	hb.running.Add(1)
	hb.mu.Unlock()
	defer hb.running.Done()

	err := hb.m.store.Heartbeat(hb.ctx, hb.scope, hb.key, hb.token, time.Now(), hb.m.lease)

	hb.mu.Lock()
	defer hb.mu.Unlock()
	if err != nil {
		hb.err = err
	}
	if !hb.stopped && !errors.Is(err, ErrLeaseLost) { // a lost lease is not renewed
		hb.t.Reset(hb.m.heartbeat)
	}
}

// stop ends the heartbeat, waits for a renewal in flight, and returns the
// last failure. It may be called on a nil heartbeat.
func (hb *heartbeat) stop() error {
	if hb == nil {
		return nil
	}
	hb.mu.Lock()
	hb.stopped = true
	hb.t.Stop()
	hb.mu.Unlock()
	hb.running.Wait()
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.err
}
