package keel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
)

// tag is a policy that records its name on the way in and out.
func tag(name string, log *[]string) keel.Policy {
	return keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			*log = append(*log, name+">")
			err := next(ctx, op)
			*log = append(*log, "<"+name)
			return err
		}
	})
}

func TestChainOrderOutermostFirst(t *testing.T) {
	var log []string
	p := keel.Chain(tag("a", &log), nil, tag("b", &log), tag("c", &log))
	err := p.Do(context.Background(), func(context.Context) error {
		log = append(log, "op")
		return nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	want := []string{"a>", "b>", "c>", "op", "<c", "<b", "<a"}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("call order (-want +got):\n%s", diff)
	}
}

func TestNestedPipelineIsFlattened(t *testing.T) {
	var log []string
	inner := keel.Chain(tag("b", &log), tag("c", &log))
	p := keel.Chain(tag("a", &log), inner, tag("d", &log))
	_ = p.Do(context.Background(), func(context.Context) error { log = append(log, "op"); return nil })
	want := []string{"a>", "b>", "c>", "d>", "op", "<d", "<c", "<b", "<a"}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("call order (-want +got):\n%s", diff)
	}
}

func TestZeroAndNilPipelineRunOp(t *testing.T) {
	sentinel := errors.New("boom")
	op := func(context.Context) error { return sentinel }
	var zero keel.Pipeline
	var nilp *keel.Pipeline
	for name, p := range map[string]*keel.Pipeline{"zero": &zero, "nil": nilp, "empty": keel.Chain()} {
		if err := p.Do(context.Background(), op); !errors.Is(err, sentinel) {
			t.Errorf("%s pipeline: got %v, want %v", name, err, sentinel)
		}
	}
}

// retryTwice is a minimal retrying policy used to show that Get keeps the last
// attempt's value.
var retryTwice = keel.PolicyFunc(func(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		if err := next(ctx, op); err == nil {
			return nil
		}
		return next(ctx, op)
	}
})

func TestGetReturnsLastAttemptValue(t *testing.T) {
	p := keel.Chain(retryTwice)
	n := 0
	v, err := keel.Get(context.Background(), p, func(context.Context) (string, error) {
		n++
		return fmt.Sprintf("attempt %d", n), errors.New("unavailable")
	})
	if err == nil || v != "attempt 2" {
		t.Errorf("Get = %q, %v; want %q and an error", v, err, "attempt 2")
	}
}

func TestDefaultClassifier(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(live)
	cancel()
	expired, cancel2 := context.WithDeadline(live, time.Unix(0, 0))
	defer cancel2()
	fail := errors.New("connection refused")

	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want keel.Outcome
	}{
		{"nil error", live, nil, keel.OutcomeSuccess},
		{"plain error", live, fail, keel.OutcomeFailure},
		{"permanent", live, keel.Permanent(fail), keel.OutcomePermanent},
		{"wrapped permanent", live, fmt.Errorf("call: %w", keel.Permanent(fail)), keel.OutcomePermanent},
		{"caller canceled", canceled, context.Canceled, keel.OutcomeNeutral},
		{"caller deadline", expired, fmt.Errorf("get: %w", context.DeadlineExceeded), keel.OutcomeNeutral},
		// A deadline error while the caller's context is live came from a
		// timeout inside the chain: the dependency was too slow.
		{"inner deadline", live, context.DeadlineExceeded, keel.OutcomeFailure},
		{"other error after cancel", canceled, fail, keel.OutcomeFailure},
	}
	for _, tt := range tests {
		if got := keel.DefaultClassifier(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
		if got := keel.Classifier(nil).Classify(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s via nil Classifier: got %v, want %v", tt.name, got, tt.want)
		}
	}
	always := keel.Classifier(func(context.Context, error) keel.Outcome { return keel.OutcomeNeutral })
	if got := always.Classify(live, fail); got != keel.OutcomeNeutral {
		t.Errorf("custom classifier: got %v, want neutral", got)
	}
}

func TestPermanentKeepsChain(t *testing.T) {
	if keel.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	base := errors.New("bad request")
	err := keel.Permanent(base)
	if !errors.Is(err, base) || err.Error() != "bad request" {
		t.Errorf("Permanent(base) = %q; Is(base) = %v", err, errors.Is(err, base))
	}
	if keel.IsPermanent(base) {
		t.Error("IsPermanent(unmarked) = true")
	}
}

func TestRetryAfter(t *testing.T) {
	base := errors.New("503")
	if _, ok := keel.RetryAfter(base); ok {
		t.Error("RetryAfter found a hint on a plain error")
	}
	err := fmt.Errorf("upstream: %w", keel.WithRetryAfter(base, 3*time.Second))
	d, ok := keel.RetryAfter(err)
	if !ok || d != 3*time.Second {
		t.Errorf("RetryAfter = %v, %v; want 3s, true", d, ok)
	}
	if !errors.Is(err, base) {
		t.Error("WithRetryAfter hides the wrapped error")
	}
	if keel.WithRetryAfter(nil, time.Second) != nil {
		t.Error("WithRetryAfter(nil) != nil")
	}
}

type running struct {
	fns []func()
}

func (r *running) Error() string      { return "still running" }
func (r *running) AfterExit(f func()) { r.fns = append(r.fns, f) }

func TestAfterExit(t *testing.T) {
	released := 0
	release := func() { released++ }
	if keel.AfterExit(nil, release) || keel.AfterExit(errors.New("x"), release) {
		t.Error("AfterExit took an ordinary error")
	}
	r := &running{}
	if !keel.AfterExit(fmt.Errorf("wrapped: %w", r), release) {
		t.Fatal("AfterExit missed a StillRunning error")
	}
	if released != 0 || len(r.fns) != 1 {
		t.Fatalf("released=%d registered=%d; want 0 and 1", released, len(r.fns))
	}
	r.fns[0]()
	if released != 1 {
		t.Errorf("released = %d after exit, want 1", released)
	}
}

// TestAfterExitWaitsForEveryRunning: an error joining several still-running
// operations (a retry's attempts abandoned one after another) releases once,
// after the last of them exits, whatever order they exit in.
func TestAfterExitWaitsForEveryRunning(t *testing.T) {
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}} {
		released := 0
		rs := []*running{{}, {}, {}}
		err := fmt.Errorf("exhausted: %w", errors.Join(rs[2], errors.New("plain"), fmt.Errorf("attempt: %w", rs[1]), rs[0]))
		if !keel.AfterExit(err, func() { released++ }) {
			t.Fatalf("order %v: AfterExit missed the StillRunning errors", order)
		}
		for i, r := range rs {
			if len(r.fns) != 1 {
				t.Fatalf("order %v: operation %d got %d AfterExit registrations, want 1", order, i, len(r.fns))
			}
		}
		for n, i := range order {
			if released != 0 {
				t.Fatalf("order %v: released before operation %d exited (%d of 3 exited)", order, i, n)
			}
			rs[i].fns[0]()
		}
		if released != 1 {
			t.Errorf("order %v: released %d times after every operation exited, want 1", order, released)
		}
	}
}

func TestObservers(t *testing.T) {
	if keel.Observers() != nil || keel.Observers(nil, nil) != nil {
		t.Error("Observers of nothing is not nil")
	}
	var got []string
	obs := func(name string) keel.Observer {
		return keel.ObserverFunc(func(_ context.Context, e keel.Event) { got = append(got, name+":"+e.Kind.String()) })
	}
	keel.Observers(obs("a"), nil, obs("b")).Observe(context.Background(), keel.Event{Kind: keel.EventRetry})
	if diff := cmp.Diff([]string{"a:retry", "b:retry"}, got); diff != "" {
		t.Errorf("fan-out (-want +got):\n%s", diff)
	}
}

func TestNamesAreSnakeCase(t *testing.T) {
	for k := keel.EventSuccess; k <= keel.EventFallback; k++ {
		if s := k.String(); s == "unknown" || strings.ToLower(s) != s || strings.Contains(s, " ") {
			t.Errorf("EventKind(%d).String() = %q", k, s)
		}
	}
	for r := keel.ReasonNone; r <= keel.ReasonLimit; r++ {
		if s := r.String(); s == "unknown" || strings.ToLower(s) != s {
			t.Errorf("Reason(%d).String() = %q", r, s)
		}
	}
	if keel.EventKind(200).String() != "unknown" || keel.Reason(200).String() != "unknown" || keel.Outcome(9).String() != "unknown" {
		t.Error("out-of-range values must print unknown")
	}
}

func TestChainDoesNotAllocate(t *testing.T) {
	pass := keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error { return next(ctx, op) }
	})
	p := keel.Chain(pass, pass, pass)
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { _ = p.Do(ctx, op) }); n != 0 {
		t.Errorf("Chain.Do allocates %v times per call, want 0", n)
	}
}

func BenchmarkChainDo(b *testing.B) {
	pass := keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error { return next(ctx, op) }
	})
	p := keel.Chain(pass, pass, pass, pass)
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Do(ctx, op)
	}
}

func TestClassifyFailureDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	err := errors.New("unavailable")
	if n := testing.AllocsPerRun(1000, func() { _ = keel.DefaultClassifier(ctx, err) }); n != 0 {
		t.Errorf("DefaultClassifier allocates %v times on a failure, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = keel.RetryAfter(err) }); n != 0 {
		t.Errorf("RetryAfter allocates %v times, want 0", n)
	}
}

// abandon is a policy that returns at once while op goes on running, as a
// return-on-time timeout does.
func abandon(started, finish chan struct{}, finished chan struct{}) keel.Policy {
	return keel.PolicyFunc(func(next keel.Handler) keel.Handler {
		return func(ctx context.Context, op func(context.Context) error) error {
			go func() {
				defer close(finished)
				_ = next(ctx, op)
			}()
			<-started
			return errors.New("gave up")
		}
	})
}

func TestGetIgnoresAbandonedAttempt(t *testing.T) {
	started, finish, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p := keel.Chain(abandon(started, finish, finished))
	v, err := keel.Get(context.Background(), p, func(context.Context) (int, error) {
		close(started)
		<-finish
		return 7, nil
	})
	close(finish)
	<-finished
	if v != 0 || err == nil {
		t.Errorf("Get = %d, %v; want 0 and the policy's error", v, err)
	}
}
