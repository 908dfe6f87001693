package fallback_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/fallback"
	"github.com/keelhq/keel/keeltest"
)

func TestTyped(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	fromErr := func(_ context.Context, err error) (string, error) {
		if errors.Is(err, errNotFound) {
			return "", err
		}
		return "computed from " + err.Error(), nil
	}
	tests := []struct {
		name    string
		ctx     context.Context
		x       keel.Executor
		fn      func(context.Context, error) (string, error)
		handle  func(error) bool
		v       string
		opErr   error
		want    string
		wantErr error
	}{
		{"success keeps value", context.Background(), keel.Chain(), fallback.Value("stale"), nil, "fresh", nil, "fresh", nil},
		{"value form", context.Background(), keel.Chain(), fallback.Value("stale"), nil, "partial", errDown, "stale", nil},
		{"func form", context.Background(), keel.Chain(), fromErr, nil, "", errDown, "computed from down", nil},
		{"func may fail", context.Background(), keel.Chain(), fromErr, nil, "", errNotFound, "", errNotFound},
		{"nil executor", context.Background(), nil, fallback.Value("stale"), nil, "", errDown, "stale", nil},
		{"caller canceled keeps value and error", canceled, keel.Chain(), fallback.Value("stale"), nil, "partial", context.Canceled, "partial", context.Canceled},
		{"predicate refuses keeps value and error", context.Background(), keel.Chain(), fallback.Value("stale"),
			func(err error) bool { return errors.Is(err, errNotFound) }, "partial", errDown, "partial", errDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fallback.MustNewTyped(fallback.TypedConfig[string]{Func: tt.fn, Handle: tt.handle})
			got, err := f.Get(tt.ctx, tt.x, func(context.Context) (string, error) { return tt.v, tt.opErr })
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Get = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTypedOutermostWithChain(t *testing.T) {
	var rec keeltest.Recorder
	f := fallback.MustNewTyped(fallback.TypedConfig[int]{Func: fallback.Value(-1), Name: "price", Observer: &rec})
	inner := fallback.MustNew(fallback.Config{ // an inner policy that turns errDown into errDegraded
		Func:   func(context.Context, error) error { return errDegraded },
		Handle: func(err error) bool { return errors.Is(err, errDown) },
	})
	p := keel.Chain(inner)
	calls := 0
	got, err := f.Get(t.Context(), p, func(context.Context) (int, error) { calls++; return 0, errDown })
	if got != -1 || err != nil || calls != 1 {
		t.Errorf("Get = %d, %v after %d calls; want -1, nil after 1", got, err, calls)
	}
	ev := rec.Events()
	if len(ev) != 1 || ev[0].Name != "price" || !errors.Is(ev[0].Err, errDegraded) {
		t.Errorf("events = %+v, want one fallback of errDegraded named price", ev)
	}
}

func TestTypedPanicPassesThrough(t *testing.T) {
	f := fallback.MustNewTyped(fallback.TypedConfig[int]{Func: fallback.Value(7)})
	defer func() {
		if got := recover(); got != "boom" {
			t.Errorf("recovered %v, want boom", got)
		}
	}()
	_, _ = f.Get(t.Context(), keel.Chain(), func(context.Context) (int, error) { panic("boom") })
	t.Error("Get returned, want a panic")
}

func TestTypedAllocs(t *testing.T) {
	ctx := context.Background()
	f := fallback.MustNewTyped(fallback.TypedConfig[int]{Func: fallback.Value(7)})
	op := func(context.Context) (int, error) { return 1, nil }
	if got := testing.AllocsPerRun(100, func() { _, _ = f.Get(ctx, nil, op) }); got != 0 {
		t.Errorf("Get with nil executor: %v allocs per run, want 0", got)
	}
	// Through an executor, keel.Get's closure escapes to the interface call;
	// those allocations belong to keel.Get. Typed must add none.
	p := keel.Chain()
	base := testing.AllocsPerRun(100, func() { _, _ = keel.Get(ctx, p, op) })
	if got := testing.AllocsPerRun(100, func() { _, _ = f.Get(ctx, p, op) }); got > base {
		t.Errorf("Get through a pipeline: %v allocs per run, want at most keel.Get's %v", got, base)
	}
}
