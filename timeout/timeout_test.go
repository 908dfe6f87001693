package timeout

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/bulkhead"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type recorder struct {
	mu     sync.Mutex
	events []keel.Event
}

func (r *recorder) Observe(_ context.Context, e keel.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) get() []keel.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]keel.Event(nil), r.events...)
}

var ignoreTime = cmpopts.IgnoreFields(keel.Event{}, "Time", "Err")

func kinds(evs []keel.Event) []keel.EventKind {
	var ks []keel.EventKind
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return ks
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Timeout: time.Second}, ""},
		{Config{Timeout: time.Nanosecond, ReturnOnTime: true}, ""},
		{Config{}, "timeout: Config.Timeout must be > 0, got 0s"},
		{Config{Timeout: -time.Second}, "timeout: Config.Timeout must be > 0, got -1s"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v.Validate() = %q, want %q", tt.cfg, got, tt.want)
		}
		if _, err := New(tt.cfg); (err != nil) != (tt.want != "") {
			t.Errorf("New(%+v) error = %v, want error %v", tt.cfg, err, tt.want != "")
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNew(Config{}) did not panic")
		}
	}()
	MustNew(Config{})
}

func TestExceededError(t *testing.T) {
	opErr := errors.New("read tcp: i/o timeout")
	tests := []struct {
		err *ExceededError
		msg string
	}{
		{&ExceededError{Timeout: time.Second}, "timeout: exceeded 1s"},
		{&ExceededError{Name: "db", Timeout: time.Second, Err: opErr}, `timeout "db": exceeded 1s: read tcp: i/o timeout`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.msg {
			t.Errorf("Error() = %q, want %q", got, tt.msg)
		}
		if !errors.Is(tt.err, ErrExceeded) || !errors.Is(tt.err, context.DeadlineExceeded) || errors.Is(tt.err, keel.ErrRejected) {
			t.Errorf("%q: Is(ErrExceeded)=%v Is(DeadlineExceeded)=%v Is(ErrRejected)=%v, want true true false", tt.msg,
				errors.Is(tt.err, ErrExceeded), errors.Is(tt.err, context.DeadlineExceeded), errors.Is(tt.err, keel.ErrRejected))
		}
		if got, want := errors.Is(tt.err, opErr), tt.err.Err != nil; got != want {
			t.Errorf("%q: Is(op error) = %v, want %v", tt.msg, got, want)
		}
		if got := keel.DefaultClassifier(context.Background(), tt.err); got != keel.OutcomeFailure {
			t.Errorf("%q: DefaultClassifier = %v, want failure", tt.msg, got)
		}
		ran := false
		tt.err.AfterExit(func() { ran = true })
		if !ran {
			t.Errorf("%q: AfterExit of a returned operation did not run f at once", tt.msg)
		}
	}
}

// waitCtx is an operation that honors its context.
func waitCtx(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestCooperative(t *testing.T) {
	opErr := errors.New("backend failed")
	tests := []struct {
		name    string
		op      func(context.Context) error
		elapsed time.Duration
		want    error // compared with errors.Is; nil means nil
		exceed  bool
	}{
		{"honors ctx", waitCtx, time.Second, context.DeadlineExceeded, true},
		{"fails in time", func(context.Context) error { time.Sleep(time.Millisecond); return opErr }, time.Millisecond, opErr, false},
		{"fails late", func(context.Context) error { time.Sleep(2 * time.Second); return opErr }, 2 * time.Second, opErr, true},
		{"fails at the deadline", func(context.Context) error { time.Sleep(time.Second); return opErr }, time.Second, opErr, true},
		{"succeeds late", func(context.Context) error { time.Sleep(2 * time.Second); return nil }, 2 * time.Second, nil, false},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			rec := &recorder{}
			p := MustNew(Config{Name: "c", Timeout: time.Second, Observer: rec})
			start := time.Now()
			err := p.Do(t.Context(), tt.op)
			if got := time.Since(start); got != tt.elapsed {
				t.Errorf("%s: returned after %v, want %v", tt.name, got, tt.elapsed)
			}
			if (tt.want == nil) != (err == nil) || !errors.Is(err, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
			}
			var ee *ExceededError
			if got := errors.As(err, &ee); got != tt.exceed {
				t.Errorf("%s: got %v (ExceededError %v), want ExceededError %v", tt.name, err, got, tt.exceed)
			}
			var want []keel.Event
			if tt.exceed {
				want = []keel.Event{{Kind: keel.EventTimeout, Policy: "timeout", Name: "c", Duration: time.Second}}
				if got := rec.get(); len(got) != 1 || !errors.Is(got[0].Err, err) {
					t.Errorf("%s: EventTimeout.Err = %v, want the returned error", tt.name, got)
				}
			}
			if diff := cmp.Diff(want, rec.get(), ignoreTime, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: events (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestCooperativeContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Timeout: time.Second})
		var got context.Context

		// Caller's deadline sooner: op gets the caller's context itself.
		soon, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_ = p.Do(soon, func(ctx context.Context) error { got = ctx; return nil })
		if got != soon {
			t.Errorf("caller deadline sooner: op got a new context %v, want the caller's", got)
		}

		// Caller's deadline later: op's deadline is now + Timeout.
		later, cancel2 := context.WithTimeout(t.Context(), time.Hour)
		defer cancel2()
		start := time.Now()
		_ = p.Do(later, func(ctx context.Context) error {
			got = ctx
			if d, ok := ctx.Deadline(); !ok || !d.Equal(start.Add(time.Second)) {
				t.Errorf("op deadline = %v, %v; want %v, true", d, ok, start.Add(time.Second))
			}
			if v := ctx.Value(ctxKey{}); v != nil {
				t.Errorf("Value(missing) = %v", v)
			}
			return nil
		})
		if got == later {
			t.Error("caller deadline later: op got the caller's context, want one with the sooner deadline")
		}
		if err := got.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("op's context after Do returned: Err() = %v, want %v (released)", err, context.Canceled)
		}
	})
}

type ctxKey struct{}

func TestCooperativeCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		p := MustNew(Config{Timeout: time.Second, Observer: rec})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(300*time.Millisecond, cancel)
		err := p.Do(ctx, waitCtx)
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrExceeded) {
			t.Fatalf("got %v, want the op's own %v", err, context.Canceled)
		}
		if got := keel.DefaultClassifier(ctx, err); got != keel.OutcomeNeutral {
			t.Errorf("DefaultClassifier = %v, want neutral", got)
		}
		if evs := rec.get(); len(evs) != 0 {
			t.Errorf("events = %v, want none", kinds(evs))
		}
	})
}

func TestCooperativePanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Timeout: time.Second})
		var opCtx context.Context
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want %q", r, "boom")
				}
			}()
			_ = p.Do(t.Context(), func(ctx context.Context) error {
				opCtx = ctx
				ctx.Done() // arm the timer
				panic("boom")
			})
		}()
		if err := opCtx.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("op's context after the panic: Err() = %v, want %v (timer released)", err, context.Canceled)
		}
	})
}

func TestReturnOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		p := MustNew(Config{Name: "r", Timeout: time.Second, ReturnOnTime: true, Observer: rec})
		start := time.Now()
		err := p.Do(t.Context(), func(context.Context) error {
			time.Sleep(5 * time.Second) // ignores ctx
			return errors.New("late")
		})
		if got := time.Since(start); got != time.Second {
			t.Errorf("returned after %v, want exactly the timeout, 1s", got)
		}
		var ee *ExceededError
		if !errors.As(err, &ee) || ee.Err != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %#v, want *ExceededError with no op error", err)
		}
		if n := p.Abandoned(); n != 1 {
			t.Errorf("Abandoned() = %d, want 1", n)
		}
		var exitedAt time.Duration
		if !keel.AfterExit(err, func() { exitedAt = time.Since(start) }) {
			t.Fatal("keel.AfterExit: the error is not StillRunning")
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if exitedAt != 5*time.Second {
			t.Errorf("AfterExit func ran at %v, want 5s", exitedAt)
		}
		if n := p.Abandoned(); n != 0 {
			t.Errorf("Abandoned() after exit = %d, want 0", n)
		}
		ranNow := false
		ee.AfterExit(func() { ranNow = true })
		if !ranNow {
			t.Error("AfterExit after the exit did not run f at once")
		}
		want := []keel.Event{
			{Kind: keel.EventTimeout, Policy: "timeout", Name: "r", Duration: time.Second},
			{Kind: keel.EventAbandoned, Policy: "timeout", Name: "r", Duration: time.Second},
			{Kind: keel.EventAbandonedExit, Policy: "timeout", Name: "r", Duration: 5 * time.Second},
		}
		got := rec.get()
		if diff := cmp.Diff(want, got, ignoreTime); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if len(got) == 3 && (got[2].Err == nil || got[2].Err.Error() != "late") {
			t.Errorf("EventAbandonedExit.Err = %v, want the op's late error", got[2].Err)
		}
	})
}

func TestReturnOnTimeInTime(t *testing.T) {
	opErr := errors.New("bad request")
	tests := []struct {
		name string
		op   func(context.Context) error
		want error
	}{
		{"success", func(context.Context) error { time.Sleep(10 * time.Millisecond); return nil }, nil},
		{"failure", func(context.Context) error { return opErr }, opErr},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			rec := &recorder{}
			p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true, Observer: rec})
			if err := p.Do(t.Context(), tt.op); !errors.Is(err, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
			}
			if n := p.Abandoned(); n != 0 {
				t.Errorf("%s: Abandoned() = %d, want 0", tt.name, n)
			}
			if evs := rec.get(); len(evs) != 0 {
				t.Errorf("%s: events %v, want none", tt.name, kinds(evs))
			}
		})
	}
}

func TestReturnOnTimeHonoursCtx(t *testing.T) {
	// An op that does honor ctx ends at the deadline too; whichever the
	// select sees first, the caller gets an ExceededError at 1s.
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
		start := time.Now()
		err := p.Do(t.Context(), waitCtx)
		if got := time.Since(start); got != time.Second {
			t.Errorf("returned after %v, want 1s", got)
		}
		if !errors.Is(err, ErrExceeded) {
			t.Errorf("got %v, want ErrExceeded", err)
		}
		synctest.Wait()
		if n := p.Abandoned(); n != 0 {
			t.Errorf("Abandoned() = %d, want 0", n)
		}
	})
}

func TestReturnOnTimeCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		exit := make(chan struct{})
		err := p.Do(ctx, func(context.Context) error { <-exit; return nil })
		if got := time.Since(start); got != 200*time.Millisecond {
			t.Errorf("returned after %v, want 200ms", got)
		}
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrExceeded) {
			t.Errorf("got %v, want context.Canceled and not ErrExceeded", err)
		}
		if got := keel.DefaultClassifier(ctx, err); got != keel.OutcomeNeutral {
			t.Errorf("DefaultClassifier = %v, want neutral", got)
		}
		released := false
		if !keel.AfterExit(err, func() { released = true }) {
			t.Fatal("error is not StillRunning")
		}
		if n := p.Abandoned(); n != 1 || released {
			t.Errorf("before exit: Abandoned()=%d released=%v, want 1 false", n, released)
		}
		close(exit)
		synctest.Wait()
		if n := p.Abandoned(); n != 0 || !released {
			t.Errorf("after exit: Abandoned()=%d released=%v, want 0 true", n, released)
		}
	})
}

func TestReturnOnTimePanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
		func() {
			defer func() {
				if r := recover(); r != "early" {
					t.Fatalf("recovered %v, want %q re-panicked on the caller", r, "early")
				}
			}()
			_ = p.Do(t.Context(), func(context.Context) error {
				time.Sleep(100 * time.Millisecond)
				panic("early")
			})
			t.Fatal("Do returned after a panic in op")
		}()
	})
}

func TestReturnOnTimePanicAfterAbandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true, Observer: rec})
		err := p.Do(t.Context(), func(context.Context) error {
			time.Sleep(2 * time.Second)
			panic(errors.New("late boom"))
		})
		if !errors.Is(err, ErrExceeded) {
			t.Fatalf("got %v, want ErrExceeded", err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		evs := rec.get()
		last := evs[len(evs)-1]
		if last.Kind != keel.EventAbandonedExit || last.Err == nil ||
			last.Err.Error() != "timeout: abandoned operation panicked: late boom" || last.Duration != 2*time.Second {
			t.Errorf("last event = %v %v %v, want abandoned_exit after 2s carrying the panic", last.Kind, last.Duration, last.Err)
		}
		if n := p.Abandoned(); n != 0 {
			t.Errorf("Abandoned() = %d, want 0", n)
		}
	})
}

// TestBulkheadKeepsPermitOfAbandonedOp: keel.Chain(bh, to) with a
// return-on-time timeout. The call returns at the timeout, but the bulkhead
// slot stays taken until the abandoned operation really exits.
func TestBulkheadKeepsPermitOfAbandonedOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		to := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
		chain := keel.Chain(bh, to)
		start := time.Now()
		err := chain.Do(t.Context(), func(context.Context) error {
			time.Sleep(5 * time.Second)
			return nil
		})
		if got := time.Since(start); got != time.Second || !errors.Is(err, ErrExceeded) {
			t.Fatalf("Do: got %v after %v, want ErrExceeded after 1s", err, got)
		}
		if n := bh.InFlight(); n != 1 {
			t.Fatalf("InFlight() after the timeout = %d, want 1: the op still runs", n)
		}
		if err := chain.Do(t.Context(), func(context.Context) error { return nil }); !errors.Is(err, bulkhead.ErrFull) {
			t.Fatalf("second call while the op runs: got %v, want bulkhead.ErrFull", err)
		}
		time.Sleep(4*time.Second - time.Nanosecond)
		if n := bh.InFlight(); n != 1 {
			t.Fatalf("InFlight() just before the op exits = %d, want 1", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if n := bh.InFlight(); n != 0 {
			t.Fatalf("InFlight() after the op exited = %d, want 0", n)
		}
		if err := chain.Do(t.Context(), func(context.Context) error { return nil }); err != nil {
			t.Fatalf("call after the op exited: got %v, want nil", err)
		}
	})
}

// TestBulkheadCooperativeReleases: with a cooperative timeout the permit is
// released as soon as Do returns, even when it returns an ExceededError.
func TestBulkheadCooperativeReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		chain := keel.Chain(bh, MustNew(Config{Timeout: time.Second}))
		if err := chain.Do(t.Context(), waitCtx); !errors.Is(err, ErrExceeded) {
			t.Fatalf("got %v, want ErrExceeded", err)
		}
		if n := bh.InFlight(); n != 0 {
			t.Fatalf("InFlight() = %d, want 0", n)
		}
	})
}

func TestNoAllocs(t *testing.T) {
	ctx := context.Background()
	soon, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p := MustNew(Config{Timeout: time.Hour})
	op := func(context.Context) error { return nil }
	tests := []struct {
		name string
		ctx  context.Context
		want float64
	}{
		{"own deadline", ctx, 1},
		{"caller's deadline sooner", soon, 0},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, func() { _ = p.Do(tt.ctx, op) }); got != tt.want {
			t.Errorf("%s: %v allocs per Do, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzReturnOnTime checks, for any timeout and op duration, that Do returns
// after exactly min(timeout, op duration), reports a timeout exactly when the
// op was not done in time, and that every abandoned op is counted until it
// exits.
func FuzzReturnOnTime(f *testing.F) {
	f.Add(int64(1000), int64(10), true, true)
	f.Add(int64(10), int64(1000), true, false)
	f.Add(int64(10), int64(10), false, true)
	f.Add(int64(1), int64(0), false, false)
	f.Fuzz(func(t *testing.T, timeoutMs, opMs int64, returnOnTime, opFails bool) {
		timeout := time.Duration(1+uint64(timeoutMs)%10_000) * time.Millisecond
		opDur := time.Duration(uint64(opMs)%10_000) * time.Millisecond
		opErr := errors.New("op failed")
		synctest.Test(t, func(t *testing.T) {
			p := MustNew(Config{Timeout: timeout, ReturnOnTime: returnOnTime})
			start := time.Now()
			err := p.Do(t.Context(), func(context.Context) error {
				time.Sleep(opDur) // ignores ctx
				if opFails {
					return opErr
				}
				return nil
			})
			elapsed := time.Since(start)
			wantElapsed := opDur
			if returnOnTime {
				wantElapsed = min(opDur, timeout)
			}
			if elapsed != wantElapsed {
				t.Fatalf("timeout %v op %v returnOnTime %v: returned after %v, want %v", timeout, opDur, returnOnTime, elapsed, wantElapsed)
			}
			late := opDur >= timeout
			wantExceeded := late && (opFails || (returnOnTime && opDur > timeout))
			if got := errors.Is(err, ErrExceeded); got != wantExceeded && !(returnOnTime && opDur == timeout) {
				t.Fatalf("timeout %v op %v returnOnTime %v fails %v: err %v, want exceeded %v", timeout, opDur, returnOnTime, opFails, err, wantExceeded)
			}
			if !wantExceeded && !late && (err != nil) != opFails {
				t.Fatalf("timeout %v op %v: err %v, want op's result", timeout, opDur, err)
			}
			time.Sleep(opDur)
			synctest.Wait()
			if n := p.Abandoned(); n != 0 {
				t.Fatalf("Abandoned() after every op exited = %d, want 0", n)
			}
		})
	})
}

func TestReturnOnTimeCallerDeadlineSooner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		opCtxs := make(chan context.Context, 1)
		start := time.Now()
		err := p.Do(ctx, func(opCtx context.Context) error {
			opCtxs <- opCtx
			time.Sleep(2 * time.Second) // ignores ctx
			return nil
		})
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Errorf("returned after %v, want the caller's 500ms", d)
		}
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrExceeded) {
			t.Errorf("got %v, want the caller's context.DeadlineExceeded, not ErrExceeded", err)
		}
		if got := keel.DefaultClassifier(ctx, err); got != keel.OutcomeNeutral {
			t.Errorf("DefaultClassifier = %v, want neutral", got)
		}
		if got := <-opCtxs; got != ctx {
			t.Errorf("op got a new context, want the caller's (its deadline is sooner)")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := p.Abandoned(); n != 0 {
			t.Errorf("Abandoned() after exit = %d, want 0", n)
		}
	})
}

func TestReturnOnTimeGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Timeout: time.Second, ReturnOnTime: true})
		returned := false
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			_ = p.Do(t.Context(), func(context.Context) error {
				runtime.Goexit()
				return nil
			})
			returned = true
		}()
		<-exited
		if returned {
			t.Error("Do returned after op called runtime.Goexit; want the caller's goroutine to exit too")
		}
	})
}
