package limit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/limit"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  limit.Config
		want string // "" for valid
	}{
		{"zero", limit.Config{}, ""},
		{"min above default initial", limit.Config{MinLimit: 50}, ""},
		{"negative min", limit.Config{MinLimit: -1}, "limit: Config.MinLimit must be >= 0 (0 means 1), got -1"},
		{"negative max", limit.Config{MaxLimit: -1}, "limit: Config.MaxLimit must be >= 0 (0 means 1000), got -1"},
		{"min over max", limit.Config{MinLimit: 10, MaxLimit: 5}, "limit: Config.MinLimit (10) must not exceed Config.MaxLimit (5)"},
		{"initial outside", limit.Config{InitialLimit: 3, MinLimit: 5}, "limit: Config.InitialLimit must lie in [MinLimit, MaxLimit] = [5, 1000], got 3"},
		{"negative queue", limit.Config{MaxQueue: -1}, "limit: Config.MaxQueue must be >= 0 (0 means no queue), got -1"},
		{"negative wait", limit.Config{MaxWait: -1}, "limit: Config.MaxWait must be >= 0 (0 means wait as long as the context allows), got -1ns"},
		{"bad order", limit.Config{QueueOrder: 7}, "limit: Config.QueueOrder must be FIFO or LIFO, got 7"},
		{"bad aimd", limit.Config{Algorithm: &limit.AIMD{BackoffRatio: 1}}, "limit: AIMD.BackoffRatio must lie in [0.5, 1) (0 means 0.9), got 1"},
		{"bad vegas", limit.Config{Algorithm: &limit.Vegas{Smoothing: 2}}, "limit: Vegas.Smoothing must lie in (0, 1] (0 means 1), got 2"},
		{"bad gradient2", limit.Config{Algorithm: &limit.Gradient2{Tolerance: 0.5}}, "limit: Gradient2.Tolerance must be >= 1 (0 means 1.5), got 0.5"},
	} {
		err := tc.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFloorRespectedWhenAllDrop(t *testing.T) {
	for _, tc := range []struct {
		name string
		alg  limit.Algorithm
	}{
		{"aimd", &limit.AIMD{}},
		{"vegas", &limit.Vegas{Seed: 1}},
		{"gradient2", &limit.Gradient2{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := limit.MustNew(limit.Config{Algorithm: tc.alg, MinLimit: 5, InitialLimit: 40})
			ctx := context.Background()
			now := time.Unix(0, 0)
			prev := l.Limit()
			for i := range 200 {
				p, err := l.Acquire(ctx)
				if err != nil {
					t.Fatalf("acquire %d: %v", i, err)
				}
				p.DoneAt(now, keel.OutcomeFailure)
				got := l.Limit()
				if got > prev {
					t.Fatalf("drop %d: got limit %d, want <= %d (every request dropped)", i, got, prev)
				}
				if i == 30 && got != 5 {
					t.Fatalf("got limit %d after 30 drops from 40, want 5 (the floor)", got)
				}
				if got < 5 {
					t.Fatalf("drop %d: got limit %d, want >= 5 (MinLimit)", i, got)
				}
				prev = got
			}
			if prev != 5 {
				t.Fatalf("got limit %d after 200 drops, want 5 (the floor)", prev)
			}
		})
	}
}

func TestNeutralIgnored(t *testing.T) {
	l := limit.MustNew(limit.Config{})
	for range 10 {
		p, _ := l.Acquire(context.Background())
		p.Done(keel.OutcomeNeutral)
	}
	if got, want := l.Limit(), limit.DefaultInitialLimit; got != want {
		t.Fatalf("got limit %d after neutral outcomes, want %d (unchanged)", got, want)
	}
	if got := l.InFlight(); got != 0 {
		t.Fatalf("got %d in flight, want 0", got)
	}
}

func TestRejectWithoutQueue(t *testing.T) {
	l := limit.MustNew(limit.Config{Name: "db", InitialLimit: 2})
	ctx := context.Background()
	p1, _ := l.Acquire(ctx)
	p2, _ := l.Acquire(ctx)
	_, err := l.Acquire(ctx)
	var le *limit.LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LimitedError", err)
	}
	want := &limit.LimitedError{Name: "db", Reason: keel.ReasonLimit, Limit: 2, InFlight: 2}
	if diff := cmp.Diff(want, le); diff != "" {
		t.Fatalf("error (-want +got):\n%s", diff)
	}
	if !errors.Is(err, limit.ErrLimited) || !errors.Is(err, keel.ErrRejected) {
		t.Fatalf("got %v: want it to match ErrLimited and keel.ErrRejected", err)
	}
	if got, want := err.Error(), `limit "db": concurrency limit reached (2 in flight, limit 2)`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	p1.Done(keel.OutcomeNeutral)
	p2.Done(keel.OutcomeNeutral)
	p2.Done(keel.OutcomeNeutral) // cleared: no-op
	if got := l.InFlight(); got != 0 {
		t.Fatalf("got %d in flight, want 0", got)
	}
}

// queueOrder holds the only permit, queues three callers one after another
// and returns the order in which they got the permit.
func queueOrder(t *testing.T, order limit.QueueOrder) []int {
	var got []int
	synctest.Test(t, func(t *testing.T) {
		l := limit.MustNew(limit.Config{InitialLimit: 1, MaxLimit: 1, MaxQueue: 3, QueueOrder: order})
		ctx := t.Context()
		p, err := l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 1; i <= 3; i++ {
			wg.Go(func() {
				q, err := l.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, i)
				mu.Unlock()
				q.Done(keel.OutcomeNeutral)
			})
			synctest.Wait() // caller i is queued before i+1 arrives
		}
		if got, want := l.Queued(), 3; got != want {
			t.Fatalf("got %d queued, want %d", got, want)
		}
		_, err = l.Acquire(ctx)
		if !errors.Is(err, limit.ErrLimited) {
			t.Fatalf("got %v with a full queue, want ErrLimited", err)
		}
		p.Done(keel.OutcomeNeutral)
		wg.Wait()
	})
	return got
}

func TestQueueOrder(t *testing.T) {
	if diff := cmp.Diff([]int{1, 2, 3}, queueOrder(t, limit.FIFO)); diff != "" {
		t.Errorf("FIFO grant order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 2, 1}, queueOrder(t, limit.LIFO)); diff != "" {
		t.Errorf("LIFO grant order (-want +got):\n%s", diff)
	}
}

func TestQueueMaxWaitAndContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := limit.MustNew(limit.Config{InitialLimit: 1, MaxQueue: 5, MaxWait: 100 * ms})
		p, _ := l.Acquire(t.Context())
		start := time.Now()
		_, err := l.Acquire(t.Context())
		var le *limit.LimitedError
		if !errors.As(err, &le) || le.Reason != keel.ReasonQueueTimeout {
			t.Fatalf("got %v, want a queue timeout", err)
		}
		if got, want := time.Since(start), 100*ms; got != want || le.Waited != want {
			t.Fatalf("got wait %v (Waited %v), want %v", got, le.Waited, want)
		}
		if !errors.Is(err, limit.ErrLimited) || !errors.Is(err, keel.ErrRejected) {
			t.Fatalf("got %v: want ErrLimited and keel.ErrRejected", err)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 30*ms)
		defer cancel()
		_, err = l.Acquire(ctx)
		if !errors.As(err, &le) || le.Reason != keel.ReasonContext || le.Waited != 30*ms {
			t.Fatalf("got %v, want a context rejection after 30ms", err)
		}
		if errors.Is(err, limit.ErrLimited) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, keel.ErrRejected) {
			t.Fatalf("got %v: want DeadlineExceeded and keel.ErrRejected, not ErrLimited", err)
		}
		if got := l.Queued(); got != 0 {
			t.Fatalf("got %d queued after the waits ended, want 0", got)
		}
		p.Done(keel.OutcomeNeutral)
	})
}

func TestLimitGrowthWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// AIMD: a success at full use raises the limit from 2 to 3; with
		// one permit still held, both queued callers get in at once.
		l := limit.MustNew(limit.Config{InitialLimit: 2, MaxQueue: 2})
		p1, _ := l.Acquire(t.Context())
		p2, _ := l.Acquire(t.Context())
		var mu sync.Mutex
		var got []error
		hold := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				q, err := l.Acquire(t.Context())
				mu.Lock()
				got = append(got, err)
				mu.Unlock()
				if err == nil {
					<-hold
					q.Done(keel.OutcomeNeutral)
				}
			})
			synctest.Wait()
		}
		time.Sleep(10 * ms)
		p1.Done(keel.OutcomeSuccess) // limit 3, in flight 1 → both waiters run
		synctest.Wait()
		if got, want := l.InFlight(), 3; got != want {
			t.Fatalf("got %d in flight, want %d", got, want)
		}
		close(hold)
		wg.Wait()
		if got, want := l.Limit(), 3; got != want {
			t.Fatalf("got limit %d, want %d", got, want)
		}
		if diff := cmp.Diff([]error{nil, nil}, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) && errors.Is(b, a) })); diff != "" {
			t.Fatalf("waiters (-want +got):\n%s", diff)
		}
		p2.Done(keel.OutcomeNeutral)
	})
}

func TestDoPanicReleasesAndCountsFailure(t *testing.T) {
	l := limit.MustNew(limit.Config{})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("got panic %v, want boom", r)
			}
		}()
		_ = l.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if got := l.InFlight(); got != 0 {
		t.Fatalf("got %d in flight after a panic, want 0", got)
	}
	if got, want := l.Limit(), 18; got != want { // AIMD: 20·0.9
		t.Fatalf("got limit %d after a panic, want %d (counted as a drop)", got, want)
	}
}

func TestDoClassifies(t *testing.T) {
	errBad := errors.New("bad")
	l := limit.MustNew(limit.Config{InitialLimit: 10, Classifier: func(ctx context.Context, err error) keel.Outcome {
		if errors.Is(err, errBad) {
			return keel.OutcomeNeutral
		}
		return keel.DefaultClassifier(ctx, err)
	}})
	h := l.Wrap(func(ctx context.Context, op func(context.Context) error) error { return op(ctx) })
	if err := h(context.Background(), func(context.Context) error { return errBad }); !errors.Is(err, errBad) {
		t.Fatalf("got %v, want errBad", err)
	}
	if got := l.Limit(); got != 10 {
		t.Fatalf("got limit %d after a neutral error, want 10", got)
	}
	_ = l.Do(context.Background(), func(context.Context) error { return errors.New("down") })
	if got := l.Limit(); got != 9 {
		t.Fatalf("got limit %d after a failure, want 9", got)
	}
}

type recorder struct {
	mu sync.Mutex
	ev []keel.Event
}

func (r *recorder) Observe(_ context.Context, e keel.Event) {
	r.mu.Lock()
	e.Time = time.Time{}
	e.Err = nil
	r.ev = append(r.ev, e)
	r.mu.Unlock()
}

func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := limit.MustNew(limit.Config{Name: "api", InitialLimit: 1, Observer: rec})
		p, _ := l.Acquire(t.Context())
		_, _ = l.Acquire(t.Context())
		time.Sleep(5 * ms)
		p.Done(keel.OutcomeSuccess) // AIMD: 1 → 2
		want := []keel.Event{
			{Kind: keel.EventAcquired, Policy: "limit", Name: "api", InFlight: 1},
			{Kind: keel.EventRejected, Policy: "limit", Name: "api", Reason: keel.ReasonLimit, InFlight: 1},
			{Kind: keel.EventReleased, Policy: "limit", Name: "api", Duration: 5 * ms},
			{Kind: keel.EventStateChange, Policy: "limit", Name: "api", From: "1", To: "2"},
		}
		if diff := cmp.Diff(want, rec.ev); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
	})
}

func TestZeroAllocFastPath(t *testing.T) {
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name string
		alg  limit.Algorithm
	}{
		{"aimd", &limit.AIMD{}},
		{"vegas", &limit.Vegas{}},
		{"gradient2", &limit.Gradient2{}},
	} {
		l := limit.MustNew(limit.Config{Algorithm: tc.alg})
		if n := testing.AllocsPerRun(1000, func() {
			p, err := l.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p.Done(keel.OutcomeSuccess)
		}); n != 0 {
			t.Errorf("%s: Acquire+Done: got %v allocs, want 0", tc.name, n)
		}
		if n := testing.AllocsPerRun(1000, func() { _ = l.Do(ctx, op) }); n != 0 {
			t.Errorf("%s: Do: got %v allocs, want 0", tc.name, n)
		}
	}
	th := limit.MustNewThrottler(limit.ThrottlerConfig{})
	if n := testing.AllocsPerRun(1000, func() { _ = th.Do(ctx, op) }); n != 0 {
		t.Errorf("Throttler.Do: got %v allocs, want 0", n)
	}
}

// stillRunning is an error whose operation goes on after Do returned.
type stillRunning struct{ exit []func() }

func (s *stillRunning) Error() string      { return "still running" }
func (s *stillRunning) AfterExit(f func()) { s.exit = append(s.exit, f) }

func TestDoKeepsPermitWhileAbandonedWorkRuns(t *testing.T) {
	l := limit.MustNew(limit.Config{InitialLimit: 10})
	sr := &stillRunning{}
	err := l.Do(context.Background(), func(context.Context) error { return sr })
	if !errors.Is(err, sr) {
		t.Fatalf("got %v, want the still-running error", err)
	}
	if got := l.InFlight(); got != 1 {
		t.Fatalf("got %d in flight while the abandoned call runs, want 1", got)
	}
	for _, f := range sr.exit {
		f()
	}
	if got := l.InFlight(); got != 0 {
		t.Fatalf("got %d in flight after it exited, want 0", got)
	}
	if got := l.Limit(); got != 9 { // the error is a failure: a drop
		t.Fatalf("got limit %d, want 9", got)
	}
}
