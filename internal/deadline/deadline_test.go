package deadline

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ctxKey struct{}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestErrWithoutDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(context.Background(), time.Now().Add(time.Second))
		defer c.Cancel()
		if err := c.Err(); err != nil {
			t.Fatalf("Err() before deadline: got %v, want nil", err)
		}
		time.Sleep(time.Second - time.Nanosecond)
		if err := c.Err(); err != nil {
			t.Fatalf("Err() 1ns before deadline: got %v, want nil", err)
		}
		time.Sleep(time.Nanosecond)
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err() at deadline: got %v, want %v", err, context.DeadlineExceeded)
		}
		// Done created after the end is already closed.
		if !isClosed(c.Done()) {
			t.Fatal("Done() after deadline: channel open, want closed")
		}
		c.Cancel()
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err() after Cancel of an expired context: got %v, want %v", err, context.DeadlineExceeded)
		}
	})
}

func TestDoneClosesAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := New(context.Background(), start.Add(3*time.Second))
		defer c.Cancel()
		<-c.Done()
		if got, want := time.Since(start), 3*time.Second; got != want {
			t.Fatalf("Done closed after %v, want %v", got, want)
		}
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err(): got %v, want %v", err, context.DeadlineExceeded)
		}
		if err := context.Cause(c); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Cause(): got %v, want %v", err, context.DeadlineExceeded)
		}
	})
}

func TestDoneClosesWhenParentCanceled(t *testing.T) {
	cause := errors.New("client went away")
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancelCause(context.Background())
		c := New(parent, time.Now().Add(time.Hour))
		defer c.Cancel()
		done := c.Done()
		time.Sleep(time.Second)
		cancel(cause)
		synctest.Wait()
		if !isClosed(done) {
			t.Fatal("Done() open after parent was canceled, want closed")
		}
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err(): got %v, want %v", err, context.Canceled)
		}
		if err := context.Cause(c); !errors.Is(err, cause) {
			t.Fatalf("Cause(): got %v, want %v", err, cause)
		}
	})
}

func TestErrReportsParentFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := New(parent, time.Now().Add(time.Second))
		defer c.Cancel()
		time.Sleep(2 * time.Second) // deadline passed, nobody looked
		cancel()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err(): got %v, want the parent's %v", err, context.Canceled)
		}
	})
}

func TestErrIsStable(t *testing.T) {
	cause := errors.New("shutdown")
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancelCause(context.Background())
		c := New(parent, time.Now().Add(time.Second))
		defer c.Cancel()
		time.Sleep(time.Second)
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err() at deadline: got %v, want %v", err, context.DeadlineExceeded)
		}
		cancel(cause)
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err() after later parent cancel: got %v, want %v", err, context.DeadlineExceeded)
		}
		if err := context.Cause(c); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Cause() after later parent cancel: got %v, want %v", err, context.DeadlineExceeded)
		}
	})
}

func TestCancel(t *testing.T) {
	for _, withDone := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			c := New(context.Background(), time.Now().Add(time.Second))
			if withDone {
				c.Done()
			}
			c.Cancel()
			if err := c.Err(); !errors.Is(err, context.Canceled) {
				t.Fatalf("withDone=%v: Err() after Cancel: got %v, want %v", withDone, err, context.Canceled)
			}
			if !isClosed(c.Done()) {
				t.Fatalf("withDone=%v: Done() open after Cancel, want closed", withDone)
			}
			c.mu.Lock()
			inner, stop := c.inner, c.stopInner
			c.mu.Unlock()
			if stop != nil || (withDone && !errors.Is(inner.Err(), context.Canceled)) {
				t.Fatalf("withDone=%v: after Cancel the inner context is not released", withDone)
			}
			time.Sleep(2 * time.Second)
			if err := c.Err(); !errors.Is(err, context.Canceled) {
				t.Fatalf("withDone=%v: Err() after deadline: got %v, want %v", withDone, err, context.Canceled)
			}
		})
	}
}

func TestCancelUnregistersFromParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Each Context registers with parent on Done. Once canceled, the
		// registration must be gone: canceling the parent afterwards must
		// not reach it (Err stays Canceled by Cancel, and no goroutine is left
		// waiting, which goleak and the bubble would report).
		for range 100 {
			c := New(parent, time.Now().Add(time.Hour))
			c.Done()
			c.Cancel()
		}
		cancel()
		synctest.Wait()
	})
}

func TestDeadlineClampedToParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		parent, cancel := context.WithDeadline(context.Background(), now.Add(time.Second))
		defer cancel()
		tests := []struct {
			name string
			d    time.Time
			want time.Time
		}{
			{"later than parent", now.Add(time.Hour), now.Add(time.Second)},
			{"earlier than parent", now.Add(time.Millisecond), now.Add(time.Millisecond)},
		}
		for _, tt := range tests {
			c := New(parent, tt.d)
			got, ok := c.Deadline()
			c.Cancel()
			if !ok || !got.Equal(tt.want) {
				t.Errorf("%s: Deadline() = %v, %v; want %v, true", tt.name, got, ok, tt.want)
			}
		}
	})
}

func TestValue(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	c := New(parent, time.Now().Add(time.Hour))
	defer c.Cancel()
	if got := c.Value(ctxKey{}); got != "v" {
		t.Fatalf("Value(key): got %v, want %q", got, "v")
	}
	if got := c.Value("missing"); got != nil {
		t.Fatalf("Value(missing): got %v, want nil", got)
	}
}

func TestCancelCtxKeyLearnt(t *testing.T) {
	if cancelCtxKey == nil {
		t.Fatal("cancelCtxKey not learnt: context.Cause no longer asks Value; Cause after our own end may report a later parent cause")
	}
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	if parent.Value(cancelCtxKey) == nil {
		t.Fatal("a cancelCtx does not answer the learnt key")
	}
}

func TestWithCancelChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := New(context.Background(), start.Add(time.Second))
		defer c.Cancel()
		before := runtime.NumGoroutine()
		child, cancel := context.WithCancel(c)
		defer cancel()
		if after := runtime.NumGoroutine(); after != before {
			t.Fatalf("WithCancel started %d goroutines, want 0: it must register with the inner context", after-before)
		}
		<-child.Done()
		if got := time.Since(start); got != time.Second {
			t.Fatalf("child ended after %v, want %v", got, time.Second)
		}
		if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("child.Err(): got %v, want %v", err, context.DeadlineExceeded)
		}
		if err := context.Cause(child); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Cause(child): got %v, want %v", err, context.DeadlineExceeded)
		}
	})
}

func TestWithCancelChildCanceledFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(context.Background(), time.Now().Add(time.Second))
		defer c.Cancel()
		child, cancel := context.WithCancel(c)
		cancel()
		if err := child.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("child.Err(): got %v, want %v", err, context.Canceled)
		}
		if err := c.Err(); err != nil {
			t.Fatalf("parent Err() after child cancel: got %v, want nil", err)
		}
	})
}

func TestContextAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := New(context.Background(), start.Add(time.Second))
		defer c.Cancel()
		var ranAt time.Duration
		context.AfterFunc(c, func() { ranAt = time.Since(start) })
		stopped := false
		stop := context.AfterFunc(c, func() { stopped = true })
		if !stop() {
			t.Fatal("stop() before the end: got false, want true")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if ranAt != time.Second {
			t.Fatalf("AfterFunc ran at %v, want %v", ranAt, time.Second)
		}
		if stopped {
			t.Fatal("stopped AfterFunc ran")
		}
		if stop() {
			t.Fatal("second stop(): got true, want false")
		}
	})
}

func TestAfterFuncAfterEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(context.Background(), time.Now().Add(time.Second))
		c.Cancel()
		ran := false
		stop := context.AfterFunc(c, func() { ran = true })
		synctest.Wait()
		if !ran {
			t.Fatal("context.AfterFunc on an ended context did not run f")
		}
		if stop() {
			t.Fatal("stop() after f started: got true, want false")
		}
	})
}

func TestConcurrentDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := New(parent, time.Now().Add(time.Second))
		defer c.Cancel()
		const n = 64
		chans := make([]<-chan struct{}, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				chans[i] = c.Done()
				<-chans[i]
				_ = c.Err()
			})
		}
		synctest.Wait()
		for i := 1; i < n; i++ {
			if chans[i] != chans[0] {
				t.Fatalf("Done() #%d returned a different channel", i)
			}
		}
		time.Sleep(time.Second)
		wg.Wait()
	})
}

func TestConcurrentEnd(t *testing.T) {
	// Parent cancel, deadline, Cancel and Done racing: exactly one error wins
	// and every observer sees it.
	for range 50 {
		synctest.Test(t, func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			c := New(parent, time.Now().Add(time.Millisecond))
			var wg sync.WaitGroup
			errs := make([]error, 4)
			wg.Go(func() { <-c.Done(); errs[0] = c.Err() })
			wg.Go(func() { time.Sleep(time.Millisecond); cancel(); errs[1] = c.Err() })
			wg.Go(func() { time.Sleep(time.Millisecond); c.Cancel(); errs[2] = c.Err() })
			wg.Go(func() { time.Sleep(time.Millisecond); <-c.Done(); errs[3] = c.Err() })
			wg.Wait()
			for i, err := range errs {
				if err == nil || !errors.Is(err, errs[0]) {
					t.Fatalf("errs[%d] = %v, want the same non-nil error as errs[0] = %v", i, err, errs[0])
				}
			}
		})
	}
}

func TestAllocs(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		f    func()
		want float64
	}{
		{"New+Cancel", func() { New(parent, d).Cancel() }, 1},
		{"New+Err+Deadline+Cancel", func() {
			c := New(parent, d)
			_ = c.Err()
			_, _ = c.Deadline()
			c.Cancel()
		}, 1},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.f); got != tt.want {
			t.Errorf("%s: got %v allocs, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzEnd checks that, whatever the order of deadline, parent cancellation and
// Cancel, Err and Done agree and the first event wins.
func FuzzEnd(f *testing.F) {
	f.Add(int64(10), int64(20), int64(30), true)
	f.Add(int64(30), int64(20), int64(10), false)
	f.Add(int64(0), int64(0), int64(0), true)
	f.Add(int64(-5), int64(1), int64(1), false)
	f.Fuzz(func(t *testing.T, deadlineMs, parentMs, cancelMs int64, withDone bool) {
		const maxMs = 1000
		clamp := func(v int64) time.Duration {
			return time.Duration(max(-maxMs, min(v, maxMs))) * time.Millisecond
		}
		dl, pc, cc := clamp(deadlineMs), max(clamp(parentMs), 0), max(clamp(cancelMs), 0)
		synctest.Test(t, func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := New(parent, time.Now().Add(dl))
			if withDone {
				c.Done()
			}
			var wg sync.WaitGroup
			wg.Go(func() { time.Sleep(pc); cancel() })
			wg.Go(func() { time.Sleep(cc); c.Cancel() })
			wg.Wait()
			synctest.Wait()

			// With Done armed, the earliest event wins (at equal times
			// either may). Without Done nothing watches the deadline or the
			// parent, so the explicit Cancel decides, and the deadline only
			// shows if Err is asked before Cancel.
			want := map[error]bool{context.Canceled: true}
			if withDone {
				first := min(max(dl, 0), pc, cc)
				want = map[error]bool{}
				if max(dl, 0) == first {
					want[context.DeadlineExceeded] = true
				}
				if pc == first || cc == first {
					want[context.Canceled] = true
				}
			}
			err := c.Err()
			if !want[err] {
				t.Fatalf("deadline %v, parent cancel %v, Cancel %v: Err() = %v, want one of %v", dl, pc, cc, err, want)
			}
			if !isClosed(c.Done()) {
				t.Fatal("Done() open after the end")
			}
		})
	})
}

func BenchmarkNewCancel(b *testing.B) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		New(parent, d).Cancel()
	}
}

// BenchmarkNewErrCancel adds an Err call, which reads the clock.
func BenchmarkNewErrCancel(b *testing.B) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		c := New(parent, d)
		_ = c.Err()
		c.Cancel()
	}
}

func BenchmarkNewDoneCancel(b *testing.B) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		c := New(parent, time.Now().Add(time.Second))
		c.Done()
		c.Cancel()
	}
}

// BenchmarkStdWithDeadline is the baseline New replaces.
func BenchmarkStdWithDeadline(b *testing.B) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		_, cancel := context.WithDeadline(parent, d)
		cancel()
	}
}

// TestStress races every entry point on real goroutines (run with -race):
// Done, Err, Cancel, AfterFunc, a derived WithCancel child and the parent's
// cancellation. Whatever the interleaving, the Context, its child and its
// AfterFunc must all end, with one stable error.
func TestStress(t *testing.T) {
	for i := range 500 {
		stressOnce(t, i)
	}
}

func stressOnce(t *testing.T, i int) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	c := New(parent, time.Now().Add(time.Duration(i%3)*time.Microsecond))
	defer c.Cancel()
	var wg sync.WaitGroup
	afterRan := make(chan struct{})
	wg.Go(func() { <-c.Done() })
	wg.Go(func() { _ = c.Err() })
	wg.Go(func() { context.AfterFunc(c, func() { close(afterRan) }) })
	switch i % 3 {
	case 0:
		wg.Go(cancelParent)
	case 1:
		wg.Go(c.Cancel)
	}
	child, stopChild := context.WithCancel(c) // races with the goroutines above
	defer stopChild()
	wg.Wait()
	<-c.Done()
	<-child.Done()
	<-afterRan
	err := c.Err()
	if err == nil {
		t.Fatalf("iteration %d: Err() = nil after Done closed", i)
	}
	if cerr := child.Err(); !errors.Is(cerr, err) {
		t.Fatalf("iteration %d: child.Err() = %v, want the parent's %v", i, cerr, err)
	}
	if again := c.Err(); !errors.Is(again, err) {
		t.Fatalf("iteration %d: Err() changed from %v to %v", i, err, again)
	}
}
