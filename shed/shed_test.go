package shed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Capacity: 10, SheddableShare: 0.3, DefaultShare: 0.3, RetryAfter: time.Second}, ""},
		{Config{Capacity: -1}, "shed: Config.Capacity must be >= 0 (0 means 100), got -1"},
		{Config{SheddableShare: 1.5}, "shed: Config.SheddableShare must be in (0, 1] (0 means 0.5), got 1.5"},
		{Config{DefaultShare: -0.1}, "shed: Config.DefaultShare must be in (0, 1] (0 means 0.8), got -0.1"},
		{Config{SheddableShare: 0.9}, "shed: Config.SheddableShare (0.9) must not exceed Config.DefaultShare (0.8)"},
		{Config{RetryAfter: -1}, "shed: Config.RetryAfter must be >= 0 (0 means 1s), got -1ns"},
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

func TestParseCriticality(t *testing.T) {
	tests := []struct {
		in      string
		want    Criticality
		wantErr bool
	}{
		{"critical", Critical, false},
		{" CRITICAL_PLUS ", Critical, false},
		{"Default", Default, false},
		{"sheddable", Sheddable, false},
		{"sheddable_plus", Sheddable, false},
		{"", Default, true},
		{"urgent", Default, true},
	}
	for _, tt := range tests {
		got, err := ParseCriticality(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseCriticality(%q): got %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrCriticality) {
			t.Errorf("ParseCriticality(%q): error %v does not match ErrCriticality", tt.in, err)
		}
	}
}

func TestCriticalityContext(t *testing.T) {
	ctx := context.Background()
	if got := CriticalityFrom(ctx); got != Default {
		t.Errorf("empty context: got %v, want default", got)
	}
	for _, c := range []Criticality{Sheddable, Default, Critical} {
		if got := CriticalityFrom(WithCriticality(ctx, c)); got != c {
			t.Errorf("got %v, want %v", got, c)
		}
	}
	if got := CriticalityFrom(WithCriticality(ctx, 7)); got != Default {
		t.Errorf("invalid class: got %v, want default", got)
	}
	if !(Sheddable < Default && Default < Critical) {
		t.Error("classes are not ordered")
	}
}

// TestShedOrder fills a shedder of capacity 10 one request at a time and
// records which classes each fill level admits.
func TestShedOrder(t *testing.T) {
	s := MustNew(Config{Capacity: 10}) // sheddable < 5, default < 8, critical < 10
	ctx := context.Background()
	var tickets []Ticket
	got := map[Criticality]int{} // highest in-flight count at which the class was still admitted
	for n := 0; n < 12; n++ {
		for _, c := range []Criticality{Sheddable, Default, Critical} {
			t0, err := s.AdmitClass(ctx, c)
			if err == nil {
				got[c] = n + 1
				t0.Done()
			}
		}
		if tk, err := s.AdmitClass(ctx, Critical); err == nil {
			tickets = append(tickets, tk)
		}
	}
	want := map[Criticality]int{Sheddable: 5, Default: 8, Critical: 10}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("in flight after the last admission by class (-want +got):\n%s", d)
	}
	if got, want := s.InFlight(), 10; got != want {
		t.Errorf("in flight: got %d, want %d", got, want)
	}
	// 12 probes per class: sheddable shed at levels 5..11, default at 8..11,
	// critical at 10 and 11 (twice each: the probe and the held ticket).
	gotShed := map[Criticality]uint64{Sheddable: s.Shed(Sheddable), Default: s.Shed(Default), Critical: s.Shed(Critical)}
	wantShed := map[Criticality]uint64{Sheddable: 7, Default: 4, Critical: 4}
	if d := cmp.Diff(wantShed, gotShed); d != "" {
		t.Errorf("Shed by class (-want +got):\n%s", d)
	}
	gotAdm := map[Criticality]uint64{Sheddable: s.Admitted(Sheddable), Default: s.Admitted(Default), Critical: s.Admitted(Critical)}
	wantAdm := map[Criticality]uint64{Sheddable: 5, Default: 8, Critical: 20}
	if d := cmp.Diff(wantAdm, gotAdm); d != "" {
		t.Errorf("Admitted by class (-want +got):\n%s", d)
	}
	for _, tk := range tickets {
		tk.Done()
	}
	if got := s.InFlight(); got != 0 {
		t.Errorf("in flight after Done: got %d, want 0", got)
	}
}

func TestRejectionError(t *testing.T) {
	var events []keel.Event
	obs := keel.ObserverFunc(func(_ context.Context, e keel.Event) { events = append(events, e) })
	s := MustNew(Config{Name: "api", Capacity: 2, RetryAfter: 3 * time.Second, Observer: obs})
	ctx := WithCriticality(context.Background(), Sheddable)
	tk, err := s.Admit(ctx)
	if err != nil {
		t.Fatalf("first sheddable: %v", err)
	}
	_, err = s.Admit(ctx)
	if !errors.Is(err, ErrShed) || !errors.Is(err, keel.ErrRejected) {
		t.Fatalf("got %v, want an error matching ErrShed and keel.ErrRejected", err)
	}
	if d, ok := keel.RetryAfter(err); !ok || d != 3*time.Second {
		t.Errorf("RetryAfter: got %v, %v; want 3s, true", d, ok)
	}
	var se *RejectedError
	if !errors.As(err, &se) {
		t.Fatalf("got %T, want *RejectedError", err)
	}
	want := RejectedError{Name: "api", Criticality: Sheddable, InFlight: 1, Limit: 1, After: 3 * time.Second}
	if d := cmp.Diff(want, *se); d != "" {
		t.Errorf("RejectedError (-want +got):\n%s", d)
	}
	if got, want := err.Error(), `shed "api": request shed: sheddable requests admitted below 1 in flight, 1 in flight`; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if len(events) != 1 || events[0].Kind != keel.EventRejected || events[0].Reason != keel.ReasonLimit ||
		events[0].Policy != "shed" || events[0].Name != "api" || !errors.Is(events[0].Err, err) || events[0].InFlight != 1 {
		t.Errorf("events: got %+v, want one EventRejected with ReasonLimit carrying the error", events)
	}
	tk.Done()
}

func TestDoReleasesOnPanic(t *testing.T) {
	s := MustNew(Config{Capacity: 1})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
		}()
		_ = s.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if got := s.InFlight(); got != 0 {
		t.Errorf("in flight after panic: got %d, want 0", got)
	}
	errOp := errors.New("op")
	if err := keel.Chain(s).Do(context.Background(), func(context.Context) error { return errOp }); !errors.Is(err, errOp) {
		t.Errorf("got %v, want the op's error", err)
	}
	if got := s.InFlight(); got != 0 {
		t.Errorf("in flight after error: got %d, want 0", got)
	}
}

// stillRunning is an error whose operation exits when exit is called.
type stillRunning struct{ after []func() }

func (e *stillRunning) Error() string      { return "still running" }
func (e *stillRunning) AfterExit(f func()) { e.after = append(e.after, f) }
func (e *stillRunning) exit() {
	for _, f := range e.after {
		f()
	}
}

func TestDoKeepsPlaceForAbandonedWork(t *testing.T) {
	s := MustNew(Config{Capacity: 1})
	sr := &stillRunning{}
	if err := s.Do(context.Background(), func(context.Context) error { return sr }); !errors.Is(err, sr) {
		t.Fatalf("got %v, want the StillRunning error", err)
	}
	if got := s.InFlight(); got != 1 {
		t.Errorf("in flight while the work runs: got %d, want 1", got)
	}
	sr.exit()
	if got := s.InFlight(); got != 0 {
		t.Errorf("in flight after it exits: got %d, want 0", got)
	}
}

func TestZeroAllocs(t *testing.T) {
	s := MustNew(Config{})
	ctx := WithCriticality(context.Background(), Critical)
	op := func(context.Context) error { return nil }
	p := keel.Chain(s)
	for name, f := range map[string]func(){
		"Admit/Done": func() {
			tk, err := s.Admit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tk.Done()
		},
		"Do":       func() { _ = s.Do(ctx, op) },
		"Pipeline": func() { _ = p.Do(ctx, op) },
		"Parse":    func() { _, _ = ParseCriticality("Critical") },
	} {
		if got := testing.AllocsPerRun(1000, f); got != 0 {
			t.Errorf("%s: got %v allocs per run, want 0", name, got)
		}
	}
}
