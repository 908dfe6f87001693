package fallback_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/fallback"
	"github.com/keelhq/keel/keeltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errDown     = errors.New("down")
	errNotFound = errors.New("not found")
	errDegraded = errors.New("degraded")
)

func recoverAll(context.Context, error) error { return nil }

func TestValidate(t *testing.T) {
	if err := (fallback.Config{}).Validate(); err == nil || err.Error() != "fallback: Config.Func is required" {
		t.Errorf("Config{}.Validate() = %v, want Func is required", err)
	}
	if _, err := fallback.New(fallback.Config{}); err == nil {
		t.Error("New(Config{}) succeeded, want error")
	}
	if err := (fallback.TypedConfig[int]{}).Validate(); err == nil || err.Error() != "fallback: TypedConfig.Func is required" {
		t.Errorf("TypedConfig{}.Validate() = %v, want Func is required", err)
	}
	if _, err := fallback.NewTyped(fallback.TypedConfig[int]{}); err == nil {
		t.Error("NewTyped(TypedConfig{}) succeeded, want error")
	}
	for name, f := range map[string]func(){
		"MustNew":      func() { fallback.MustNew(fallback.Config{}) },
		"MustNewTyped": func() { fallback.MustNewTyped(fallback.TypedConfig[string]{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with no Func did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestPolicyReplaces(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	onlyNotFound := func(err error) bool { return errors.Is(err, errNotFound) }
	tests := []struct {
		name     string
		ctx      context.Context
		opErr    error
		handle   func(error) bool
		fn       func(context.Context, error) error
		wantErr  error
		wantCall bool // whether Func runs
	}{
		{"success untouched", context.Background(), nil, nil, recoverAll, nil, false},
		{"failure recovered", context.Background(), errDown, nil, recoverAll, nil, true},
		{"permanent recovered", context.Background(), keel.Permanent(errDown), nil, recoverAll, nil, true},
		{"replaced by another error", context.Background(), errDown, nil,
			func(context.Context, error) error { return errDegraded }, errDegraded, true},
		{"caller canceled: passed through", canceled, context.Canceled, nil, recoverAll, context.Canceled, false},
		{"context error without caller cancellation: recovered", context.Background(), context.DeadlineExceeded, nil, recoverAll, nil, true},
		{"predicate accepts", context.Background(), fmt.Errorf("get: %w", errNotFound), onlyNotFound, recoverAll, nil, true},
		{"predicate refuses", context.Background(), errDown, onlyNotFound, recoverAll, errDown, false},
		{"predicate may take cancellation", canceled, context.Canceled, func(error) bool { return true }, recoverAll, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotErr error
			called := false
			p := fallback.MustNew(fallback.Config{
				Handle: tt.handle,
				Func: func(ctx context.Context, err error) error {
					called, gotErr = true, err
					if ctx != tt.ctx {
						t.Error("Func got a different context than the caller's")
					}
					return tt.fn(ctx, err)
				},
			})
			err := p.Do(tt.ctx, func(context.Context) error { return tt.opErr })
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Do = %v, want %v", err, tt.wantErr)
			}
			if called != tt.wantCall {
				t.Errorf("Func called = %v, want %v", called, tt.wantCall)
			}
			if called && !errors.Is(gotErr, tt.opErr) {
				t.Errorf("Func got err %v, want the op's %v", gotErr, tt.opErr)
			}
		})
	}
}

func TestPolicyOutermostInChain(t *testing.T) {
	// A retry-like inner policy: up to three attempts.
	attempts := keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			var err error
			for range 3 {
				if err = next(ctx, op); err == nil {
					return nil
				}
			}
			return fmt.Errorf("gave up: %w", err)
		}
	})
	var rec keeltest.Recorder
	var seen []error
	fb := fallback.MustNew(fallback.Config{
		Name:     "cached",
		Observer: &rec,
		Func: func(_ context.Context, err error) error {
			seen = append(seen, err)
			return nil
		},
	})
	p := keel.Chain(fb, attempts)

	s := keeltest.FailN(5, errDown)
	if err := p.Do(t.Context(), s.Op); err != nil {
		t.Errorf("Do = %v, want nil (recovered)", err)
	}
	if s.Calls() != 3 || len(seen) != 1 || !errors.Is(seen[0], errDown) || seen[0].Error() != "gave up: down" {
		t.Errorf("calls = %d, Func saw %v; want 3 calls and one final error %q", s.Calls(), seen, "gave up: down")
	}
	// The next call: attempts 4 and 5 fail, the 6th succeeds; no fallback.
	if err := p.Do(t.Context(), s.Op); err != nil || len(seen) != 1 {
		t.Errorf("second Do = %v with %d fallbacks, want nil and still 1", err, len(seen))
	}
	want := []keel.Event{{Kind: keel.EventFallback, Policy: "fallback", Name: "cached", Err: seen[0], Outcome: keel.OutcomeFailure}}
	if diff := cmp.Diff(want, rec.Events(), cmpopts.IgnoreFields(keel.Event{}, "Time"), cmpopts.EquateErrors()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestPolicyEvents(t *testing.T) {
	var rec keeltest.Recorder
	p := fallback.MustNew(fallback.Config{Func: recoverAll, Observer: &rec,
		Handle: func(err error) bool { return !errors.Is(err, errNotFound) }})
	ctx := t.Context()
	_ = p.Do(ctx, keeltest.NewScript().Op)                                       // success: no event
	_ = p.Do(ctx, keeltest.NewScript(keeltest.Fail(errNotFound)).Op)             // not handled: no event
	_ = p.Do(ctx, keeltest.NewScript(keeltest.Fail(keel.Permanent(errDown))).Op) // handled
	ev := rec.Events()
	if len(ev) != 1 || ev[0].Kind != keel.EventFallback || !errors.Is(ev[0].Err, errDown) ||
		ev[0].Outcome != keel.OutcomePermanent || ev[0].Time.IsZero() {
		t.Errorf("events = %+v, want one fallback event for a permanent errDown", ev)
	}
}

func TestPolicyPanicPassesThrough(t *testing.T) {
	called := false
	p := fallback.MustNew(fallback.Config{Func: func(context.Context, error) error { called = true; return nil }})
	defer func() {
		if got := recover(); got != "boom" {
			t.Errorf("recovered %v, want boom", got)
		}
		if called {
			t.Error("Func ran for a panic")
		}
	}()
	_ = p.Do(t.Context(), keeltest.NewScript(keeltest.Panic("boom")).Op)
	t.Error("Do returned, want a panic")
}

func TestPolicyZeroAllocs(t *testing.T) {
	ctx := context.Background()
	p := fallback.MustNew(fallback.Config{Func: recoverAll})
	// The default predicate classifies with keel.DefaultClassifier, whose
	// errors.As allocates on the failure path; a Handle of one's own does not.
	pAll := fallback.MustNew(fallback.Config{Func: recoverAll, Handle: func(error) bool { return true }})
	chain := keel.Chain(p)
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return errDown }
	for name, f := range map[string]func(){
		"Do success":       func() { _ = p.Do(ctx, ok) },
		"Chain.Do success": func() { _ = chain.Do(ctx, ok) },
		"Do recovered":     func() { _ = pAll.Do(ctx, fail) },
	} {
		if got := testing.AllocsPerRun(100, f); got != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, got)
		}
	}
}
