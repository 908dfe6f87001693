package flags_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/flags"
	"github.com/keelhq/keel/keeltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func seeded(seed uint64) func() float64 {
	return rand.New(rand.NewPCG(seed, seed)).Float64
}

func TestValidate(t *testing.T) {
	tests := []struct {
		flags []flags.Flag
		want  string
	}{
		{nil, ""},
		{[]flags.Flag{{Name: "a.b_c-9", Percent: 1}, {Name: "x", Percent: 0.5}}, ""},
		{[]flags.Flag{{Name: ""}}, "flags: Name is empty"},
		{[]flags.Flag{{Name: "Checkout"}}, `flags: Name "Checkout" has 'C' at byte 0, want only a-z, 0-9, '_', '.', '-'`},
		{[]flags.Flag{{Name: "a b"}}, `flags: Name "a b" has ' ' at byte 1, want only a-z, 0-9, '_', '.', '-'`},
		{[]flags.Flag{{Name: strings.Repeat("a", 129)}}, `flags: Name "aaaaaaaaaaaaaaaaaaaa"... is 129 bytes long, want at most 128`},
		{[]flags.Flag{{Name: "p", Percent: -0.1}}, `flags: flag "p": Percent is -0.1, want 0..1`},
		{[]flags.Flag{{Name: "p", Percent: 1.5}}, `flags: flag "p": Percent is 1.5, want 0..1`},
		{[]flags.Flag{{Name: "p", Percent: math.NaN()}}, `flags: flag "p": Percent is NaN, want 0..1`},
		{[]flags.Flag{{Name: "d"}, {Name: "d", Enabled: true}}, `flags: flag "d" is listed twice`},
	}
	for _, tt := range tests {
		got := ""
		if _, err := flags.NewSet(tt.flags...); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("NewSet(%v) error = %q, want %q", tt.flags, got, tt.want)
		}
		s := flags.MustNew(flags.Config{})
		if err := s.Replace(tt.flags...); fmt.Sprint(err) != fmt.Sprint(errOrNil(tt.want)) {
			t.Errorf("Replace(%v) error = %v, want %q", tt.flags, err, tt.want)
		}
	}
	s := flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "keep", Enabled: true}}})
	if err := s.Set(flags.Flag{Name: "Bad"}); err == nil {
		t.Error("Set(Flag{Name: Bad}) succeeded, want error")
	}
	if err := s.Replace(flags.Flag{Name: "ok"}, flags.Flag{Name: "ok"}); err == nil {
		t.Error("Replace with a repeated name succeeded, want error")
	}
	if got := s.List(); len(got) != 1 || got[0].Name != "keep" {
		t.Errorf("List after failed writes = %v, want only keep", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNew with an invalid flag did not panic")
		}
	}()
	flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "X"}}})
}

func errOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestEnabled(t *testing.T) {
	s := flags.MustNew(flags.Config{Rand: func() float64 { return 0.5 }, Flags: []flags.Flag{
		{Name: "on", Enabled: true},
		{Name: "on.full", Enabled: true, Percent: 1},
		{Name: "off", Enabled: false, Percent: 1},
		{Name: "half.below", Enabled: true, Percent: 0.49},
		{Name: "half.above", Enabled: true, Percent: 0.51},
	}})
	got := map[string]bool{}
	for _, n := range []string{"on", "on.full", "off", "half.below", "half.above", "unknown"} {
		got[n] = s.Enabled(n)
	}
	want := map[string]bool{"on": true, "on.full": true, "off": false, "half.below": false, "half.above": true, "unknown": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Enabled with a draw of 0.5 (-want +got):\n%s", diff)
	}
}

// within reports whether hits out of n lie within 5 standard deviations of
// the binomial mean n*p.
func within(hits, n int, p float64) bool {
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(hits)-float64(n)*p) <= 5*sd
}

func TestPercentShare(t *testing.T) {
	for _, p := range []float64{0.01, 0.1, 0.5, 0.9} {
		s := flags.MustNew(flags.Config{Rand: seeded(7), Flags: []flags.Flag{{Name: "f", Enabled: true, Percent: p}}})
		const n = 100_000
		hits, keyed := 0, 0
		for i := range n {
			if s.Enabled("f") {
				hits++
			}
			if s.EnabledFor("f", fmt.Sprintf("user-%d", i)) {
				keyed++
			}
		}
		if !within(hits, n, p) {
			t.Errorf("Percent %v: Enabled on %d of %d calls, want about %v", p, hits, n, float64(n)*p)
		}
		if !within(keyed, n, p) {
			t.Errorf("Percent %v: EnabledFor on for %d of %d keys, want about %v", p, keyed, n, float64(n)*p)
		}
	}
}

func TestEnabledForIsSticky(t *testing.T) {
	s := flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "f", Enabled: true, Percent: 0.3}, {Name: "g", Enabled: true, Percent: 0.3}}})
	in := map[string]bool{}
	for i := range 2000 {
		k := fmt.Sprint("u", i)
		in[k] = s.EnabledFor("f", k)
	}
	// Same answers again, and after a reload with the same Percent.
	if err := s.Replace(flags.Flag{Name: "f", Enabled: true, Percent: 0.3, Description: "reloaded"}, flags.Flag{Name: "g", Enabled: true, Percent: 0.3}); err != nil {
		t.Fatal(err)
	}
	both := 0
	for k, was := range in {
		if s.EnabledFor("f", k) != was {
			t.Fatalf("EnabledFor(f, %s) changed from %v", k, was)
		}
		if was && s.EnabledFor("g", k) {
			both++
		}
	}
	// g draws independently of f: about 0.3*0.3 of keys are in both.
	if !within(both, len(in), 0.09) {
		t.Errorf("%d of %d keys in both f and g, want about %v (independent shares)", both, len(in), 0.09*float64(len(in)))
	}
	// Raising the Percent keeps everyone who was in.
	if err := s.Set(flags.Flag{Name: "f", Enabled: true, Percent: 0.6}); err != nil {
		t.Fatal(err)
	}
	for k, was := range in {
		if was && !s.EnabledFor("f", k) {
			t.Errorf("key %s dropped out when Percent rose from 0.3 to 0.6", k)
		}
	}
	if s.EnabledFor("unknown", "u1") {
		t.Error("EnabledFor(unknown) = true, want false")
	}
	if err := s.Set(flags.Flag{Name: "f", Enabled: false, Percent: 1}); err != nil {
		t.Fatal(err)
	}
	for k := range in {
		if s.EnabledFor("f", k) {
			t.Fatalf("EnabledFor(f, %s) = true for a disabled flag", k)
		}
	}
}

func TestGetListSet(t *testing.T) {
	s := flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "b", Enabled: true}, {Name: "a", Description: "first"}}})
	if err := s.Set(flags.Flag{Name: "c", Enabled: true, Percent: 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(flags.Flag{Name: "a", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	want := []flags.Flag{{Name: "a", Enabled: true}, {Name: "b", Enabled: true}, {Name: "c", Enabled: true, Percent: 0.25}}
	got := s.List()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	got[0].Name = "mutated"
	if f, ok := s.Get("a"); !ok || f.Name != "a" {
		t.Errorf("Get(a) = %v, %v after mutating a List result, want the flag unchanged", f, ok)
	}
	if _, ok := s.Get("zz"); ok {
		t.Error("Get(zz) found a flag that does not exist")
	}
}

func TestOnChange(t *testing.T) {
	s := flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "a", Enabled: true}, {Name: "b"}}})
	var got []flags.Flag
	s.OnChange(func(f flags.Flag) {
		got = append(got, f)
		if f.Name == "a" && !f.Enabled {
			// Hooks run without locks: writing from one does not deadlock.
			if err := s.Set(flags.Flag{Name: "a.off.seen", Enabled: true}); err != nil {
				t.Error(err)
			}
		}
	})
	steps := []func() error{
		func() error { return s.Set(flags.Flag{Name: "a", Enabled: true}) }, // no change: no call
		func() error { return s.Set(flags.Flag{Name: "c", Enabled: true, Percent: 0.5}) },
		func() error {
			return s.Replace(flags.Flag{Name: "b"}, flags.Flag{Name: "c", Enabled: true, Percent: 0.7}, flags.Flag{Name: "d"})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []flags.Flag{
		{Name: "c", Enabled: true, Percent: 0.5},
		{Name: "a"}, // removed by Replace: reported off
		{Name: "a.off.seen", Enabled: true},
		{Name: "c", Enabled: true, Percent: 0.7},
		{Name: "d"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnChange calls (-want +got):\n%s", diff)
	}
}

func TestReplaceIsAtomic(t *testing.T) {
	gen := func(g int) []flags.Flag {
		fs := make([]flags.Flag, 20)
		for i := range fs {
			fs[i] = flags.Flag{Name: fmt.Sprintf("f%02d", i), Enabled: g%2 == 0, Description: fmt.Sprint("gen ", g)}
		}
		return fs
	}
	s, err := flags.NewSet(gen(0)...)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				l := s.List()
				if len(l) > 0 && l[0].Name == "extra" {
					l = l[1:] // Set between Replaces; not part of a generation
				}
				for _, f := range l[1:] {
					if f.Description != l[0].Description || f.Enabled != l[0].Enabled {
						t.Errorf("List mixes %q and %q: a reader saw half a Replace", l[0].Description, f.Description)
						return
					}
				}
				_ = s.Enabled("f07")
				_ = s.EnabledFor("f11", "k")
			}
		})
	}
	for g := 1; g <= 300; g++ {
		if g%3 == 0 {
			if err := s.Set(flags.Flag{Name: "extra", Enabled: true}); err != nil {
				t.Error(err)
			}
		}
		fs := gen(g)
		if err := s.Replace(fs...); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if n := len(s.List()); n != 20 {
		t.Errorf("len(List) = %d after the last Replace, want 20", n)
	}
}

func TestGate(t *testing.T) {
	rec := &keeltest.Recorder{}
	s := flags.MustNew(flags.Config{Observer: rec, Flags: []flags.Flag{{Name: "payments", Enabled: true}}})
	g := s.Gate("payments")
	ran := 0
	op := func(context.Context) error { ran++; return nil }
	ctx := context.Background()
	if err := keel.Chain(g).Do(ctx, op); err != nil || ran != 1 {
		t.Fatalf("enabled: err=%v ran=%d, want nil 1", err, ran)
	}
	if err := s.Set(flags.Flag{Name: "payments"}); err != nil {
		t.Fatal(err)
	}
	err := g.Do(ctx, op)
	if ran != 1 {
		t.Errorf("op ran while the flag was off")
	}
	de, ok := errors.AsType[*flags.DisabledError](err)
	if !ok || de.Flag != "payments" || !errors.Is(err, flags.ErrDisabled) || !errors.Is(err, keel.ErrRejected) {
		t.Errorf("err = %v, want *DisabledError{payments} matching ErrDisabled and keel.ErrRejected", err)
	}
	if got, want := err.Error(), "flags: payments is disabled"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("DisabledError matches an unrelated error")
	}
	evs := rec.Events()
	if len(evs) != 1 || evs[0].Kind != keel.EventRejected || evs[0].Policy != "flags" || evs[0].Name != "payments" || !errors.Is(evs[0].Err, flags.ErrDisabled) {
		t.Errorf("events = %+v, want one EventRejected by flags for payments", evs)
	}
	if err := s.Gate("not.yet").Do(ctx, op); !errors.Is(err, flags.ErrDisabled) {
		t.Errorf("Gate on an unknown flag: err = %v, want ErrDisabled", err)
	}
}

func TestAllocs(t *testing.T) {
	s := flags.MustNew(flags.Config{Flags: []flags.Flag{{Name: "all", Enabled: true}, {Name: "some", Enabled: true, Percent: 0.5}, {Name: "none"}}})
	g, gOff := s.Gate("all"), s.Gate("none")
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	sink := false
	for name, f := range map[string]func(){
		"Enabled":          func() { sink = s.Enabled("all") || s.Enabled("some") || s.Enabled("none") },
		"EnabledFor":       func() { sink = s.EnabledFor("some", "user-42") },
		"Gate.Do":          func() { _ = g.Do(ctx, op) },
		"Gate.Do rejected": func() { _ = gOff.Do(ctx, op) },
		"Get":              func() { _, sink = s.Get("some") },
	} {
		if n := testing.AllocsPerRun(200, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
	_ = sink
}
