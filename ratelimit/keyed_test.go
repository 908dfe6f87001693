package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/ratelimit"
)

func keyed(t testing.TB, rate float64, burst, maxKeys int) *ratelimit.Keyed {
	t.Helper()
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: rate, Burst: burst}, MaxKeys: maxKeys})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyedIndependentBuckets(t *testing.T) {
	k := keyed(t, 1, 2, 0)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true}, {"a", 0, true}, {"a", 0, false},
		{"b", 0, true}, {"b", 0, true}, {"b", 0, false},
		{"a", time.Second, true}, {"a", time.Second, false},
		{"b", ms(999), false},
	}
	for i, s := range steps {
		if got := k.AllowKeyAt(s.key, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: AllowKeyAt(%q, +%v) = %v, want %v", i, s.key, s.at, got, s.want)
		}
	}
	if got, want := k.TokensAt("fresh", t0), 2.0; got != want {
		t.Errorf("TokensAt of an unknown key = %v, want %v", got, want)
	}
}

func TestKeyedBoundUnder10kKeys(t *testing.T) {
	const maxKeys = 1000
	k := keyed(t, 1, 1, maxKeys)
	for i := range 10_000 {
		key := "client-" + strconv.Itoa(i)
		if !k.AllowKeyAt(key, t0.Add(time.Duration(i)*time.Microsecond)) {
			t.Fatalf("first call for new key %q refused", key)
		}
		if n := k.Len(); n > maxKeys {
			t.Fatalf("after %d keys Len() = %d, want <= %d", i+1, n, maxKeys)
		}
	}
	if got, want := [2]int{k.Len(), k.Evictions()}, [2]int{maxKeys, 10_000 - maxKeys}; got != want {
		t.Errorf("Len, Evictions = %v, want %v", got, want)
	}
	// The most recent keys are kept with their state: the last key's bucket is
	// empty, so it is refused.
	if k.AllowKeyAt("client-9999", t0.Add(10*time.Millisecond)) {
		t.Error("the most recent key lost its state")
	}
}

func TestKeyedEvictionPrefersIdle(t *testing.T) {
	k := keyed(t, 1, 2, 3) // a token a second, bucket of 2
	// "old" is the least recently used but drained; "idle" was used once and
	// is full again by the time "new" arrives; "hot" is recent and drained.
	k.AllowKeyAt("old", t0)
	k.AllowKeyAt("old", t0)
	k.AllowKeyAt("idle", t0.Add(ms(100)))
	k.AllowKeyAt("hot", t0.Add(ms(1200)))
	k.AllowKeyAt("hot", t0.Add(ms(1200)))
	// At +1.2s: old has 1.2 tokens (not full), idle is full (since +1.1s).
	if !k.AllowKeyAt("new", t0.Add(ms(1200))) {
		t.Fatal("new key refused")
	}
	// "old" kept its state: at +1.2s it has 1.2 tokens, so one call passes
	// and the second is refused; a fresh bucket would pass both.
	got := []bool{k.AllowKeyAt("old", t0.Add(ms(1200))), k.AllowKeyAt("old", t0.Add(ms(1200)))}
	if got[0] != true || got[1] != false {
		t.Errorf("old after eviction: %v, want [true false] (state kept)", got)
	}
	if got := k.Evictions(); got != 1 {
		t.Errorf("Evictions = %d, want 1", got)
	}
	if got := k.TokensAt("idle", t0.Add(ms(1200))); got != 2 {
		t.Errorf("idle's bucket = %v tokens, want 2 (dropped, so full)", got)
	}
}

func TestKeyedEvictionNoneIdleDropsClosestToFull(t *testing.T) {
	k := keyed(t, 1, 3, 3) // a token a second, bucket of 3
	at := t0
	drain := func(key string, n int) {
		for range n {
			k.AllowKeyAt(key, at)
		}
	}
	drain("a", 3) // least recently used, empty
	drain("b", 1) // two tokens left: closest to full
	drain("c", 3)
	k.AllowKeyAt("d", at)
	// b was dropped: a and c keep their empty buckets.
	for _, key := range []string{"a", "c"} {
		if k.AllowKeyAt(key, at) {
			t.Errorf("%q was dropped; want the bucket closest to full (b) dropped", key)
		}
	}
	if got := k.TokensAt("b", at); got != 3 {
		t.Errorf("b has %v tokens, want 3 (dropped)", got)
	}
}

func TestKeyedWaitKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec keeltest.Recorder
		k := ratelimit.MustNewKeyed(ratelimit.KeyedConfig{
			Config: ratelimit.Config{Rate: 2, Burst: 1, MaxWait: ms(600), Name: "per-client", Observer: &rec},
		})
		ctx := t.Context()
		s := keeltest.NewScript()
		var got []time.Duration
		for range 2 {
			elapsed, err := keeltest.Timed(ctx, keel.Chain(keel.PolicyFunc(func(next keel.Handler) keel.Handler {
				return func(ctx context.Context, op func(context.Context) error) error { return k.DoKey(ctx, "x", op) }
			})), s.Op)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, elapsed)
		}
		if got[0] != 0 || got[1] != ms(500) {
			t.Errorf("waits = %v, want [0 500ms]", got)
		}
		// Two waiters would need 500ms and 1s: the second is rejected.
		c := keeltest.Go(ctx, keel.Chain(), func(ctx context.Context) error { return k.WaitKey(ctx, "x") })
		synctest.Wait()
		err := k.WaitKey(ctx, "x")
		var le *ratelimit.LimitedError
		if !errors.As(err, &le) || le.Key != "x" || le.Name != "per-client" || le.Delay != time.Second {
			t.Errorf("WaitKey = %#v, want LimitedError for key x, Delay 1s", err)
		}
		if err := c.Wait(); err != nil {
			t.Errorf("waiting WaitKey = %v", err)
		}
		if got := rec.Count(keel.EventRejected); got != 1 {
			t.Errorf("rejected events = %d, want 1", got)
		}
		// Canceling a waiter gives its token back.
		cctx, cancel := context.WithCancel(ctx)
		c = keeltest.Go(cctx, keel.Chain(), func(ctx context.Context) error { return k.WaitKey(ctx, "x") })
		synctest.Wait()
		cancel()
		if err := c.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled WaitKey = %v, want context.Canceled", err)
		}
		time.Sleep(ms(500))
		if !k.AllowKey("x") {
			t.Error("token of the canceled waiter was not given back")
		}
	})
}

func TestKeyedConcurrent(t *testing.T) {
	k := keyed(t, 1, 10, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := map[string]int{}
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				key := strconv.Itoa((g + i) % 32)
				if k.AllowKeyAt(key, t0) {
					mu.Lock()
					granted[key]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for key, n := range granted {
		if n != 10 {
			t.Errorf("key %s granted %d at one instant, want the burst 10", key, n)
		}
	}
	if len(granted) != 32 {
		t.Errorf("%d keys granted, want 32", len(granted))
	}
}

func TestKeyedZeroAllocsExistingKey(t *testing.T) {
	k := keyed(t, math.Inf(1), 0, 0)
	k.AllowKey("client-42")
	k.AllowKey("client-7")
	op := func(context.Context) error { return nil }
	ctx := context.Background()
	key := "client-" + strconv.Itoa(42) // not the same string header as above
	for name, f := range map[string]func(){
		"AllowKey":         func() { k.AllowKey(key) },
		"AllowKey(switch)": func() { k.AllowKey(key); k.AllowKey("client-7") },
		"DoKey":            func() { _ = k.DoKey(ctx, key, op) },
	} {
		if got := testing.AllocsPerRun(100, f); got != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, got)
		}
	}
}
