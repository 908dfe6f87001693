package keeltest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

// errs runs s.Op n times with ctx and returns the errors.
func errs(ctx context.Context, s *keeltest.Script, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = s.Op(ctx)
	}
	return out
}

func TestScriptSequence(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	tests := []struct {
		name string
		s    *keeltest.Script
		want []error
	}{
		{"empty succeeds", keeltest.NewScript(), []error{nil, nil}},
		{"zero value succeeds", &keeltest.Script{}, []error{nil, nil}},
		{"steps in order, last repeats", keeltest.NewScript(keeltest.Fail(errA), keeltest.Succeed(), keeltest.Fail(errB)),
			[]error{errA, nil, errB, errB}},
		{"FailN(2)", keeltest.FailN(2, errA), []error{errA, errA, nil, nil}},
		{"FailN(0)", keeltest.FailN(0, errA), []error{nil}},
		{"FailN(-1)", keeltest.FailN(-1, errA), []error{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errs(t.Context(), tt.s, len(tt.want))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if got, want := tt.s.Calls(), len(tt.want); got != want {
				t.Errorf("Calls() = %d, want %d", got, want)
			}
		})
	}
}

func TestStepTiming(t *testing.T) {
	tests := []struct {
		name        string
		step        keeltest.Step
		timeout     time.Duration // 0: no deadline
		wantErr     error
		wantElapsed time.Duration
	}{
		{"sleep completes", keeltest.Sleep(3 * time.Second), 0, nil, 3 * time.Second},
		{"sleep cut by ctx", keeltest.Sleep(3 * time.Second), time.Second, context.DeadlineExceeded, time.Second},
		{"fail after latency", keeltest.Fail(errBoom).After(2 * time.Second), 0, errBoom, 2 * time.Second},
		{"latency cut by ctx skips failure", keeltest.Fail(errBoom).After(2 * time.Second), time.Second, context.DeadlineExceeded, time.Second},
		{"ignore context", keeltest.IgnoreContext(3 * time.Second), time.Second, nil, 3 * time.Second},
		{"fail ignoring context", keeltest.Fail(errBoom).AfterIgnoringContext(3 * time.Second), time.Second, errBoom, 3 * time.Second},
		{"block until deadline", keeltest.Block(), 5 * time.Second, context.DeadlineExceeded, 5 * time.Second},
		{"block after latency", keeltest.Block().After(time.Second), 5 * time.Second, context.DeadlineExceeded, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				s := keeltest.NewScript(tt.step)
				elapsed, err := keeltest.Timed(ctx, &keel.Pipeline{}, s.Op)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if elapsed != tt.wantElapsed {
					t.Errorf("elapsed = %v, want %v", elapsed, tt.wantElapsed)
				}
			})
		})
	}
}

func TestStepPanic(t *testing.T) {
	s := keeltest.NewScript(keeltest.Panic("kaboom"))
	defer func() {
		if got := recover(); got != "kaboom" {
			t.Errorf("recovered %v, want kaboom", got)
		}
		if got := s.InFlight(); got != 0 {
			t.Errorf("InFlight after panic = %d, want 0", got)
		}
	}()
	_ = s.Op(t.Context())
	t.Error("Op returned, want a panic")
}

func TestScriptConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 8
		s := keeltest.FailN(3, errBoom)
		var wg sync.WaitGroup
		var mu sync.Mutex
		failures := 0
		for range n {
			wg.Go(func() {
				if err := keeltest.NewScript(keeltest.Sleep(time.Second)).Op(t.Context()); err != nil {
					t.Error(err)
				}
				if s.Op(t.Context()) != nil {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if failures != 3 || s.Calls() != n {
			t.Errorf("failures = %d, calls = %d; want 3, %d", failures, s.Calls(), n)
		}
	})
}

func TestScriptMaxInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := keeltest.NewScript(keeltest.Sleep(time.Second))
		var calls []*keeltest.Call
		for range 5 {
			calls = append(calls, keeltest.Go(t.Context(), &keel.Pipeline{}, s.Op))
		}
		synctest.Wait()
		if got := s.InFlight(); got != 5 {
			t.Errorf("InFlight while sleeping = %d, want 5", got)
		}
		for _, c := range calls {
			if err := c.Wait(); err != nil {
				t.Errorf("call: %v", err)
			}
		}
		if got, want := [2]int{s.InFlight(), s.MaxInFlight()}, [2]int{0, 5}; got != want {
			t.Errorf("InFlight, MaxInFlight = %v, want %v", got, want)
		}
	})
}

func TestGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		c := keeltest.Go(ctx, &keel.Pipeline{}, keeltest.NewScript(keeltest.Block()).Op)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if c.Done() {
			t.Fatal("Done() = true while the op blocks, want false")
		}
		cancel()
		if err := c.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait() = %v, want context.Canceled", err)
		}
		if !c.Done() {
			t.Error("Done() = false after Wait, want true")
		}
		if got, want := c.Elapsed(), 4*time.Second; got != want {
			t.Errorf("Elapsed() = %v, want %v", got, want)
		}
	})
}

func TestEpochIsBubbleStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if now := time.Now(); !now.Equal(keeltest.Epoch) {
			t.Errorf("bubble starts at %v, Epoch is %v", now, keeltest.Epoch)
		}
	})
}

func TestRecorder(t *testing.T) {
	var r keeltest.Recorder
	if got := r.Kinds(); got == nil || len(got) != 0 {
		t.Errorf("Kinds() of empty recorder = %#v, want empty non-nil", got)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			k := keel.EventSuccess
			if i%4 == 0 {
				k = keel.EventFailure
			}
			r.Observe(context.Background(), keel.Event{Kind: k, Policy: "test"})
		})
	}
	wg.Wait()
	if got, want := [2]int{r.Count(keel.EventSuccess), r.Count(keel.EventFailure)}, [2]int{75, 25}; got != want {
		t.Errorf("counts success, failure = %v, want %v", got, want)
	}
	if got := len(r.Events()); got != 100 {
		t.Errorf("len(Events()) = %d, want 100", got)
	}
	r.Reset()
	r.Observe(t.Context(), keel.Event{Kind: keel.EventRetry, Attempt: 2})
	r.Observe(t.Context(), keel.Event{Kind: keel.EventExhausted})
	if diff := cmp.Diff([]keel.EventKind{keel.EventRetry, keel.EventExhausted}, r.Kinds()); diff != "" {
		t.Errorf("Kinds() after Reset (-want +got):\n%s", diff)
	}
	ev := r.Events()
	ev[0].Attempt = 99 // a copy: must not change the recorder
	if got := r.Events()[0].Attempt; got != 2 {
		t.Errorf("Events() is not a copy: Attempt = %d after mutation, want 2", got)
	}
}

func TestBufferConcurrentWrites(t *testing.T) {
	var b keeltest.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.Bytes()); got != 800 {
		t.Errorf("%d bytes written, want 800", got)
	}
}
