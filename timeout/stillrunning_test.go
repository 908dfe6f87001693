package timeout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/retry"
)

// TestPermitHeldThroughNestedTimeouts: a cooperative timeout whose deadline
// passes as an inner return-on-time timeout gives up wraps the inner
// *ExceededError in its own. The bulkhead outside must still hold its permit
// until the abandoned operation really exits.
func TestPermitHeldThroughNestedTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		outer := MustNew(Config{Name: "outer", Timeout: time.Second})
		inner := MustNew(Config{Name: "inner", Timeout: time.Second, ReturnOnTime: true})
		err := keel.Chain(bh, outer, inner).Do(t.Context(), func(context.Context) error {
			time.Sleep(5 * time.Second) // ignores its context
			return nil
		})
		var ee *ExceededError
		if !errors.As(err, &ee) || ee.Name != "outer" {
			t.Fatalf("got %v, want the outer policy's *ExceededError", err)
		}
		time.Sleep(4*time.Second - time.Nanosecond)
		synctest.Wait()
		if n := bh.InFlight(); n != 1 {
			t.Errorf("InFlight() just before the abandoned op exits = %d, want 1", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if n := bh.InFlight(); n != 0 {
			t.Fatalf("InFlight() after the op exited = %d, want 0", n)
		}
	})
}

// TestPermitHeldUntilEveryAbandonedAttemptExits: a retry inside a bulkhead
// whose attempts are each abandoned by a return-on-time timeout returns an
// *ExhaustedError carrying several still-running attempts. The permit must be
// held until the last of them exits, not just the newest.
func TestPermitHeldUntilEveryAbandonedAttemptExits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		rt := retry.MustNew(retry.Config{MaxAttempts: 2, Backoff: backoff.Constant(0), DisableBudget: true})
		to := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
		var calls atomic.Int64
		start := time.Now()
		err := keel.Chain(bh, rt, to).Do(t.Context(), func(context.Context) error {
			if calls.Add(1) == 1 {
				time.Sleep(10 * time.Second) // the first attempt runs longest
			} else {
				time.Sleep(1500 * time.Millisecond)
			}
			return nil
		})
		if got := time.Since(start); got != 2*time.Second || !errors.Is(err, retry.ErrExhausted) {
			t.Fatalf("got %v after %v, want retry.ErrExhausted after 2s", err, got)
		}
		time.Sleep(time.Second) // the second attempt exited at 2.5s
		synctest.Wait()
		if n := bh.InFlight(); n != 1 {
			t.Errorf("InFlight() at 3s, while the first attempt still runs = %d, want 1", n)
		}
		time.Sleep(7 * time.Second) // the first attempt exits at 10s
		synctest.Wait()
		if n := bh.InFlight(); n != 0 {
			t.Fatalf("InFlight() after every attempt exited = %d, want 0", n)
		}
	})
}
