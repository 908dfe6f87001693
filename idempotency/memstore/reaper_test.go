package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
	"github.com/keelhq/keel/idempotency/memstore"
)

// claim puts n records into s, claimed now, that expire after retention.
func claim(t *testing.T, s *memstore.Store, prefix string, n int, retention time.Duration) {
	t.Helper()
	for i := range n {
		_, err := s.Claim(context.Background(), idempotency.ClaimRequest{
			Scope: "s", Key: fmt.Sprintf("%s-%d", prefix, i), Token: "t",
			Now: time.Now(), Lease: time.Second, Retention: retention,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestReaper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memstore.New(memstore.WithReaper(time.Minute, 100))
		defer func() { _ = s.Close() }()
		claim(t, s, "short", 250, 30*time.Second) // more than two batches
		claim(t, s, "long", 10, time.Hour)

		time.Sleep(59 * time.Second) // expired, but no tick yet
		synctest.Wait()
		if got, want := s.Len(), 260; got != want {
			t.Errorf("before the first tick: got %d records, want %d", got, want)
		}
		time.Sleep(time.Second) // the first tick
		synctest.Wait()
		if got, want := s.Len(), 10; got != want {
			t.Errorf("after the first tick: got %d records, want %d (the unexpired ones)", got, want)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := s.Len(); got != 0 {
			t.Errorf("an hour later: got %d records, want 0", got)
		}
	})
}

// Close stops the reaper and waits for it: inside a synctest bubble, Test
// itself fails if the reaper's goroutine outlives the function.
func TestReaperClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memstore.New(memstore.WithReaper(time.Minute, 0))
		claim(t, s, "k", 3, time.Second)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got, want := s.Len(), 3; got != want {
			t.Errorf("an hour after Close: got %d records, want %d (nothing reaps them)", got, want)
		}
		// The Store stays usable.
		if n, err := s.Reap(context.Background(), time.Now(), 0); n != 3 || err != nil {
			t.Errorf("Reap after Close: got %d, %v; want 3, nil", n, err)
		}
	})
}

func TestNoReaper(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *memstore.Store
	}{
		{"zero Store", new(memstore.Store)},
		{"New()", memstore.New()},
		{"interval 0", memstore.New(memstore.WithReaper(0, 10))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				claim(t, tc.s, "k", 2, time.Second)
				time.Sleep(time.Hour)
				synctest.Wait()
				if got, want := tc.s.Len(), 2; got != want {
					t.Errorf("got %d records, want %d", got, want)
				}
				if err := tc.s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		})
	}
}

func TestConformanceWithReaper(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
		s := memstore.New(memstore.WithReaper(time.Millisecond, 1))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
