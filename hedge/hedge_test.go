package hedge

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Delay: time.Millisecond, Percentile: 0.95, Window: 5, MaxHedges: 3}, ""},
		{Config{Delay: -1}, "hedge: Config.Delay must be >= 0 (0 means 1s), got -1ns"},
		{Config{Percentile: 1.5}, "hedge: Config.Percentile must be in [0, 1] (0 means a fixed Delay), got 1.5"},
		{Config{Window: -1}, "hedge: Config.Window must be >= 0 (0 means 100), got -1"},
		{Config{MinSamples: -1}, "hedge: Config.MinSamples must be >= 0 (0 means 10), got -1"},
		{Config{MinDelay: -1}, "hedge: Config.MinDelay must be >= 0 (0 means 1ms), got -1ns"},
		{Config{MaxHedges: 17}, "hedge: Config.MaxHedges must be between 0 and 16 (0 means 1), got 17"},
		{Config{Window: 5, MinSamples: 6}, "hedge: Config.MinSamples (6) must not exceed Config.Window (5)"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v.Validate(): got %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

// script returns an op whose attempt n (1-based) sleeps durs[n-1] and then
// returns errs[n-1] (nil if errs is short), or returns ctx's error if ctx ends
// first. It records when each attempt started and how it ended.
type script struct {
	durs  []time.Duration
	errs  []error
	t0    time.Time
	mu    sync.Mutex
	start map[int]time.Duration
	ended map[int]error
}

func newScript(durs []time.Duration, errs ...error) *script {
	return &script{durs: durs, errs: errs, t0: time.Now(), start: map[int]time.Duration{}, ended: map[int]error{}}
}

func (s *script) op(ctx context.Context) error {
	n := Attempt(ctx)
	s.mu.Lock()
	s.start[n] = time.Since(s.t0)
	s.mu.Unlock()
	var err error
	if n-1 < len(s.errs) {
		err = s.errs[n-1]
	}
	t := time.NewTimer(s.durs[n-1])
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		err = ctx.Err()
		if !errors.Is(context.Cause(ctx), ErrLost) {
			err = errors.New("unexpected cause")
		}
	}
	s.mu.Lock()
	s.ended[n] = err
	s.mu.Unlock()
	return err
}

func TestHedgeFiresAtDelayAndFirstSuccessWins(t *testing.T) {
	errBoom := errors.New("boom")
	errPerm := keel.Permanent(errBoom)
	ms := time.Millisecond
	tests := []struct {
		name      string
		maxHedges int
		durs      []time.Duration
		errs      []error
		wantErr   error
		wantStart map[int]time.Duration
		wantEnded map[int]error
		wantTook  time.Duration
		wantWins  uint64
	}{
		{"fast first attempt, no hedge", 1, []time.Duration{40 * ms}, nil, nil,
			map[int]time.Duration{1: 0}, map[int]error{1: nil}, 40 * ms, 0},
		{"hedge at exactly the delay wins", 1, []time.Duration{500 * ms, 10 * ms}, nil, nil,
			map[int]time.Duration{1: 0, 2: 100 * ms}, map[int]error{1: context.Canceled, 2: nil}, 110 * ms, 1},
		{"first attempt wins over the hedge", 1, []time.Duration{150 * ms, 100 * ms}, nil, nil,
			map[int]time.Duration{1: 0, 2: 100 * ms}, map[int]error{1: nil, 2: context.Canceled}, 150 * ms, 0},
		{"third attempt wins", 2, []time.Duration{300 * ms, 250 * ms, 20 * ms}, nil, nil,
			map[int]time.Duration{1: 0, 2: 100 * ms, 3: 200 * ms},
			map[int]error{1: context.Canceled, 2: context.Canceled, 3: nil}, 220 * ms, 1},
		{"a failure waits for the hedge in flight", 1, []time.Duration{150 * ms, 100 * ms}, []error{errBoom}, nil,
			map[int]time.Duration{1: 0, 2: 100 * ms}, map[int]error{1: errBoom, 2: nil}, 200 * ms, 1},
		{"all fail: the last error", 1, []time.Duration{150 * ms, 100 * ms}, []error{errBoom, errBoom}, errBoom,
			map[int]time.Duration{1: 0, 2: 100 * ms}, map[int]error{1: errBoom, 2: errBoom}, 200 * ms, 0},
		{"a failure before the delay ends the call", 1, []time.Duration{50 * ms}, []error{errBoom}, errBoom,
			map[int]time.Duration{1: 0}, map[int]error{1: errBoom}, 50 * ms, 0},
		{"a permanent error ends the call at once", 1, []time.Duration{500 * ms, 10 * ms}, []error{nil, errPerm}, errBoom,
			map[int]time.Duration{1: 0, 2: 100 * ms}, map[int]error{1: context.Canceled, 2: errPerm}, 110 * ms, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := MustNew(Config{Delay: 100 * ms, MaxHedges: tt.maxHedges, DisableBudget: true})
				s := newScript(tt.durs, tt.errs...)
				err := p.Do(context.Background(), s.op)
				took := time.Since(s.t0)
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Errorf("Do: got %v, want %v", err, tt.wantErr)
				}
				if took != tt.wantTook {
					t.Errorf("Do took %v, want %v", took, tt.wantTook)
				}
				if d := cmp.Diff(tt.wantStart, s.start); d != "" {
					t.Errorf("attempt start times (-want +got):\n%s", d)
				}
				if d := cmp.Diff(tt.wantEnded, s.ended, cmpopts.EquateErrors()); d != "" {
					t.Errorf("attempt results (-want +got):\n%s", d)
				}
				if got := p.Wins(); got != tt.wantWins {
					t.Errorf("Wins: got %d, want %d", got, tt.wantWins)
				}
				if got, want := p.Hedges(), uint64(len(tt.wantStart)-1); got != want {
					t.Errorf("Hedges: got %d, want %d", got, want)
				}
			})
		})
	}
}

func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []keel.Event
		obs := keel.ObserverFunc(func(_ context.Context, e keel.Event) {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		})
		p := MustNew(Config{Name: "db", Delay: 100 * time.Millisecond, DisableBudget: true, Observer: obs})
		s := newScript([]time.Duration{time.Second, 10 * time.Millisecond})
		if err := p.Do(context.Background(), s.op); err != nil {
			t.Fatal(err)
		}
		want := []keel.Event{
			{Kind: keel.EventRetry, Attempt: 2, Delay: 100 * time.Millisecond},
			{Kind: keel.EventAttempt, Attempt: 2, Duration: 10 * time.Millisecond, Outcome: keel.OutcomeSuccess},
			{Kind: keel.EventAttempt, Attempt: 1, Duration: 110 * time.Millisecond, Err: context.Canceled, Outcome: keel.OutcomeNeutral},
			{Kind: keel.EventSuccess, Attempt: 2, Duration: 110 * time.Millisecond},
		}
		for i := range want {
			want[i].Policy, want[i].Name = "hedge", "db"
		}
		if d := cmp.Diff(want, got, cmpopts.IgnoreFields(keel.Event{}, "Time"), cmpopts.EquateErrors()); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
	})
}

// TestBudgetCapsHedges runs 2,000 calls from 100 callers within one budget
// window, each slow enough to want a hedge: at most 10% of the calls plus the
// floor of 10 may be hedged, every call still succeeds, and the attempts a
// suppressed hedge leaves behind are not disturbed.
func TestBudgetCapsHedges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Delay: 50 * time.Millisecond})
		var calls, fails atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				for range 20 {
					calls.Add(1)
					err := p.Do(context.Background(), func(ctx context.Context) error {
						d := 80 * time.Millisecond
						if IsHedge(ctx) {
							d = 10 * time.Millisecond
						}
						t := time.NewTimer(d)
						defer t.Stop()
						select {
						case <-t.C:
							return nil
						case <-ctx.Done():
							return ctx.Err()
						}
					})
					if err != nil {
						fails.Add(1)
					}
				}
			})
		}
		wg.Wait()
		n := uint64(calls.Load())
		if f := fails.Load(); f != 0 {
			t.Errorf("failed calls: got %d, want 0", f)
		}
		h, s := p.Hedges(), p.Suppressed()
		t.Logf("%d calls: %d hedges, %d suppressed", n, h, s)
		if max := n/10 + 10; h > max {
			t.Errorf("hedges: got %d of %d calls, want at most %d", h, n, max)
		}
		if h < n/20 {
			t.Errorf("hedges: got %d of %d calls, want at least %d (the budget should allow ~10%%)", h, n, n/20)
		}
		if h+s != n {
			t.Errorf("hedges %d + suppressed %d: got %d, want %d (each call wanted one hedge)", h, s, h+s, n)
		}
		if p.Wins() != h {
			t.Errorf("wins: got %d, want %d (every hedge is faster)", p.Wins(), h)
		}
	})
}

func TestSharedBudgetSuppressesLaterHedgesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := retry.MustNewBudget(retry.BudgetConfig{Ratio: -1, MinPerSecond: 1, TTL: time.Second})
		p := MustNew(Config{Delay: 100 * time.Millisecond, MaxHedges: 3, Budget: b})
		s := newScript([]time.Duration{time.Second, time.Second, time.Second, time.Second})
		if err := p.Do(context.Background(), s.op); err != nil {
			t.Fatal(err)
		}
		// The floor allows one hedge; the next is suppressed and no later
		// one is tried, and both running attempts run to the end.
		want := map[int]time.Duration{1: 0, 2: 100 * time.Millisecond}
		if d := cmp.Diff(want, s.start); d != "" {
			t.Errorf("attempt start times (-want +got):\n%s", d)
		}
		if d := cmp.Diff(map[int]error{1: nil, 2: context.Canceled}, s.ended, cmpopts.EquateErrors()); d != "" {
			t.Errorf("attempt results (-want +got):\n%s", d)
		}
		if got := p.Suppressed(); got != 1 {
			t.Errorf("suppressed: got %d, want 1", got)
		}
	})
}

func TestPercentileDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		p := MustNew(Config{Delay: time.Second, Percentile: 0.9, Window: 10, MinSamples: 5, MinDelay: 15 * ms, DisableBudget: true})
		lat := []time.Duration{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}
		want := []time.Duration{1000, 1000, 1000, 1000, 50, 60, 70, 80, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 15, 15}
		var got []time.Duration
		for _, l := range lat {
			if err := p.Do(context.Background(), func(context.Context) error { time.Sleep(l * ms); return nil }); err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Delay()/ms)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("delay in ms after each call (-want +got):\n%s", d)
		}
		// The adaptive delay is what the next call waits before hedging.
		p2 := MustNew(Config{Delay: time.Second, Percentile: 0.5, Window: 4, MinSamples: 4, DisableBudget: true})
		for range 4 {
			_ = p2.Do(context.Background(), func(context.Context) error { time.Sleep(40 * ms); return nil })
		}
		s := newScript([]time.Duration{time.Second, ms})
		if err := p2.Do(context.Background(), s.op); err != nil {
			t.Fatal(err)
		}
		if got, want := s.start[2], 40*ms; got != want {
			t.Errorf("hedge started at %v, want the p50 %v", got, want)
		}
	})
}

// TestWindowMatchesSort compares the window with a sort of the last samples.
func TestWindowMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	w := newWindow(17)
	var all []time.Duration
	for i := range 2000 {
		d := time.Duration(r.IntN(50))
		w.add(d)
		all = append(all, d)
		last := slices.Clone(all[max(0, len(all)-17):])
		slices.Sort(last)
		for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 1} {
			got, n := w.percentile(q)
			idx := max(0, int(float64(len(last))*q+0.999999999)-1)
			if n != len(last) || got != last[idx] {
				t.Fatalf("sample %d, q %v: got %v of %d, want %v of %d", i, q, got, n, last[idx], len(last))
			}
		}
	}
}

func TestCallerCancelStopsHedging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Delay: 100 * time.Millisecond, MaxHedges: 3, DisableBudget: true})
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		var started atomic.Int64
		err := p.Do(ctx, func(ctx context.Context) error {
			started.Add(1)
			<-ctx.Done()
			return ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded", err)
		}
		if got := started.Load(); got != 2 {
			t.Errorf("attempts: got %d, want 2 (no hedge after the caller gave up)", got)
		}
	})
}

func TestPanicCancelsOthersAndContinues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Delay: 10 * time.Millisecond, DisableBudget: true})
		var firstErr error
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
			if !errors.Is(firstErr, context.Canceled) {
				t.Errorf("first attempt: got %v, want context.Canceled", firstErr)
			}
		}()
		_ = p.Do(context.Background(), func(ctx context.Context) error {
			if IsHedge(ctx) {
				panic("boom")
			}
			<-ctx.Done()
			firstErr = ctx.Err()
			return firstErr
		})
		t.Error("Do returned instead of panicking")
	})
}

func TestChainAndAttempt(t *testing.T) {
	if got := Attempt(context.Background()); got != 0 {
		t.Errorf("Attempt outside a policy: got %d, want 0", got)
	}
	p := MustNew(Config{})
	var got int
	err := keel.Chain(p).Do(context.Background(), func(ctx context.Context) error {
		got = Attempt(ctx)
		return nil
	})
	if err != nil || got != 1 {
		t.Errorf("got %v, attempt %d; want nil, 1", err, got)
	}
}

// TestGetReturnsWinnersValue checks that keel.Get returns the value of the
// winning attempt, not that of a loser that returns after it.
func TestGetReturnsWinnersValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := MustNew(Config{Delay: 10 * time.Millisecond, DisableBudget: true})
		got, err := keel.Get(context.Background(), p, func(ctx context.Context) (string, error) {
			if IsHedge(ctx) {
				return "hedge", nil
			}
			<-ctx.Done()
			time.Sleep(time.Millisecond) // the loser returns after the winner
			return "loser", ctx.Err()
		})
		if err != nil || got != "hedge" {
			t.Errorf("Get: got %q, %v; want %q, nil", got, err, "hedge")
		}
	})
}
