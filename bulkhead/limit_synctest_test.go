package bulkhead

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestThousandCallersExactlyAtLimit complements TestNeverExceedsLimit with
// fake time: 1,000 callers, each holding a permit for 1ms, against 7 permits
// and a queue that holds them all. The bulkhead must run exactly 7 at a time
// (never more, and never fewer while callers wait), so everything finishes in
// ⌈1000/7⌉ = 143 rounds of 1ms.
func TestThousandCallersExactlyAtLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, callers = 7, 1000
		b := MustNew(Config{MaxConcurrent: limit, MaxQueue: callers})
		var running, peak, ran atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range callers {
			wg.Go(func() {
				err := b.Do(t.Context(), func(context.Context) error {
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(time.Millisecond)
					running.Add(-1)
					ran.Add(1)
					return nil
				})
				if err != nil {
					t.Errorf("Do: got %v, want nil (the queue holds every caller)", err)
				}
			})
		}
		synctest.Wait()
		if in, q := b.InFlight(), b.Queued(); in != limit || q != callers-limit {
			t.Errorf("once all callers arrived: InFlight=%d Queued=%d, want %d %d", in, q, limit, callers-limit)
		}
		wg.Wait()
		if got := peak.Load(); got != limit {
			t.Errorf("peak concurrency got %d, want exactly %d", got, limit)
		}
		if got := ran.Load(); got != callers {
			t.Errorf("operations run got %d, want %d", got, callers)
		}
		if got, want := time.Since(start), (callers+limit-1)/limit*time.Millisecond; got != want {
			t.Errorf("all calls done after %v, want %v (%d full rounds)", got, want, (callers+limit-1)/limit)
		}
		if in, q := b.InFlight(), b.Queued(); in != 0 || q != 0 {
			t.Errorf("after all calls: InFlight=%d Queued=%d, want 0 0", in, q)
		}
	})
}
