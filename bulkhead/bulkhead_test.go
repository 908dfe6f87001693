package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{MaxConcurrent: 1, MaxQueue: 5, MaxWait: time.Second}, ""},
		{Config{MaxConcurrent: -1}, "bulkhead: Config.MaxConcurrent must be >= 0 (0 means 10), got -1"},
		{Config{MaxQueue: -2}, "bulkhead: Config.MaxQueue must be >= 0 (0 means no queue), got -2"},
		{Config{MaxWait: -time.Second}, "bulkhead: Config.MaxWait must be >= 0 (0 means wait as long as the context allows), got -1s"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v.Validate() = %q, want %q", tt.cfg, got, tt.want)
		}
		if _, nerr := New(tt.cfg); (nerr != nil) != (tt.want != "") {
			t.Errorf("New(%+v) error = %v, want error %v", tt.cfg, nerr, tt.want != "")
		}
	}
}

func TestMustNewPanicsOnInvalidConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustNew(invalid) did not panic")
		}
	}()
	MustNew(Config{MaxQueue: -1})
}

func TestRejectedError(t *testing.T) {
	tests := []struct {
		err                      *RejectedError
		msg                      string
		full, rejected, canceled bool
	}{
		{&RejectedError{Reason: keel.ReasonBulkheadFull}, "bulkhead: full", true, true, false},
		{&RejectedError{Name: "db", Reason: keel.ReasonBulkheadFull}, `bulkhead "db": full`, true, true, false},
		{&RejectedError{Name: "db", Reason: keel.ReasonQueueTimeout, Waited: time.Second}, `bulkhead "db": full: no permit within 1s`, true, true, false},
		{&RejectedError{Reason: keel.ReasonContext, Waited: time.Millisecond, Err: context.Canceled}, "bulkhead: gave up waiting after 1ms: context canceled", false, true, true},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.msg {
			t.Errorf("Error() = %q, want %q", got, tt.msg)
		}
		if got := errors.Is(tt.err, ErrFull); got != tt.full {
			t.Errorf("%q: Is(ErrFull) = %v, want %v", tt.msg, got, tt.full)
		}
		if got := errors.Is(tt.err, keel.ErrRejected); got != tt.rejected {
			t.Errorf("%q: Is(keel.ErrRejected) = %v, want %v", tt.msg, got, tt.rejected)
		}
		if got := errors.Is(tt.err, context.Canceled); got != tt.canceled {
			t.Errorf("%q: Is(context.Canceled) = %v, want %v", tt.msg, got, tt.canceled)
		}
	}
}

// TestNeverExceedsLimit runs 1,000 goroutines through a bulkhead of 7 permits
// and checks, with an atomic high-water mark, that no more than 7 ever run.
func TestNeverExceedsLimit(t *testing.T) {
	const limit, callers = 7, 1000
	for _, queue := range []int{0, callers} {
		b := MustNew(Config{MaxConcurrent: limit, MaxQueue: queue})
		var running, peak, ran, rejected atomic.Int64
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				err := b.Do(context.Background(), func(context.Context) error {
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					if i%3 == 0 {
						time.Sleep(50 * time.Microsecond)
					}
					running.Add(-1)
					ran.Add(1)
					return nil
				})
				if err != nil {
					if !errors.Is(err, ErrFull) {
						t.Errorf("Do: got %v, want nil or ErrFull", err)
					}
					rejected.Add(1)
				}
			})
		}
		wg.Wait()
		if got := peak.Load(); got > limit || got < 1 {
			t.Errorf("queue %d: peak concurrency %d, want 1..%d", queue, got, limit)
		}
		if got := ran.Load() + rejected.Load(); got != callers {
			t.Errorf("queue %d: ran+rejected = %d, want %d", queue, got, callers)
		}
		if queue == callers && rejected.Load() != 0 {
			t.Errorf("queue %d: %d rejected, want 0 (the queue holds every caller)", queue, rejected.Load())
		}
		if in, q := b.InFlight(), b.Queued(); in != 0 || q != 0 {
			t.Errorf("queue %d: after all calls InFlight=%d Queued=%d, want 0 0", queue, in, q)
		}
	}
}

// TestQueueBound starts 10 callers against 2 permits and a queue of 3: 2 run,
// 3 wait, 5 are rejected with ReasonBulkheadFull; the 3 waiters run later.
func TestQueueBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := MustNew(Config{MaxConcurrent: 2, MaxQueue: 3})
		gate := make(chan struct{})
		var ran atomic.Int64
		errs := make(chan error, 10)
		for range 10 {
			go func() {
				errs <- b.Do(t.Context(), func(context.Context) error {
					ran.Add(1)
					<-gate
					return nil
				})
			}()
		}
		synctest.Wait()
		if in, q, r := b.InFlight(), b.Queued(), ran.Load(); in != 2 || q != 3 || r != 2 {
			t.Fatalf("InFlight=%d Queued=%d running=%d, want 2 3 2", in, q, r)
		}
		for range 5 {
			err := <-errs
			var re *RejectedError
			if !errors.As(err, &re) || re.Reason != keel.ReasonBulkheadFull || re.Waited != 0 {
				t.Fatalf("rejection: got %#v, want *RejectedError with ReasonBulkheadFull and Waited 0", err)
			}
		}
		close(gate)
		for range 5 {
			if err := <-errs; err != nil {
				t.Fatalf("admitted call: got %v, want nil", err)
			}
		}
		if got := ran.Load(); got != 5 {
			t.Fatalf("ran %d operations, want 5", got)
		}
	})
}

func TestMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := MustNew(Config{Name: "db", MaxConcurrent: 1, MaxQueue: 1, MaxWait: 250 * time.Millisecond})
		held, err := b.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer held.Release()
		start := time.Now()
		_, err = b.Acquire(t.Context())
		elapsed := time.Since(start)
		want := &RejectedError{Name: "db", Reason: keel.ReasonQueueTimeout, Waited: 250 * time.Millisecond}
		var got *RejectedError
		if !errors.As(err, &got) {
			t.Fatalf("Acquire: got %v, want %v", err, want)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rejection (-want +got):\n%s", diff)
		}
		if elapsed != 250*time.Millisecond {
			t.Errorf("rejected after %v, want exactly 250ms", elapsed)
		}
		if q := b.Queued(); q != 0 {
			t.Errorf("Queued() after the timeout = %d, want 0", q)
		}
	})
}

func TestMaxWaitGrantedInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := MustNew(Config{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second})
		held, _ := b.Acquire(t.Context())
		go func() {
			time.Sleep(999 * time.Millisecond)
			held.Release()
		}()
		start := time.Now()
		p, err := b.Acquire(t.Context())
		if err != nil {
			t.Fatalf("Acquire: got %v, want a permit", err)
		}
		if got := time.Since(start); got != 999*time.Millisecond {
			t.Errorf("waited %v, want 999ms", got)
		}
		p.Release()
	})
}

func TestFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 8
		b := MustNew(Config{MaxConcurrent: 1, MaxQueue: n})
		first, _ := b.Acquire(t.Context())
		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				p, err := b.Acquire(t.Context())
				if err != nil {
					t.Errorf("waiter %d: %v", i, err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				p.Release()
			})
			synctest.Wait() // waiter i is queued before i+1 starts
		}
		// No barging: while callers wait, a free permit is never taken by a
		// newcomer. Hand the permit over and try to grab it in the same
		// instant.
		first.Release()
		if p, ok := b.TryAcquire(); ok {
			p.Release()
			t.Error("TryAcquire took a permit while callers were queued")
		}
		wg.Wait()
		want := []int{0, 1, 2, 3, 4, 5, 6, 7}
		if diff := cmp.Diff(want, order); diff != "" {
			t.Errorf("grant order (-want +got):\n%s", diff)
		}
	})
}

func TestContextEndsWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := MustNew(Config{MaxConcurrent: 1, MaxQueue: 2})
		held, _ := b.Acquire(t.Context())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := b.Acquire(ctx)
			done <- err
		}()
		synctest.Wait()
		time.Sleep(40 * time.Millisecond)
		cancel()
		err := <-done
		var re *RejectedError
		if !errors.As(err, &re) || re.Reason != keel.ReasonContext || re.Waited != 40*time.Millisecond {
			t.Fatalf("Acquire: got %#v, want ReasonContext after 40ms", err)
		}
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrFull) || !errors.Is(err, keel.ErrRejected) {
			t.Errorf("Is(Canceled)=%v Is(ErrFull)=%v Is(ErrRejected)=%v, want true false true",
				errors.Is(err, context.Canceled), errors.Is(err, ErrFull), errors.Is(err, keel.ErrRejected))
		}
		if got := keel.DefaultClassifier(ctx, err); got != keel.OutcomeNeutral {
			t.Errorf("DefaultClassifier: got %v, want neutral", got)
		}
		if q := b.Queued(); q != 0 {
			t.Errorf("Queued() = %d, want 0: the canceled waiter left a slot behind", q)
		}
		held.Release()
		if in := b.InFlight(); in != 0 {
			t.Errorf("InFlight() after release = %d, want 0", in)
		}
	})
}

// hookCtx is a context whose Err runs a hook once, the moment after a waiter's
// select has picked ctx.Done and before the waiter takes the bulkhead's lock.
type hookCtx struct {
	context.Context
	done  chan struct{}
	onErr func()
}

func (c *hookCtx) Done() <-chan struct{} { return c.done }

func (c *hookCtx) Err() error {
	if f := c.onErr; f != nil {
		c.onErr = nil
		f()
	}
	return context.Canceled
}

// TestHandOffRace hands the permit to a waiter in the very instant its context
// ends, after it has decided to give up. The waiter must pass the permit on to
// the next waiter, not keep it and not lose it.
func TestHandOffRace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := MustNew(Config{MaxConcurrent: 1, MaxQueue: 2})
		held, _ := b.Acquire(t.Context())
		ctx := &hookCtx{Context: t.Context(), done: make(chan struct{}), onErr: held.Release}
		first := make(chan error, 1)
		go func() {
			_, err := b.Acquire(ctx)
			first <- err
		}()
		synctest.Wait()
		second := make(chan Permit, 1)
		go func() {
			p, err := b.Acquire(t.Context())
			if err != nil {
				t.Errorf("second waiter: got %v, want a permit", err)
			}
			second <- p
		}()
		synctest.Wait()
		close(ctx.done) // first waiter gives up; its Err hands it the permit

		var re *RejectedError
		if err := <-first; !errors.As(err, &re) || re.Reason != keel.ReasonContext {
			t.Fatalf("first waiter: got %v, want ReasonContext", err)
		}
		p := <-second
		if in, q := b.InFlight(), b.Queued(); in != 1 || q != 0 {
			t.Fatalf("with the second waiter served InFlight=%d Queued=%d, want 1 0", in, q)
		}
		p.Release()
		if in := b.InFlight(); in != 0 {
			t.Fatalf("InFlight() at the end = %d, want 0", in)
		}
	})
}

func TestPanicReleases(t *testing.T) {
	b := MustNew(Config{MaxConcurrent: 1})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the op's panic %q", r, "boom")
			}
		}()
		_ = b.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if in := b.InFlight(); in != 0 {
		t.Fatalf("InFlight() after a panic = %d, want 0", in)
	}
}

// stillRunning is an error whose operation exits when exit is called.
type stillRunning struct {
	mu     sync.Mutex
	exited bool
	fs     []func()
}

func (*stillRunning) Error() string { return "abandoned" }

func (s *stillRunning) AfterExit(f func()) {
	s.mu.Lock()
	if s.exited {
		s.mu.Unlock()
		f()
		return
	}
	s.fs = append(s.fs, f)
	s.mu.Unlock()
}

func (s *stillRunning) exit() {
	s.mu.Lock()
	s.exited = true
	fs := s.fs
	s.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

func TestAbandonedWorkKeepsPermit(t *testing.T) {
	b := MustNew(Config{MaxConcurrent: 1})
	sr := &stillRunning{}
	err := b.Do(context.Background(), func(context.Context) error {
		return fmt.Errorf("wrapped: %w", sr)
	})
	if !errors.Is(err, sr) {
		t.Fatalf("Do: got %v, want the op's error", err)
	}
	if in := b.InFlight(); in != 1 {
		t.Fatalf("InFlight() while the abandoned op runs = %d, want 1", in)
	}
	if _, ok := b.TryAcquire(); ok {
		t.Fatal("TryAcquire succeeded while the abandoned op holds the only permit")
	}
	sr.exit()
	if in := b.InFlight(); in != 0 {
		t.Fatalf("InFlight() after the op exited = %d, want 0", in)
	}
}

func TestPermitRelease(t *testing.T) {
	b := MustNew(Config{MaxConcurrent: 2})
	p, _ := b.Acquire(context.Background())
	q := p // a second handle to the same permit
	p.Release()
	p.Release() // cleared: no effect
	var zero Permit
	zero.Release()
	if in := b.InFlight(); in != 0 {
		t.Fatalf("InFlight() = %d, want 0", in)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("releasing a copy after the original did not panic")
		}
	}()
	q.Release()
}

func TestZeroBulkhead(t *testing.T) {
	var b Bulkhead
	var ps []Permit
	for {
		p, ok := b.TryAcquire()
		if !ok {
			break
		}
		ps = append(ps, p)
	}
	if len(ps) != DefaultMaxConcurrent {
		t.Fatalf("zero Bulkhead granted %d permits, want %d", len(ps), DefaultMaxConcurrent)
	}
	if _, err := b.Acquire(context.Background()); !errors.Is(err, ErrFull) {
		t.Fatalf("Acquire on a full zero Bulkhead: got %v, want ErrFull (no queue)", err)
	}
	for i := range ps {
		ps[i].Release()
	}
}

type recorder struct {
	mu     sync.Mutex
	events []keel.Event
}

func (r *recorder) Observe(_ context.Context, e keel.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := MustNew(Config{Name: "api", MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second, Observer: rec})
		p, _ := b.Acquire(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			q, err := b.Acquire(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			q.Release()
		}()
		synctest.Wait()
		_, full := b.Acquire(t.Context()) // queue full
		time.Sleep(30 * time.Millisecond)
		p.Release()
		<-done

		ev := func(k keel.EventKind, d time.Duration, in, q int) keel.Event {
			return keel.Event{Kind: k, Policy: "bulkhead", Name: "api", Duration: d, InFlight: in, Queued: q}
		}
		rej := ev(keel.EventRejected, 0, 1, 1)
		rej.Reason, rej.Err = keel.ReasonBulkheadFull, full
		want := []keel.Event{
			ev(keel.EventAcquired, 0, 1, 0),
			rej,
			ev(keel.EventReleased, 0, 1, 0), // handed to the waiter
			ev(keel.EventAcquired, 30*time.Millisecond, 1, 0),
			ev(keel.EventReleased, 0, 0, 0),
		}
		if diff := cmp.Diff(want, rec.events, cmpopts.IgnoreFields(keel.Event{}, "Time"), cmpopts.EquateErrors()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestNoAllocs(t *testing.T) {
	b := MustNew(Config{MaxConcurrent: 4})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	h := keel.Chain(b)
	tests := []struct {
		name string
		f    func()
	}{
		{"Acquire+Release", func() {
			p, err := b.Acquire(ctx)
			if err != nil {
				panic(err)
			}
			p.Release()
		}},
		{"TryAcquire+Release", func() {
			p, _ := b.TryAcquire()
			p.Release()
		}},
		{"Do", func() { _ = b.Do(ctx, op) }},
		{"Chain.Do", func() { _ = h.Do(ctx, op) }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.f); got != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tt.name, got)
		}
	}
}
