package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/backoff"
	"github.com/keelhq/keel/retry"
)

var errFail = errors.New("dependency failed")

// statusError is a typed error an HTTP-like dependency might return.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("status %d", e.code) }

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []keel.Event
}

func (r *recorder) Observe(_ context.Context, e keel.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// ev is the comparable part of an event.
type ev struct {
	Kind     keel.EventKind
	Attempt  int
	Delay    time.Duration
	Duration time.Duration
	Outcome  keel.Outcome
	Reason   keel.Reason
	Err      string
}

func (r *recorder) simple() []ev {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ev
	for _, e := range r.events {
		s := ev{Kind: e.Kind, Attempt: e.Attempt, Delay: e.Delay, Duration: e.Duration, Outcome: e.Outcome, Reason: e.Reason}
		if e.Err != nil {
			s.Err = e.Err.Error()
		}
		out = append(out, s)
	}
	return out
}

func exhausted(t *testing.T, err error) *retry.ExhaustedError {
	t.Helper()
	var ee *retry.ExhaustedError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v (%T) is not an *ExhaustedError", err, err)
	}
	if !errors.Is(err, retry.ErrExhausted) {
		t.Errorf("errors.Is(%v, ErrExhausted) = false", err)
	}
	return ee
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  retry.Config
		want string
	}{
		{retry.Config{}, ""},
		{retry.Config{MaxAttempts: 1, DisableBudget: true}, ""},
		{retry.Config{MaxAttempts: -1}, "retry: Config.MaxAttempts is negative (-1)"},
		{retry.Config{MaxDuration: -time.Second}, "retry: Config.MaxDuration is negative (-1s)"},
		{retry.Config{AttemptTimeout: -time.Millisecond}, "retry: Config.AttemptTimeout is negative (-1ms)"},
		{retry.Config{MaxRetryAfter: -time.Minute}, "retry: Config.MaxRetryAfter is negative (-1m0s)"},
		{retry.Config{Budget: retry.MustNewBudget(retry.BudgetConfig{}), DisableBudget: true},
			"retry: Config.Budget is set but Config.DisableBudget is true"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
		if _, err := retry.New(tt.cfg); (err != nil) != (tt.want != "") {
			t.Errorf("New(%+v) error = %v, want error: %v", tt.cfg, err, tt.want != "")
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("MustNew with a negative MaxAttempts did not panic")
		}
	}()
	retry.MustNew(retry.Config{MaxAttempts: -1})
}

func TestBudgetOwnership(t *testing.T) {
	shared := retry.MustNewBudget(retry.BudgetConfig{})
	a := retry.MustNew(retry.Config{Budget: shared})
	b := retry.MustNew(retry.Config{Budget: shared})
	if a.Budget() != shared || b.Budget() != shared {
		t.Error("policies do not use the shared budget they were given")
	}
	c, d := retry.MustNew(retry.Config{}), retry.MustNew(retry.Config{})
	if c.Budget() == nil || d.Budget() == nil || c.Budget() == d.Budget() {
		t.Errorf("default budgets: got %p and %p, want two distinct non-nil budgets", c.Budget(), d.Budget())
	}
	if e := retry.MustNew(retry.Config{DisableBudget: true}); e.Budget() != nil {
		t.Errorf("DisableBudget: Budget() = %p, want nil", e.Budget())
	}
}

// TestDelaysMatchSeededJitter runs failing calls inside a synctest bubble,
// measures the real gaps between attempts and checks each against the delay
// an identically seeded schedule gives, and against the jitter mode's bounds.
func TestDelaysMatchSeededJitter(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		schedule backoff.Schedule
		attempts int
		bounds   func(n int, prev time.Duration) (lo, hi time.Duration)
	}{
		{"default full jitter", backoff.Schedule{}, 3,
			func(n int, _ time.Duration) (time.Duration, time.Duration) { return 0, 100 * ms << n }},
		{"equal jitter", backoff.MustNew(backoff.Config{Initial: 50 * ms, Jitter: backoff.JitterEqual}), 6,
			func(n int, _ time.Duration) (time.Duration, time.Duration) { return 25 * ms << n, 50 * ms << n }},
		{"decorrelated", backoff.MustNew(backoff.Config{Initial: 50 * ms, Max: time.Second, Jitter: backoff.JitterDecorrelated}), 8,
			func(_ int, prev time.Duration) (time.Duration, time.Duration) {
				return 50 * ms, min(time.Second, 3*max(prev, 50*ms))
			}},
		{"no jitter", backoff.MustNew(backoff.Config{Initial: 10 * ms, Multiplier: 3, Jitter: backoff.JitterNone}), 5,
			func(n int, _ time.Duration) (time.Duration, time.Duration) {
				d := 10 * ms
				for range n {
					d *= 3
				}
				return d, d
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const seed = 42
				cfg := retry.Config{Backoff: tt.schedule, Rand: rand.New(rand.NewPCG(seed, seed)), DisableBudget: true}
				if tt.attempts != 3 {
					cfg.MaxAttempts = tt.attempts
				}
				p := retry.MustNew(cfg)
				var at []time.Time
				err := p.Do(t.Context(), func(context.Context) error {
					at = append(at, time.Now())
					return errFail
				})
				if len(at) != tt.attempts {
					t.Fatalf("ran %d attempts, want %d", len(at), tt.attempts)
				}
				if ee := exhausted(t, err); ee.Attempts != tt.attempts || ee.Reason != keel.ReasonNone {
					t.Errorf("got Attempts %d Reason %v, want %d none", ee.Attempts, ee.Reason, tt.attempts)
				}
				s := tt.schedule
				if s.IsZero() {
					s = backoff.Default()
				}
				r := rand.New(rand.NewPCG(seed, seed))
				var prev time.Duration
				for n := 0; n+1 < len(at); n++ {
					gap := at[n+1].Sub(at[n])
					want := s.Delay(n, prev, r)
					lo, hi := tt.bounds(n, prev)
					prev = want
					if gap != want {
						t.Errorf("gap before attempt %d: got %v, want %v", n+2, gap, want)
					}
					if gap < lo || gap > hi {
						t.Errorf("gap before attempt %d: got %v, want in [%v, %v]", n+2, gap, lo, hi)
					}
				}
			})
		})
	}
}

// TestBudgetLimitsRetriesUnderLoad sends 1,000 calls from 10 goroutines to a
// dependency that always fails. Without a budget that is 3,000 attempts;
// with the default budget the retries stay within 20% of the requests plus
// the floor of 10 per second over the 10 s window.
func TestBudgetLimitsRetriesUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.MustNew(retry.Config{Backoff: backoff.Constant(10 * time.Millisecond)})
		var attempts, byBudget atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				for range 100 {
					err := p.Do(t.Context(), func(context.Context) error {
						attempts.Add(1)
						return errFail
					})
					if errors.Is(err, keel.ErrRejected) {
						byBudget.Add(1)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if elapsed >= retry.DefaultBudgetTTL {
			t.Fatalf("load took %v, want it inside one %v window for this bound", elapsed, retry.DefaultBudgetTTL)
		}
		retries := attempts.Load() - 1000
		t.Logf("%d retries for 1000 calls in %v; %d calls refused by the budget", retries, elapsed, byBudget.Load())
		const bound = 0.2*1000 + 10*10
		if retries > bound {
			t.Errorf("retries = %d, want ≤ %d (20%% of 1000 requests + 10/s × 10s)", retries, int(bound))
		}
		if retries < bound*9/10 {
			t.Errorf("retries = %d, want ≥ %d: the budget refused retries it had", retries, int(bound*9/10))
		}
		if byBudget.Load() == 0 {
			t.Error("no call ended with a budget rejection")
		}
	})
}

// TestNoSleepPastDeadline checks that a call returns at the moment it knows
// the next attempt cannot start before the deadline, without sleeping, and
// that no attempt starts at or after the deadline.
func TestNoSleepPastDeadline(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name        string
		ctxTimeout  time.Duration
		maxDuration time.Duration
		delay       time.Duration
		opTime      time.Duration
		wantElapsed time.Duration
		wantTries   int
	}{
		{"ctx deadline, delay fits thrice", time.Second, 0, 300 * ms, 0, 900 * ms, 4},
		{"ctx deadline, delay too long", time.Second, 0, 2 * time.Second, 0, 0, 1},
		{"delay ends exactly at deadline", time.Second, 0, 500 * ms, 0, 500 * ms, 2},
		{"MaxDuration", 0, time.Second, 300 * ms, 0, 900 * ms, 4},
		{"MaxDuration with slow attempts", 0, time.Second, 300 * ms, 200 * ms, 700 * ms, 2},
		{"ctx deadline sooner than MaxDuration", 600 * ms, time.Second, 250 * ms, 0, 500 * ms, 3},
		{"MaxDuration sooner than ctx deadline", time.Hour, 600 * ms, 250 * ms, 0, 500 * ms, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := retry.MustNew(retry.Config{MaxAttempts: 100, MaxDuration: tt.maxDuration,
					Backoff: backoff.Constant(tt.delay), DisableBudget: true})
				ctx := t.Context()
				limit := tt.maxDuration
				if tt.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
					defer cancel()
					if limit == 0 || tt.ctxTimeout < limit {
						limit = tt.ctxTimeout
					}
				}
				start := time.Now()
				tries := 0
				err := p.Do(ctx, func(ctx context.Context) error {
					tries++
					if since := time.Since(start); since >= limit {
						t.Errorf("attempt %d started at %v, at or after the deadline %v", tries, since, limit)
					}
					time.Sleep(tt.opTime)
					return errFail
				})
				if got := time.Since(start); got != tt.wantElapsed {
					t.Errorf("returned after %v, want %v", got, tt.wantElapsed)
				}
				if tries != tt.wantTries {
					t.Errorf("ran %d attempts, want %d", tries, tt.wantTries)
				}
				if ee := exhausted(t, err); ee.Reason != keel.ReasonDeadline || ee.Attempts != tt.wantTries {
					t.Errorf("got Reason %v Attempts %d, want deadline %d", ee.Reason, ee.Attempts, tt.wantTries)
				}
			})
		})
	}
}

type hinted struct{ after time.Duration }

func (h hinted) Error() string             { return "busy, retry after " + h.after.String() }
func (h hinted) RetryAfter() time.Duration { return h.after }

func TestRetryAfter(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name          string
		cfg           retry.Config
		ctxTimeout    time.Duration
		hint          time.Duration
		wantGap       time.Duration // between the two attempts; -1: no second attempt
		wantReason    keel.Reason
		wantRetryHint time.Duration
	}{
		{"hint longer than backoff wins", retry.Config{Backoff: backoff.Constant(10 * ms)}, 0, 2 * time.Second, 2 * time.Second, 0, 0},
		{"backoff longer than hint wins", retry.Config{Backoff: backoff.Constant(500 * ms)}, 0, 10 * ms, 500 * ms, 0, 0},
		{"hint at the default cap is honored", retry.Config{Backoff: backoff.Constant(0)}, 0, 30 * time.Second, 30 * time.Second, 0, 0},
		{"hint above the default cap stops", retry.Config{}, 0, 30*time.Second + 1, -1, keel.ReasonRetryAfter, 30*time.Second + 1},
		{"hint above MaxRetryAfter stops", retry.Config{MaxRetryAfter: time.Second}, 0, 2 * time.Second, -1, keel.ReasonRetryAfter, 2 * time.Second},
		{"hint crossing the deadline stops", retry.Config{MaxRetryAfter: time.Minute}, 3 * time.Second, 5 * time.Second, -1, keel.ReasonDeadline, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := tt.cfg
				cfg.MaxAttempts, cfg.DisableBudget = 2, true
				p := retry.MustNew(cfg)
				ctx := t.Context()
				if tt.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
					defer cancel()
				}
				var at []time.Time
				start := time.Now()
				err := p.Do(ctx, func(context.Context) error {
					at = append(at, time.Now())
					if len(at) == 1 {
						return fmt.Errorf("call: %w", hinted{tt.hint})
					}
					return nil
				})
				if tt.wantGap < 0 {
					if len(at) != 1 {
						t.Fatalf("ran %d attempts, want 1", len(at))
					}
					if d := time.Since(start); d != 0 {
						t.Errorf("gave up after %v, want at once", d)
					}
					if ee := exhausted(t, err); ee.Reason != tt.wantReason {
						t.Errorf("Reason = %v, want %v", ee.Reason, tt.wantReason)
					}
					if h, ok := keel.RetryAfter(err); !ok || h != tt.wantRetryHint {
						t.Errorf("keel.RetryAfter(err) = %v, %v; want %v, true", h, ok, tt.wantRetryHint)
					}
					return
				}
				if err != nil || len(at) != 2 {
					t.Fatalf("got %v after %d attempts, want success after 2", err, len(at))
				}
				if gap := at[1].Sub(at[0]); gap != tt.wantGap {
					t.Errorf("gap = %v, want %v", gap, tt.wantGap)
				}
			})
		})
	}
}

// TestRetryAfterNeverUndercut: with full jitter, every gap is at least the
// hint, whatever the draw.
func TestRetryAfterNeverUndercut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.MustNew(retry.Config{MaxAttempts: 10, DisableBudget: true, Rand: rand.New(rand.NewPCG(5, 5))})
		var at []time.Time
		_ = p.Do(t.Context(), func(context.Context) error {
			at = append(at, time.Now())
			return keel.WithRetryAfter(errFail, 300*time.Millisecond)
		})
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < 300*time.Millisecond {
				t.Errorf("gap before attempt %d = %v, want ≥ 300ms (the hint)", i+1, gap)
			}
		}
		if len(at) != 10 {
			t.Errorf("ran %d attempts, want 10", len(at))
		}
	})
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.MustNew(retry.Config{AttemptTimeout: 100 * time.Millisecond,
			Backoff: backoff.Constant(50 * time.Millisecond), DisableBudget: true})
		start := time.Now()
		var ctxs []context.Context
		err := p.Do(t.Context(), func(ctx context.Context) error {
			ctxs = append(ctxs, ctx)
			if d, ok := ctx.Deadline(); !ok || time.Until(d) != 100*time.Millisecond {
				t.Errorf("attempt %d: deadline %v (ok %v), want 100ms from now", len(ctxs), time.Until(d), ok)
			}
			if len(ctxs) < 3 {
				<-ctx.Done() // a dependency that hangs until the attempt's deadline
				return ctx.Err()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Do = %v, want success on the third attempt", err)
		}
		if len(ctxs) != 3 {
			t.Fatalf("ran %d attempts, want 3", len(ctxs))
		}
		if got, want := time.Since(start), 300*time.Millisecond; got != want {
			t.Errorf("took %v, want %v (2 × (100ms timeout + 50ms delay))", got, want)
		}
		for i, c := range ctxs {
			if c.Err() == nil {
				t.Errorf("attempt %d's context still live after the call", i+1)
			}
		}
	})
}

// TestAttemptTimeoutDefersToCallerDeadline: when the caller's deadline is the
// sooner one, the attempt runs under the caller's context, and the caller
// running out is neutral: the error comes back unchanged, unretried.
func TestAttemptTimeoutDefersToCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.MustNew(retry.Config{AttemptTimeout: time.Second, DisableBudget: true})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		tries := 0
		err := p.Do(ctx, func(actx context.Context) error {
			tries++
			if actx != ctx {
				t.Error("attempt got a derived context although the caller's deadline is sooner")
			}
			<-actx.Done()
			return actx.Err()
		})
		if tries != 1 || err != context.DeadlineExceeded { //nolint:errorlint // the very error, unwrapped, is the point
			t.Errorf("got %v after %d attempts, want context.DeadlineExceeded unchanged after 1", err, tries)
		}
	})
}

func TestStopsWithoutRetrying(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	permanent := keel.Permanent(errFail)
	neutralByClassifier := errors.New("client went away")
	tests := []struct {
		name string
		ctx  context.Context
		cfg  retry.Config
		err  error
	}{
		{"caller canceled (neutral)", canceled, retry.Config{}, context.Canceled},
		{"classifier says neutral", context.Background(), retry.Config{Classifier: func(ctx context.Context, err error) keel.Outcome {
			if errors.Is(err, neutralByClassifier) {
				return keel.OutcomeNeutral
			}
			return keel.DefaultClassifier(ctx, err)
		}}, neutralByClassifier},
		{"permanent", context.Background(), retry.Config{}, permanent},
		{"classifier says permanent", context.Background(), retry.Config{Classifier: func(context.Context, error) keel.Outcome {
			return keel.OutcomePermanent
		}}, errFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Backoff = backoff.Constant(0)
			p := retry.MustNew(tt.cfg)
			tries := 0
			err := p.Do(tt.ctx, func(context.Context) error { tries++; return tt.err })
			if tries != 1 {
				t.Errorf("ran %d attempts, want 1", tries)
			}
			if err != tt.err { //nolint:errorlint // the very error, unwrapped, is the point
				t.Errorf("Do = %v (%T), want the attempt's error unchanged: %v (%T)", err, err, tt.err, tt.err)
			}
			if got := p.Budget().Available(time.Now()); got != 100 {
				t.Errorf("budget: %d retries available, want the untouched floor of 100", got)
			}
		})
	}
}

func TestPermanentAfterRetryIsWrapped(t *testing.T) {
	p := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0)})
	tries := 0
	err := p.Do(context.Background(), func(context.Context) error {
		tries++
		if tries == 2 {
			return keel.Permanent(&statusError{400})
		}
		return &statusError{503}
	})
	ee := exhausted(t, err)
	if tries != 2 || ee.Attempts != 2 || ee.Reason != keel.ReasonNone {
		t.Errorf("tries %d, Attempts %d, Reason %v; want 2, 2, none", tries, ee.Attempts, ee.Reason)
	}
	if !keel.IsPermanent(err) {
		t.Error("keel.IsPermanent(err) = false, want true: the last error was permanent")
	}
}

func TestContextEndsDuringSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.MustNew(retry.Config{Backoff: backoff.Constant(time.Second), DisableBudget: true})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(250 * time.Millisecond)
			cancel()
		}()
		start := time.Now()
		tries := 0
		err := p.Do(ctx, func(context.Context) error { tries++; return errFail })
		if got := time.Since(start); got != 250*time.Millisecond {
			t.Errorf("returned after %v, want 250ms (when the context ended)", got)
		}
		ee := exhausted(t, err)
		if tries != 1 || ee.Reason != keel.ReasonContext {
			t.Errorf("tries %d, Reason %v; want 1, context", tries, ee.Reason)
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errFail) {
			t.Errorf("err %v: want it to match both context.Canceled and the attempt's error", err)
		}
		if got := keel.DefaultClassifier(ctx, err); got != keel.OutcomeNeutral {
			t.Errorf("an outer policy classifies the result as %v, want neutral", got)
		}
	})
}

func TestExhaustedError(t *testing.T) {
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0), DisableBudget: true})
	codes := []int{500, 502, 503}
	tries := 0
	err := p.Do(context.Background(), func(context.Context) error {
		tries++
		return &statusError{codes[tries-1]}
	})
	ee := exhausted(t, err)
	var se *statusError
	if !errors.As(err, &se) || se.code != 503 {
		t.Errorf("errors.As found %v, want the last attempt's status 503", se)
	}
	if last, ok := ee.Last().(*statusError); !ok || last.code != 503 { //nolint:errorlint // Last must be the attempt's own error
		t.Errorf("Last() = %v, want status 503", ee.Last())
	}
	var got []string
	for _, e := range ee.Unwrap() {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff([]string{"status 503", "status 502", "status 500"}, got); diff != "" {
		t.Errorf("Unwrap order (-want +got):\n%s", diff)
	}
	if want := "retry: exhausted after 3 attempts: status 503"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if errors.Is(err, keel.ErrRejected) {
		t.Error("an exhausted (not budget-refused) call matches keel.ErrRejected")
	}
	if (&retry.ExhaustedError{}).Last() != nil {
		t.Error("Last() of an empty ExhaustedError is not nil")
	}
	e := &retry.ExhaustedError{Attempts: 1, Errs: []error{errFail}, Reason: keel.ReasonBudget}
	if want := "retry: exhausted after 1 attempt (budget): dependency failed"; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, keel.ErrRejected) {
		t.Error("a budget-refused ExhaustedError does not match keel.ErrRejected")
	}
}

func TestGetReturnsLastValue(t *testing.T) {
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0), DisableBudget: true})
	n := 0
	v, err := keel.Get(context.Background(), p, func(context.Context) (string, error) {
		n++
		return fmt.Sprintf("response %d", n), errFail
	})
	if v != "response 3" || !errors.Is(err, retry.ErrExhausted) {
		t.Errorf("Get = %q, %v; want \"response 3\" and an exhausted error", v, err)
	}
}

func TestWrapRetriesInnerPolicies(t *testing.T) {
	var inner atomic.Int64
	counter := keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			inner.Add(1)
			return next(ctx, op)
		}
	})
	p := retry.MustNew(retry.Config{MaxAttempts: 4, Backoff: backoff.Constant(0), DisableBudget: true})
	err := keel.Chain(p, counter).Do(context.Background(), func(context.Context) error { return errFail })
	if got := inner.Load(); got != 4 {
		t.Errorf("inner policy ran %d times, want 4 (once per attempt)", got)
	}
	_ = exhausted(t, err)
}

func TestEvents(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		budget *retry.Budget
		fails  int
		want   []ev
	}{
		{"success", nil, 0, []ev{{Kind: keel.EventAttempt, Attempt: 1, Duration: 5 * ms}}},
		{"retried then success", nil, 1, []ev{
			{Kind: keel.EventAttempt, Attempt: 1, Duration: 5 * ms, Outcome: keel.OutcomeFailure, Err: "dependency failed"},
			{Kind: keel.EventRetry, Attempt: 2, Delay: 10 * ms, Err: "dependency failed"},
			{Kind: keel.EventAttempt, Attempt: 2, Duration: 5 * ms},
		}},
		{"exhausted", nil, 3, []ev{
			{Kind: keel.EventAttempt, Attempt: 1, Duration: 5 * ms, Outcome: keel.OutcomeFailure, Err: "dependency failed"},
			{Kind: keel.EventRetry, Attempt: 2, Delay: 10 * ms, Err: "dependency failed"},
			{Kind: keel.EventAttempt, Attempt: 2, Duration: 5 * ms, Outcome: keel.OutcomeFailure, Err: "dependency failed"},
			{Kind: keel.EventRetry, Attempt: 3, Delay: 10 * ms, Err: "dependency failed"},
			{Kind: keel.EventAttempt, Attempt: 3, Duration: 5 * ms, Outcome: keel.OutcomeFailure, Err: "dependency failed"},
			{Kind: keel.EventExhausted, Attempt: 3, Err: "retry: exhausted after 3 attempts: dependency failed"},
		}},
		{"budget refuses", retry.MustNewBudget(retry.BudgetConfig{Ratio: -1, MinPerSecond: -1}), 3, []ev{
			{Kind: keel.EventAttempt, Attempt: 1, Duration: 5 * ms, Outcome: keel.OutcomeFailure, Err: "dependency failed"},
			{Kind: keel.EventRejected, Attempt: 2, Reason: keel.ReasonBudget, Err: "dependency failed"},
			{Kind: keel.EventExhausted, Attempt: 1, Reason: keel.ReasonBudget, Err: "retry: exhausted after 1 attempt (budget): dependency failed"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{}
				p := retry.MustNew(retry.Config{Name: "db", Backoff: backoff.Constant(10 * ms),
					Budget: tt.budget, DisableBudget: tt.budget == nil, Observer: rec})
				tries := 0
				_ = p.Do(t.Context(), func(context.Context) error {
					tries++
					time.Sleep(5 * ms)
					if tries <= tt.fails {
						return errFail
					}
					return nil
				})
				if diff := cmp.Diff(tt.want, rec.simple()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				for _, e := range rec.events {
					if e.Policy != "retry" || e.Name != "db" || e.Time.IsZero() {
						t.Errorf("event %v: Policy %q Name %q Time %v; want retry, db, set", e.Kind, e.Policy, e.Name, e.Time)
					}
				}
			})
		})
	}
}

func TestPanicPropagatesAndBudgetStaysExact(t *testing.T) {
	budget := retry.MustNewBudget(retry.BudgetConfig{Ratio: 1, MinPerSecond: -1})
	p := retry.MustNew(retry.Config{Budget: budget, AttemptTimeout: time.Minute, Backoff: backoff.Constant(0)})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the op's panic \"boom\"", r)
			}
		}()
		_ = p.Do(context.Background(), func(context.Context) error { panic("boom") })
		t.Error("Do returned after a panic")
	}()
	if got := budget.Available(time.Now()); got != 1 {
		t.Errorf("after one panicking call: %d retries available, want 1 (one deposit, no withdrawal)", got)
	}
}

func TestSuccessAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	p := retry.MustNew(retry.Config{})
	chain := keel.Chain(p)
	tests := []struct {
		name string
		f    func()
	}{
		{"Do", func() { _ = p.Do(ctx, op) }},
		{"Chain", func() { _ = chain.Do(ctx, op) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocs per successful call, want 0", tt.name, n)
		}
	}
}
