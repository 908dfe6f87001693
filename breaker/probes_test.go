package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keelhq/keel"
)

// TestHalfOpenConcurrentProbes sends many concurrent calls through Do to a
// half-open breaker whose probes block: exactly HalfOpenPermits of them run at
// once, every other one is rejected with a half-open *OpenError and
// ReasonHalfOpenFull, and the probes, once released, close the breaker.
func TestHalfOpenConcurrentProbes(t *testing.T) {
	const callers = 50
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("permits=%d", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{}
				b := MustNew(Config{MinimumCalls: 1, OpenDuration: time.Second, HalfOpenPermits: n, Observer: rec})
				ctx := context.Background()
				if err := b.Do(ctx, func(context.Context) error { return errors.New("down") }); err == nil {
					t.Fatal("tripping call: got nil error")
				}
				if got := b.State(); got != Open {
					t.Fatalf("after a failure with MinimumCalls 1: state got %v, want open", got)
				}
				time.Sleep(time.Second)

				gate := make(chan struct{})
				release := sync.OnceFunc(func() { close(gate) })
				defer release() // lets blocked probes return if the test fails early
				var running, peak, ran atomic.Int64
				errs := make(chan error, callers)
				for range callers {
					go func() {
						errs <- b.Do(ctx, func(context.Context) error {
							cur := running.Add(1)
							for {
								p := peak.Load()
								if cur <= p || peak.CompareAndSwap(p, cur) {
									break
								}
							}
							ran.Add(1)
							<-gate
							running.Add(-1)
							return nil
						})
					}()
				}
				synctest.Wait() // every caller has either started its probe or returned
				if got := running.Load(); got != int64(n) {
					t.Fatalf("probes running at once got %d, want exactly %d", got, n)
				}
				if m := b.Metrics(); m.State != HalfOpen || m.Probes != n {
					t.Fatalf("metrics got state %v probes %d, want half_open %d", m.State, m.Probes, n)
				}
				for range callers - n {
					err := <-errs
					var oe *OpenError
					if !errors.As(err, &oe) || oe.State != HalfOpen || !errors.Is(err, keel.ErrRejected) {
						t.Fatalf("rejected caller got %v, want a half-open *OpenError", err)
					}
				}
				release()
				for range n {
					if err := <-errs; err != nil {
						t.Fatalf("probe got %v, want nil", err)
					}
				}
				if got := ran.Load(); got != int64(n) {
					t.Errorf("probes run got %d, want %d", got, n)
				}
				if got, want := peak.Load(), int64(n); got != want {
					t.Errorf("peak concurrent probes got %d, want %d", got, want)
				}
				if got := rec.count(keel.EventRejected, keel.ReasonHalfOpenFull); got != callers-n {
					t.Errorf("ReasonHalfOpenFull events got %d, want %d", got, callers-n)
				}
				if got := b.State(); got != Closed {
					t.Errorf("after %d successful probes (SuccessesToClose defaults to HalfOpenPermits): state got %v, want closed", n, got)
				}
				if m := b.Metrics(); m.Probes != 0 {
					t.Errorf("probes in flight after the probes returned got %d, want 0", m.Probes)
				}
			})
		})
	}
}
