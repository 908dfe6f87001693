package deadline

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// materialized reports whether c has made its inner context.
func materialized(c *Context) bool { return c.done.Load() != nil }

func TestAfterCancelByCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(context.Background(), time.Now().Add(time.Second))
		var runs atomic.Int32
		stop, own := AfterCancel(context.WithValue(c, ctxKey{}, 1), func() { runs.Add(1) })
		if !own {
			t.Error("own: got false, want true (the deadline is the caller's)")
		}
		if materialized(c) {
			t.Fatal("AfterCancel made the Context's timer")
		}
		c.Cancel()
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("f runs after Cancel: got %d, want 1", got)
		}
		if stop() {
			t.Error("stop after f ran: got true, want false")
		}
		if materialized(c) {
			t.Error("the Context made a timer")
		}
	})
}

func TestAfterCancelByParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		outer := New(parent, time.Now().Add(time.Minute))
		inner := New(outer, time.Now().Add(time.Second))
		var runs atomic.Int32
		AfterCancel(inner, func() { runs.Add(1) })
		cancel()
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("f runs after the parent's cancel: got %d, want 1", got)
		}
		if materialized(inner) || materialized(outer) {
			t.Errorf("materialized: inner %v, outer %v; want neither", materialized(inner), materialized(outer))
		}
		inner.Cancel()
		outer.Cancel()
	})
}

func TestAfterCancelByOuterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := New(context.Background(), time.Now().Add(time.Minute))
		inner := New(outer, time.Now().Add(time.Second))
		var runs atomic.Int32
		AfterCancel(inner, func() { runs.Add(1) })
		outer.Cancel() // a hedge's loser, say
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("f runs after the outer Context's Cancel: got %d, want 1", got)
		}
		inner.Cancel()
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("f runs after both Cancels: got %d, want 1", got)
		}
	})
}

// The deadline is the caller's: reaching it does not run f on a lazy
// Context.
func TestAfterCancelNotAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(context.Background(), time.Now().Add(time.Second))
		var runs atomic.Int32
		stop, _ := AfterCancel(c, func() { runs.Add(1) })
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := runs.Load(); got != 0 {
			t.Fatalf("f runs after the deadline: got %d, want 0", got)
		}
		if !stop() {
			t.Error("stop: got false, want true")
		}
		c.Cancel()
		synctest.Wait()
		if got := runs.Load(); got != 0 {
			t.Fatalf("f runs after stop and Cancel: got %d, want 0", got)
		}
	})
}

func TestAfterCancelStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := New(parent, time.Now().Add(time.Second))
		var runs atomic.Int32
		stop, _ := AfterCancel(c, func() { runs.Add(1) })
		if !stop() {
			t.Fatal("stop: got false, want true")
		}
		if stop() {
			t.Error("second stop: got true, want false")
		}
		c.mu.Lock()
		n := len(c.watchers)
		if c.watcher != nil {
			n++
		}
		c.mu.Unlock()
		if n != 0 {
			t.Errorf("watchers after stop: got %d, want 0", n)
		}
		cancel()
		c.Cancel()
		synctest.Wait()
		if got := runs.Load(); got != 0 {
			t.Fatalf("f runs after stop: got %d, want 0", got)
		}
	})
}

// Where the Context already made its timer, or a cancelable context stands
// between, AfterCancel is context.AfterFunc: the deadline runs f too.
func TestAfterCancelFallsBackToAfterFunc(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func(t *testing.T, c *Context) context.Context
	}{
		{"materialized", func(_ *testing.T, c *Context) context.Context { _ = c.Done(); return c }},
		{"cancelable between", func(t *testing.T, c *Context) context.Context {
			ctx, cancel := context.WithCancel(c)
			t.Cleanup(cancel)
			return ctx
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := New(context.Background(), time.Now().Add(time.Second))
				defer c.Cancel()
				var runs atomic.Int32
				_, own := AfterCancel(tc.ctx(t, c), func() { runs.Add(1) })
				if own {
					t.Error("own: got true, want false")
				}
				time.Sleep(time.Second)
				synctest.Wait()
				if got := runs.Load(); got != 1 {
					t.Fatalf("f runs at the deadline: got %d, want 1", got)
				}
			})
		})
	}
}

// context.WithoutCancel hides c's deadline and cancellation: f never runs.
func TestAfterCancelWithoutCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(context.Background(), time.Now().Add(time.Second))
		var runs atomic.Int32
		stop, own := AfterCancel(context.WithoutCancel(c), func() { runs.Add(1) })
		if own {
			t.Error("own: got true, want false")
		}
		c.Cancel()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := runs.Load(); got != 0 {
			t.Fatalf("f runs: got %d, want 0", got)
		}
		stop()
	})
}

func TestAfterCancelEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(context.Background(), time.Now().Add(time.Second))
		c.Cancel()
		var runs atomic.Int32
		AfterCancel(c, func() { runs.Add(1) })
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("f runs on an ended Context: got %d, want 1", got)
		}
	})
}

// Cancel and stop race: f runs exactly when stop reports false.
func TestAfterCancelRace(t *testing.T) {
	for range 200 {
		parent, cancel := context.WithCancel(context.Background())
		c := New(parent, time.Now().Add(time.Minute))
		ran := make(chan struct{}, 2)
		stop, _ := AfterCancel(c, func() { ran <- struct{}{} })
		var wg sync.WaitGroup
		var stopped bool
		wg.Add(3)
		go func() { defer wg.Done(); c.Cancel() }()
		go func() { defer wg.Done(); cancel() }()
		go func() { defer wg.Done(); stopped = stop() }()
		wg.Wait()
		if stopped {
			select {
			case <-ran:
				t.Fatal("f ran although stop reported true")
			case <-time.After(time.Millisecond):
			}
			continue
		}
		<-ran
		select {
		case <-ran:
			t.Fatal("f ran twice")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestAfterCancelAllocs(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := context.WithValue(parent, ctxKey{}, 1)
	outer := New(ctx, time.Now().Add(time.Hour))
	f := func() {}
	// The inner Context, the watcher, its stop function, and
	// context.AfterFunc's registration with the parent (three): no timer
	// and no inner context. context.AfterFunc(inner, f) costs 10, and a
	// timer.
	const want = 6
	n := testing.AllocsPerRun(1000, func() {
		inner := New(outer, time.Now().Add(time.Minute))
		stop, _ := AfterCancel(inner, f)
		stop()
		inner.Cancel()
	})
	if n > want {
		t.Errorf("allocations: got %v, want at most %d", n, want)
	}
}
