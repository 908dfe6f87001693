package idempotency

import (
	"context"
	"errors"
	"time"
)

// heartbeat renews a running handler's lease every interval. It is owned by
// the request that started it: stop ends it and waits for it.
type heartbeat struct {
	stopc chan struct{}
	done  chan struct{}
	err   error // the last failure; read after done is closed
}

// startHeartbeat starts renewing the lease, or returns nil when heartbeats
// are off.
func (m *Middleware) startHeartbeat(ctx context.Context, scope, key, token string) *heartbeat {
	if m.heartbeat <= 0 {
		return nil
	}
	hb := &heartbeat{stopc: make(chan struct{}), done: make(chan struct{})}
	go hb.run(ctx, m, scope, key, token)
	return hb
}

func (hb *heartbeat) run(ctx context.Context, m *Middleware, scope, key, token string) {
	defer close(hb.done)
	t := time.NewTicker(m.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-hb.stopc:
			return
		case <-t.C:
		}
		err := m.store.Heartbeat(ctx, scope, key, token, time.Now(), m.lease)
		if err == nil {
			continue
		}
		hb.err = err
		if errors.Is(err, ErrLeaseLost) {
			return // someone else owns the key now; nothing to renew
		}
	}
}

// stop ends the heartbeat, waits for it, and returns its last failure. It
// may be called on a nil heartbeat.
func (hb *heartbeat) stop() error {
	if hb == nil {
		return nil
	}
	close(hb.stopc)
	<-hb.done
	return hb.err
}
