package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keelhq/keel"
)

// FuzzModel drives a Bulkhead with a script of arrivals, releases,
// cancellations, TryAcquires and clock steps, and checks after every step that
// it agrees with a simple model: who holds a permit, who waits (in FIFO order)
// and who was rejected for which reason.
func FuzzModel(f *testing.F) {
	f.Add(uint8(1), uint8(2), uint8(0), []byte{0, 0, 0, 0, 1, 1, 1})
	f.Add(uint8(2), uint8(1), uint8(2), []byte{0, 0, 0, 4, 0, 4, 4, 1, 0})
	f.Add(uint8(1), uint8(3), uint8(0), []byte{0, 0, 0, 2, 1, 3, 1, 1})
	f.Add(uint8(3), uint8(0), uint8(1), []byte{0, 0, 0, 0, 3, 1, 3})
	f.Fuzz(func(t *testing.T, maxConc, maxQueue, waitSteps uint8, script []byte) {
		if len(script) > 64 {
			script = script[:64]
		}
		cfg := Config{
			MaxConcurrent: 1 + int(maxConc%4),
			MaxQueue:      int(maxQueue % 5),
			MaxWait:       time.Duration(waitSteps%4) * 10 * time.Millisecond,
		}
		synctest.Test(t, func(t *testing.T) { runModel(t, cfg, script) })
	})
}

type modelCaller struct {
	cancel context.CancelFunc
	start  time.Duration // model time of arrival
}

func runModel(t *testing.T, cfg Config, script []byte) {
	b := MustNew(cfg)
	var (
		mu      sync.Mutex
		permits = map[int]Permit{}       // granted callers, by id
		reasons = map[int]keel.Reason{}  // rejected callers, by id
		callers = map[int]*modelCaller{} // every caller
	)
	// The model.
	var (
		now   time.Duration
		held  []int // ids holding a permit, oldest first
		queue []int // ids waiting, oldest first
		want  = map[int]keel.Reason{}
	)
	next := 0
	grantHead := func() {
		held = append(held, queue[0])
		queue = queue[1:]
	}
	for step, op := range script {
		switch op % 5 {
		case 0, 3: // an Acquire arrives (0), or a TryAcquire (3)
			id := next
			next++
			ctx, cancel := context.WithCancel(t.Context())
			callers[id] = &modelCaller{cancel: cancel, start: now}
			if op%5 == 3 {
				p, ok := b.TryAcquire()
				mu.Lock()
				if ok {
					permits[id] = p
				} else {
					reasons[id] = keel.ReasonBulkheadFull
				}
				mu.Unlock()
			} else {
				go func() {
					p, err := b.Acquire(ctx)
					mu.Lock()
					defer mu.Unlock()
					var re *RejectedError
					switch {
					case err == nil:
						permits[id] = p
					case errors.As(err, &re):
						reasons[id] = re.Reason
					default:
						t.Errorf("caller %d: unexpected error %v", id, err)
					}
				}()
			}
			switch {
			case len(held) < cfg.MaxConcurrent && len(queue) == 0:
				held = append(held, id)
			case op%5 == 0 && len(queue) < cfg.MaxQueue:
				queue = append(queue, id)
			default:
				want[id] = keel.ReasonBulkheadFull
			}
		case 1: // the oldest holder releases
			if len(held) == 0 {
				continue
			}
			id := held[0]
			held = held[1:]
			mu.Lock()
			p := permits[id]
			delete(permits, id)
			mu.Unlock()
			p.Release()
			if len(queue) > 0 {
				grantHead()
			}
		case 2: // the oldest waiter's context is canceled
			if len(queue) == 0 {
				continue
			}
			id := queue[0]
			queue = queue[1:]
			callers[id].cancel()
			want[id] = keel.ReasonContext
		case 4: // the clock moves on by 10ms
			time.Sleep(10 * time.Millisecond)
			now += 10 * time.Millisecond
			if cfg.MaxWait > 0 {
				var keep []int
				for _, id := range queue {
					if now-callers[id].start >= cfg.MaxWait {
						want[id] = keel.ReasonQueueTimeout
					} else {
						keep = append(keep, id)
					}
				}
				queue = keep
			}
		}
		synctest.Wait()

		mu.Lock()
		var gotHeld []int
		for id := range permits {
			gotHeld = append(gotHeld, id)
		}
		state := fmt.Sprintf("step %d (op %d) cfg %+v", step, op%5, cfg)
		if len(gotHeld) != len(held) || b.InFlight() != len(held) {
			t.Fatalf("%s: %d permits granted, InFlight()=%d; model holds %v", state, len(gotHeld), b.InFlight(), held)
		}
		for _, id := range held {
			if _, ok := permits[id]; !ok {
				t.Fatalf("%s: caller %d should hold a permit; holders %v", state, id, gotHeld)
			}
		}
		if b.Queued() != len(queue) {
			t.Fatalf("%s: Queued()=%d, model queue %v", state, b.Queued(), queue)
		}
		for id, r := range want {
			if reasons[id] != r {
				t.Fatalf("%s: caller %d rejected with %v, want %v", state, id, reasons[id], r)
			}
		}
		if len(reasons) != len(want) {
			t.Fatalf("%s: %d rejections, model has %d", state, len(reasons), len(want))
		}
		mu.Unlock()
	}
	// Drain: release everything; the queue empties in order.
	for len(held) > 0 {
		id := held[0]
		held = held[1:]
		mu.Lock()
		p := permits[id]
		delete(permits, id)
		mu.Unlock()
		p.Release()
		if len(queue) > 0 {
			grantHead()
		}
		synctest.Wait()
	}
	if in, q := b.InFlight(), b.Queued(); in != 0 || q != 0 {
		t.Fatalf("after draining InFlight=%d Queued=%d, want 0 0", in, q)
	}
	for _, c := range callers {
		c.cancel()
	}
}
