package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/ratelimit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = keeltest.Epoch

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  ratelimit.Config
		want string // substring of the error, "" for valid
	}{
		{ratelimit.Config{Rate: 10}, ""},
		{ratelimit.Config{Rate: 0.5, Burst: 3, MaxWait: time.Second}, ""},
		{ratelimit.Config{Rate: math.Inf(1)}, ""},
		{ratelimit.Config{}, "Config.Rate must be greater than 0"},
		{ratelimit.Config{Rate: -1}, "Config.Rate must be greater than 0"},
		{ratelimit.Config{Rate: math.NaN()}, "Config.Rate must be greater than 0"},
		{ratelimit.Config{Rate: 1e-10}, "Config.Rate must be at least 1e-9"},
		{ratelimit.Config{Rate: 1, Burst: -1}, "Config.Burst must not be negative"},
		{ratelimit.Config{Rate: 1, MaxWait: -time.Second}, "Config.MaxWait must not be negative"},
		{ratelimit.Config{Rate: 1e-9, Burst: 10}, "spans more than 146 years"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v.Validate() = %v, want %q", tt.cfg, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "ratelimit: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
		if _, nerr := ratelimit.New(tt.cfg); (nerr == nil) != (err == nil) {
			t.Errorf("New(%+v) error = %v, Validate = %v", tt.cfg, nerr, err)
		}
	}
	k := ratelimit.KeyedConfig{Config: ratelimit.Config{Rate: 1}, MaxKeys: -1}
	if err := k.Validate(); err == nil || !strings.Contains(err.Error(), "KeyedConfig.MaxKeys") {
		t.Errorf("KeyedConfig{MaxKeys: -1}.Validate() = %v, want MaxKeys error", err)
	}
}

func TestMustNewPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustNew(Config{}) did not panic")
		}
	}()
	ratelimit.MustNew(ratelimit.Config{})
}

func TestDefaultBurst(t *testing.T) {
	tests := []struct {
		rate  float64
		burst int
		want  int
	}{
		{0.1, 0, 1}, {1, 0, 1}, {2.5, 0, 3}, {100, 0, 100}, {100, 7, 7}, {math.Inf(1), 0, 1},
	}
	for _, tt := range tests {
		l := ratelimit.MustNew(ratelimit.Config{Rate: tt.rate, Burst: tt.burst})
		if got := l.Burst(); got != tt.want {
			t.Errorf("Rate %v Burst %d: Burst() = %d, want %d", tt.rate, tt.burst, got, tt.want)
		}
	}
}

func TestBurstThenRate(t *testing.T) {
	// 10 per second (one token every 100ms), bucket of 3.
	l := ratelimit.MustNew(ratelimit.Config{Rate: 10, Burst: 3})
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {0, true}, {0, true}, // the burst
		{0, false},
		{ms(99), false},
		{ms(100), true}, // one token earned
		{ms(100), false},
		{ms(250), true}, // 1.5 tokens earned since 100ms
		{ms(250), false},
		{ms(300), true},
		{ms(1000), true}, {ms(1000), true}, {ms(1000), true}, // full again, capped at 3
		{ms(1000), false},
	}
	for i, s := range steps {
		if got := l.AllowAt(t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: AllowAt(+%v) = %v, want %v", i, s.at, got, s.want)
		}
	}
	if got, want := l.TokensAt(t0.Add(ms(1150))), 1.5; got != want {
		t.Errorf("TokensAt(+1150ms) = %v, want %v", got, want)
	}
}

func TestUnlimited(t *testing.T) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: math.Inf(1)})
	for i := range 1000 {
		if !l.AllowAt(t0) {
			t.Fatalf("call %d refused by an unlimited limiter", i)
		}
	}
}

func TestReserveAt(t *testing.T) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 2, Burst: 1, MaxWait: time.Second})
	r1 := l.ReserveAt(t0)
	r2 := l.ReserveAt(t0)
	r3 := l.ReserveAt(t0)
	r4 := l.ReserveAt(t0) // would need 1.5s > MaxWait
	got := []any{r1.OK(), r1.Delay(), r2.OK(), r2.Delay(), r3.OK(), r3.Delay(), r4.OK(), r4.Delay()}
	want := []any{true, time.Duration(0), true, ms(500), true, ms(1000), false, ms(1500)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OK/Delay of four reservations (-want +got):\n%s", diff)
	}
	if !r3.Time().Equal(t0.Add(time.Second)) {
		t.Errorf("r3.Time() = %v, want t0+1s", r3.Time())
	}
	// Canceling r3 before its time gives its token back: a new reservation
	// gets the same slot.
	r3.CancelAt(t0.Add(ms(100)))
	r3.CancelAt(t0.Add(ms(100))) // a second cancel must not give back another token
	if r := l.ReserveAt(t0.Add(ms(100))); !r.OK() || r.Delay() != ms(900) {
		t.Errorf("after cancel: OK=%v Delay=%v, want true 900ms", r.OK(), r.Delay())
	}
	if r := l.ReserveAt(t0.Add(ms(100))); r.OK() || r.Delay() != ms(1400) {
		t.Errorf("after cancel, next: OK=%v Delay=%v, want false 1.4s", r.OK(), r.Delay())
	}
	// Canceling after the time to act gives nothing back.
	r1.CancelAt(t0.Add(time.Second))
	if got := l.TokensAt(t0.Add(time.Second)); got != 0 {
		t.Errorf("TokensAt(+1s) = %v, want 0", got)
	}
	var zero ratelimit.Reservation
	zero.Cancel() // must not panic
	if zero.OK() {
		t.Error("zero Reservation is OK")
	}
}

func TestLimitedError(t *testing.T) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 4, Burst: 1, Name: "api"})
	synctest.Test(t, func(t *testing.T) {
		if err := l.Wait(t.Context()); err != nil {
			t.Fatalf("first Wait = %v", err)
		}
		time.Sleep(ms(100))
		err := l.Wait(t.Context())
		var le *ratelimit.LimitedError
		if !errors.As(err, &le) {
			t.Fatalf("Wait on an empty bucket = %v, want *LimitedError", err)
		}
		if diff := cmp.Diff(&ratelimit.LimitedError{Name: "api", Delay: ms(150)}, le); diff != "" {
			t.Errorf("LimitedError (-want +got):\n%s", diff)
		}
		for _, target := range []error{ratelimit.ErrLimited, keel.ErrRejected} {
			if !errors.Is(err, target) {
				t.Errorf("errors.Is(err, %v) = false", target)
			}
		}
		if d, ok := keel.RetryAfter(err); !ok || d != ms(150) {
			t.Errorf("keel.RetryAfter(err) = %v, %v; want 150ms, true", d, ok)
		}
		if got, want := err.Error(), `ratelimit: rate limit exceeded for "api", retry after 150ms`; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
		// The hint is right: after waiting it, a token is there.
		time.Sleep(le.RetryAfter())
		if !l.Allow() {
			t.Error("Allow after RetryAfter = false, want true")
		}
	})
}

func TestWaitHonoursMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 1, MaxWait: ms(500)})
		ctx := t.Context()
		type result struct {
			Elapsed time.Duration
			Limited bool
		}
		wait := func() result {
			start := time.Now()
			err := l.Wait(ctx)
			if err != nil && !errors.Is(err, ratelimit.ErrLimited) {
				t.Fatalf("Wait = %v", err)
			}
			return result{time.Since(start), err != nil}
		}
		var got []result
		got = append(got, wait()) // token there
		got = append(got, wait()) // next token in 1s > 500ms: rejected at once
		time.Sleep(ms(600))
		got = append(got, wait()) // token in 400ms: waits
		got = append(got, wait()) // next in 1s: rejected
		want := []result{{0, false}, {0, true}, {ms(400), false}, {0, true}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
	})
}

func TestWaitNeverPastDeadline(t *testing.T) {
	tests := []struct {
		name      string
		timeout   time.Duration
		wantErr   error
		wantSlept time.Duration
	}{
		{"token before deadline", ms(1001), nil, time.Second},
		{"token at deadline", ms(1000), ratelimit.ErrLimited, 0},
		{"token after deadline", ms(300), ratelimit.ErrLimited, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 1, MaxWait: time.Hour})
				l.Allow()
				ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
				defer cancel()
				s := keeltest.NewScript()
				elapsed, err := keeltest.Timed(ctx, l, s.Op)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Errorf("Do = %v, want %v", err, tt.wantErr)
				}
				if elapsed != tt.wantSlept {
					t.Errorf("elapsed = %v, want %v", elapsed, tt.wantSlept)
				}
				if want := map[bool]int{true: 1, false: 0}[tt.wantErr == nil]; s.Calls() != want {
					t.Errorf("op ran %d times, want %d", s.Calls(), want)
				}
			})
		})
	}
}

func TestWaitCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec keeltest.Recorder
		l := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 1, MaxWait: time.Minute, Observer: &rec, Name: "w"})
		l.Allow()
		ctx, cancel := context.WithCancel(t.Context())
		c := keeltest.Go(ctx, l, keeltest.NewScript().Op)
		time.Sleep(ms(300))
		synctest.Wait()
		if c.Done() {
			t.Fatal("Do returned while its token was 700ms away")
		}
		cancel()
		if err := c.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Do after cancel = %v, want context.Canceled", err)
		}
		// The token reserved for the canceled call was given back.
		time.Sleep(ms(700))
		if !l.Allow() {
			t.Error("Allow at +1s after a canceled wait = false, want true")
		}
		ev := rec.Events()
		if len(ev) != 1 || ev[0].Kind != keel.EventRejected || ev[0].Reason != keel.ReasonContext ||
			ev[0].Duration != ms(300) || ev[0].Policy != "ratelimit" || ev[0].Name != "w" {
			t.Errorf("events = %+v, want one rejected/context after 300ms", ev)
		}
	})
}

func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec keeltest.Recorder
		l := ratelimit.MustNew(ratelimit.Config{Rate: 10, Burst: 1, MaxWait: ms(100), Name: "ev", Observer: &rec})
		op := keeltest.NewScript().Op
		_ = l.Do(t.Context(), op) // immediate
		_ = l.Do(t.Context(), op) // waits 100ms
		l.Allow()                 // refused, no event
		r := l.Reserve()          // the slot at +300ms, no event
		_ = l.Do(t.Context(), op) // next slot at +400ms, 200ms > MaxWait: rejected
		type ev struct {
			Kind     keel.EventKind
			Reason   keel.Reason
			Duration time.Duration
			Delay    time.Duration
			Name     string
			Policy   string
		}
		var got []ev
		for _, e := range rec.Events() {
			got = append(got, ev{e.Kind, e.Reason, e.Duration, e.Delay, e.Name, e.Policy})
		}
		want := []ev{
			{keel.EventAcquired, keel.ReasonNone, 0, 0, "ev", "ratelimit"},
			{keel.EventAcquired, keel.ReasonNone, ms(100), 0, "ev", "ratelimit"},
			{keel.EventRejected, keel.ReasonRateLimited, 0, ms(200), "ev", "ratelimit"},
		}
		if !r.OK() || r.Delay() != ms(100) {
			t.Errorf("Reserve: OK=%v Delay=%v, want true 100ms", r.OK(), r.Delay())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestChain(t *testing.T) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 2})
	p := keel.Chain(l)
	s := keeltest.NewScript()
	var errs []error
	for range 3 {
		errs = append(errs, p.Do(t.Context(), s.Op))
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ratelimit.ErrLimited) || s.Calls() != 2 {
		t.Errorf("errors = %v, calls = %d; want nil, nil, ErrLimited and 2 calls", errs, s.Calls())
	}
}

func TestPanicPassesThrough(t *testing.T) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 2})
	func() {
		defer func() {
			if got := recover(); got != "boom" {
				t.Errorf("recovered %v, want boom", got)
			}
		}()
		_ = l.Do(t.Context(), keeltest.NewScript(keeltest.Panic("boom")).Op)
	}()
	if !l.Allow() || l.Allow() {
		t.Error("after one panicking call, want exactly one token left of two")
	}
}

func TestConcurrentAllowTakesExactlyBurst(t *testing.T) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: 1, Burst: 50})
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if l.AllowAt(t0) {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := granted.Load(); got != 50 {
		t.Errorf("granted %d of 800 at one instant, want the burst 50", got)
	}
}

func TestZeroAllocs(t *testing.T) {
	l := ratelimit.MustNew(ratelimit.Config{Rate: math.Inf(1)})
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	p := keel.Chain(l)
	tests := map[string]func(){
		"Allow":      func() { l.Allow() },
		"Do":         func() { _ = l.Do(ctx, op) },
		"Chain.Do":   func() { _ = p.Do(ctx, op) },
		"ReserveAt":  func() { r := l.ReserveAt(t0); r.CancelAt(t0) },
		"AllowAt":    func() { l.AllowAt(t0) },
		"Do+Observe": func() { _ = observed.Do(ctx, op) },
	}
	for name, f := range tests {
		if got := testing.AllocsPerRun(100, f); got != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, got)
		}
	}
}

var observed = ratelimit.MustNew(ratelimit.Config{Rate: math.Inf(1), Observer: keel.ObserverFunc(func(context.Context, keel.Event) {})})
