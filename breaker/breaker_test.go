package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/keelhq/keel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const (
	S = keel.OutcomeSuccess
	F = keel.OutcomeFailure
	N = keel.OutcomeNeutral
	P = keel.OutcomePermanent
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []keel.Event
	ctxs   []context.Context
}

func (r *recorder) Observe(ctx context.Context, e keel.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.ctxs = append(r.ctxs, ctx)
}

// transitions returns the state changes seen, as "from>to".
func (r *recorder) transitions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Kind == keel.EventStateChange {
			out = append(out, e.From+">"+e.To)
		}
	}
	return out
}

func (r *recorder) count(kind keel.EventKind, reason keel.Reason) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind && e.Reason == reason {
			n++
		}
	}
	return n
}

// step is one call in a scripted sequence: it is attempted at t0+at, runs
// for took, ends with o, and afterwards the breaker must be in state want.
type step struct {
	at, took time.Duration
	o        keel.Outcome
	rejected bool // AllowAt must refuse the call
	want     State
}

func runSteps(t *testing.T, b *Breaker, steps []step) {
	t.Helper()
	for i, s := range steps {
		p, err := b.AllowAt(at(s.at))
		if s.rejected {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("step %d at %v: AllowAt got err %v, want ErrOpen", i, s.at, err)
			}
		} else {
			if err != nil {
				t.Fatalf("step %d at %v: AllowAt got err %v, want nil", i, s.at, err)
			}
			p.DoneAt(at(s.at+s.took), s.o)
		}
		if got := b.StateAt(at(s.at + s.took)); got != s.want {
			t.Fatalf("step %d at %v (%v): state got %v, want %v", i, s.at, s.o, got, s.want)
		}
	}
}

func TestSequences(t *testing.T) {
	sec := time.Second
	count := Config{WindowSize: 4, MinimumCalls: 4, OpenDuration: 10 * sec, HalfOpenPermits: 1, SuccessesToClose: 2}
	tm := Config{WindowType: TimeBased, WindowSize: 10, MinimumCalls: 3, OpenDuration: 5 * sec, HalfOpenPermits: 1, SuccessesToClose: 1}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"count: opens at the threshold, probes close it", count, []step{
			{at: 0, o: S, want: Closed},
			{at: 1 * sec, o: S, want: Closed},
			{at: 2 * sec, o: F, want: Closed},
			{at: 3 * sec, o: F, want: Open}, // 2 of 4 = 50%
			{at: 4 * sec, rejected: true, want: Open},
			{at: 12*sec + 999*time.Millisecond, rejected: true, want: Open},
			{at: 13 * sec, o: S, want: HalfOpen}, // open until 3s+10s
			{at: 14 * sec, o: S, want: Closed},
			{at: 15 * sec, o: F, want: Closed}, // the window was emptied on closing
			{at: 16 * sec, o: F, want: Closed},
			{at: 17 * sec, o: F, want: Closed},
			{at: 18 * sec, o: S, want: Open},
		}},
		{"count: below minimum calls never opens", count, []step{
			{at: 0, o: F, want: Closed},
			{at: 1, o: F, want: Closed},
			{at: 2, o: F, want: Closed},
			{at: 3, o: F, want: Open},
		}},
		{"count: a failed probe reopens", count, []step{
			{at: 0, o: F, want: Closed},
			{at: 0, o: F, want: Closed},
			{at: 0, o: F, want: Closed},
			{at: 0, o: F, want: Open},
			{at: 10 * sec, o: F, want: Open},
			{at: 19 * sec, rejected: true, want: Open},
			{at: 20 * sec, o: S, want: HalfOpen},
			{at: 21 * sec, o: S, want: Closed},
		}},
		{"count: the window rolls", count, []step{
			{at: 0, o: S, want: Closed},
			{at: 1, o: F, want: Closed},
			{at: 2, o: S, want: Closed},
			{at: 3, o: S, want: Closed}, // 25%
			{at: 4, o: S, want: Closed}, // F S S S
			{at: 5, o: F, want: Closed}, // S S S F
			{at: 6, o: F, want: Open},   // S S F F
		}},
		{"count: neutral outcomes are not counted", count, []step{
			{at: 0, o: N, want: Closed},
			{at: 1, o: N, want: Closed},
			{at: 2, o: N, want: Closed},
			{at: 3, o: N, want: Closed},
			{at: 4, o: F, want: Closed},
			{at: 5, o: F, want: Closed},
			{at: 6, o: S, want: Closed},
			{at: 7, o: S, want: Open},
		}},
		{"count: permanent counts as a failure", count, []step{
			{at: 0, o: P, want: Closed},
			{at: 1, o: P, want: Closed},
			{at: 2, o: S, want: Closed},
			{at: 3, o: S, want: Open},
		}},
		{"count: neutral probe releases its permit", count, []step{
			{at: 0, o: F, want: Closed},
			{at: 0, o: F, want: Closed},
			{at: 0, o: F, want: Closed},
			{at: 0, o: F, want: Open},
			{at: 10 * sec, o: N, want: HalfOpen},
			{at: 11 * sec, o: S, want: HalfOpen},
			{at: 12 * sec, o: S, want: Closed},
		}},
		{"time: opens within the window", tm, []step{
			{at: 0, o: F, want: Closed},
			{at: 1 * sec, o: F, want: Closed},
			{at: 2 * sec, o: S, want: Open}, // 2 of 3
			{at: 6 * sec, rejected: true, want: Open},
			{at: 7 * sec, o: S, want: Closed},
		}},
		{"time: old failures expire", tm, []step{
			{at: 0, o: F, want: Closed},
			{at: 1 * sec, o: F, want: Closed},
			{at: 11 * sec, o: S, want: Closed}, // window covers seconds 2..11
			{at: 12 * sec, o: S, want: Closed},
			{at: 13 * sec, o: F, want: Closed}, // 1 of 3
			{at: 14 * sec, o: F, want: Open},   // 2 of 4
		}},
		{"time: minimum calls within the window", tm, []step{
			{at: 0, o: F, want: Closed},
			{at: 5 * sec, o: F, want: Closed},
			{at: 10 * sec, o: F, want: Closed}, // the call at 0 left the window
			{at: 11 * sec, o: F, want: Open},
			{at: 16 * sec, o: F, want: Open}, // failed probe
			{at: 20 * sec, rejected: true, want: Open},
			{at: 21 * sec, o: S, want: Closed},
		}},
		{"time: slow calls alone open it", Config{
			WindowType: TimeBased, WindowSize: 10, MinimumCalls: 2,
			SlowCallDuration: sec, SlowCallRateThreshold: 50,
		}, []step{
			{at: 0, took: 999 * time.Millisecond, o: S, want: Closed},
			{at: 1 * sec, took: 2 * sec, o: S, want: Open},
		}},
		{"count: slow calls alone open it", Config{
			WindowSize: 4, MinimumCalls: 4, SlowCallDuration: sec, SlowCallRateThreshold: 75,
			HalfOpenPermits: 1, OpenDuration: 10 * sec,
		}, []step{
			{at: 0, took: sec, o: S, want: Closed},
			{at: 2 * sec, took: sec, o: S, want: Closed},
			{at: 4 * sec, took: 0, o: S, want: Closed},
			{at: 5 * sec, took: sec, o: S, want: Open},      // 3 of 4 slow
			{at: 16 * sec, took: 2 * sec, o: S, want: Open}, // a slow probe reopens
		}},
		{"count: slow rule off at the default threshold", Config{
			WindowSize: 2, MinimumCalls: 2, SlowCallDuration: sec,
		}, []step{
			{at: 0, took: 5 * sec, o: S, want: Closed},
			{at: 6 * sec, took: 5 * sec, o: S, want: Closed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, MustNew(tt.cfg), tt.steps)
		})
	}
}

func TestMetrics(t *testing.T) {
	b := MustNew(Config{WindowSize: 4, MinimumCalls: 4, SlowCallDuration: time.Second, OpenDuration: 10 * time.Second})
	runSteps(t, b, []step{
		{at: 0, took: 2 * time.Second, o: S, want: Closed},
		{at: 3 * time.Second, o: F, want: Closed},
		{at: 4 * time.Second, took: time.Second, o: F, want: Closed},
	})
	want := Metrics{State: Closed, Calls: 3, Failures: 2, SlowCalls: 2, FailureRate: 200.0 / 3, SlowCallRate: 200.0 / 3}
	if diff := cmp.Diff(want, b.MetricsAt(at(5*time.Second))); diff != "" {
		t.Errorf("closed metrics (-want +got):\n%s", diff)
	}
	p, _ := b.AllowAt(at(5 * time.Second))
	p.DoneAt(at(5*time.Second), F)
	want = Metrics{State: Open, Calls: 4, Failures: 3, SlowCalls: 2, FailureRate: 75, SlowCallRate: 50, Remaining: 7 * time.Second}
	if diff := cmp.Diff(want, b.MetricsAt(at(8*time.Second))); diff != "" {
		t.Errorf("open metrics (-want +got):\n%s", diff)
	}
	if _, err := b.AllowAt(at(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	want = Metrics{State: HalfOpen, Calls: 4, Failures: 3, SlowCalls: 2, FailureRate: 75, SlowCallRate: 50, Probes: 1}
	if diff := cmp.Diff(want, b.MetricsAt(at(15*time.Second))); diff != "" {
		t.Errorf("half-open metrics (-want +got):\n%s", diff)
	}
}

// trip opens b at time now with failures, and fails the test if it does not.
func trip(t *testing.T, b *Breaker, now time.Time) {
	t.Helper()
	for range b.cfg.MinimumCalls {
		p, err := b.AllowAt(now)
		if err != nil {
			t.Fatalf("trip: %v", err)
		}
		p.DoneAt(now, F)
	}
	if got := b.StateAt(now); got != Open {
		t.Fatalf("trip: state got %v, want open", got)
	}
}

func TestHalfOpenPermits(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rec := &recorder{}
			b := MustNew(Config{MinimumCalls: 1, OpenDuration: time.Second, HalfOpenPermits: n, SuccessesToClose: n + 1, Observer: rec})
			trip(t, b, t0)
			now := at(time.Second)
			var probes []Permit
			for i := range n {
				p, err := b.AllowAt(now)
				if err != nil {
					t.Fatalf("probe %d got err %v, want admitted", i+1, err)
				}
				probes = append(probes, p)
			}
			_, err := b.AllowAt(now)
			var oe *OpenError
			if !errors.As(err, &oe) || oe.State != HalfOpen || !errors.Is(err, ErrOpen) || !errors.Is(err, keel.ErrRejected) {
				t.Fatalf("probe %d got err %v, want *OpenError in half_open", n+1, err)
			}
			if got := rec.count(keel.EventRejected, keel.ReasonHalfOpenFull); got != 1 {
				t.Errorf("ReasonHalfOpenFull events got %d, want 1", got)
			}
			// Finishing one probe frees its permit for another.
			probes[0].DoneAt(now, S)
			p, err := b.AllowAt(now)
			if err != nil {
				t.Fatalf("after one probe finished got err %v, want admitted", err)
			}
			probes = append(probes[1:], p)
			for _, p := range probes {
				p.DoneAt(now, S)
			}
			if got := b.StateAt(now); got != Closed {
				t.Errorf("after %d successful probes state got %v, want closed", n+1, got)
			}
		})
	}
}

func TestLateResultsIgnored(t *testing.T) {
	rec := &recorder{}
	b := MustNew(Config{MinimumCalls: 1, OpenDuration: time.Second, HalfOpenPermits: 1, SuccessesToClose: 1, Observer: rec})
	late, err := b.AllowAt(t0) // admitted while closed
	if err != nil {
		t.Fatal(err)
	}
	lateFail, _ := b.AllowAt(t0)
	trip(t, b, t0)
	probe, err := b.AllowAt(at(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	late.DoneAt(at(2*time.Second), S)
	if got := b.StateAt(at(2 * time.Second)); got != HalfOpen {
		t.Fatalf("late success from the closed generation: state got %v, want half_open", got)
	}
	lateFail.DoneAt(at(2*time.Second), F)
	if got := b.StateAt(at(2 * time.Second)); got != HalfOpen {
		t.Fatalf("late failure from the closed generation: state got %v, want half_open", got)
	}
	if got := b.MetricsAt(at(2 * time.Second)).Probes; got != 1 {
		t.Fatalf("probes in flight got %d, want 1", got)
	}
	probe.DoneAt(at(2*time.Second), S)
	if got := b.StateAt(at(2 * time.Second)); got != Closed {
		t.Fatalf("after the probe succeeded state got %v, want closed", got)
	}
	// A permit from before Reset does not count after it.
	b2 := MustNew(Config{WindowSize: 1, MinimumCalls: 1})
	old, _ := b2.AllowAt(t0)
	b2.Reset()
	old.DoneAt(t0, F)
	if got := b2.StateAt(t0); got != Closed {
		t.Fatalf("failure admitted before Reset: state got %v, want closed", got)
	}
}

func TestStateOnRead(t *testing.T) {
	rec := &recorder{}
	b := MustNew(Config{MinimumCalls: 1, OpenDuration: 10 * time.Second, Observer: rec})
	trip(t, b, t0)
	if got := b.StateAt(at(9 * time.Second)); got != Open {
		t.Fatalf("before the open duration: got %v, want open", got)
	}
	if got := b.StateAt(at(10 * time.Second)); got != HalfOpen {
		t.Fatalf("after the open duration, no traffic: got %v, want half_open", got)
	}
	b.StateAt(at(11 * time.Second))
	want := []string{"closed>open", "open>half_open"}
	if diff := cmp.Diff(want, rec.transitions()); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	rec.mu.Lock()
	last := len(rec.events) - 1
	ctx, e := rec.ctxs[last], rec.events[last]
	rec.mu.Unlock()
	if ctx != context.Background() || !e.Time.Equal(at(10*time.Second)) || e.Policy != "breaker" {
		t.Errorf("half-open event got ctx %v time %v policy %q, want Background, %v, breaker", ctx, e.Time, e.Policy, at(10*time.Second))
	}
}

func TestForcedStates(t *testing.T) {
	rec := &recorder{}
	b := MustNew(Config{Name: "db", WindowSize: 2, MinimumCalls: 2, Observer: rec})

	b.ForceOpen()
	for range 3 {
		_, err := b.AllowAt(t0)
		var oe *OpenError
		if !errors.As(err, &oe) || oe.State != ForcedOpen || oe.Remaining != 0 || oe.Name != "db" {
			t.Fatalf("forced open: got err %#v, want *OpenError{forced_open, 0, db}", err)
		}
		if d, ok := keel.RetryAfter(err); !ok || d != 0 {
			t.Fatalf("forced open: RetryAfter got %v %v, want 0 true", d, ok)
		}
	}
	if got := b.StateAt(at(time.Hour)); got != ForcedOpen {
		t.Fatalf("forced open does not expire: got %v", got)
	}

	b.Disable()
	for i := range 10 {
		p, err := b.AllowAt(t0)
		if err != nil {
			t.Fatalf("disabled call %d: %v", i, err)
		}
		p.DoneAt(t0, F)
	}
	if got, want := b.MetricsAt(t0), (Metrics{State: Disabled}); got != want {
		t.Fatalf("disabled metrics got %+v, want %+v", got, want)
	}

	b.MetricsOnly()
	for i := range 10 {
		p, err := b.AllowAt(t0)
		if err != nil {
			t.Fatalf("metrics-only call %d: %v", i, err)
		}
		p.DoneAt(t0, F)
	}
	if got, want := b.MetricsAt(t0), (Metrics{State: MetricsOnly, Calls: 2, Failures: 2, FailureRate: 100}); got != want {
		t.Fatalf("metrics-only metrics got %+v, want %+v", got, want)
	}

	b.Reset()
	if got, want := b.MetricsAt(t0), (Metrics{State: Closed}); got != want {
		t.Fatalf("after Reset got %+v, want %+v", got, want)
	}
	b.Reset() // already closed: no event

	want := []string{"closed>forced_open", "forced_open>disabled", "disabled>metrics_only", "metrics_only>closed"}
	if diff := cmp.Diff(want, rec.transitions()); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	if got := rec.count(keel.EventRejected, keel.ReasonCircuitOpen); got != 3 {
		t.Errorf("rejections while forced open got %d, want 3", got)
	}
	if got := rec.count(keel.EventFailure, keel.ReasonNone); got != 10 {
		t.Errorf("failure events got %d, want 10 (metrics-only only)", got)
	}
}

func TestOpenDurationGrowth(t *testing.T) {
	b := MustNew(Config{
		MinimumCalls: 1, OpenDuration: time.Second, OpenDurationMultiplier: 2,
		MaxOpenDuration: 5 * time.Second, HalfOpenPermits: 1, SuccessesToClose: 1,
	})
	now := t0
	var got []time.Duration
	for range 5 {
		if got == nil {
			trip(t, b, now)
		} else {
			p, err := b.AllowAt(now)
			if err != nil {
				t.Fatal(err)
			}
			p.DoneAt(now, F)
		}
		_, err := b.AllowAt(now)
		var oe *OpenError
		if !errors.As(err, &oe) {
			t.Fatalf("got %v, want *OpenError", err)
		}
		got = append(got, oe.Remaining)
		now = now.Add(oe.Remaining)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("open durations (-want +got):\n%s", diff)
	}
	// Closing forgets the consecutive openings.
	p, _ := b.AllowAt(now)
	p.DoneAt(now, S)
	trip(t, b, now)
	if m := b.MetricsAt(now); m.Remaining != time.Second {
		t.Errorf("after closing, open duration got %v, want 1s", m.Remaining)
	}
}

func TestOpenJitterBounds(t *testing.T) {
	const d, j = 10 * time.Second, 0.25
	b := MustNew(Config{MinimumCalls: 1, OpenDuration: d, OpenJitter: j, Rand: rand.New(rand.NewPCG(1, 2))})
	lo, hi := time.Duration(float64(d)*(1-j)), time.Duration(float64(d)*(1+j))
	seen := map[time.Duration]bool{}
	minSeen, maxSeen := hi, lo
	for i := range 500 {
		b.Reset()
		trip(t, b, t0)
		r := b.MetricsAt(t0).Remaining
		if r < lo || r >= hi {
			t.Fatalf("opening %d lasts %v, want in [%v, %v)", i, r, lo, hi)
		}
		seen[r] = true
		minSeen, maxSeen = min(minSeen, r), max(maxSeen, r)
	}
	// The spread must actually use the range.
	if len(seen) < 400 || minSeen > lo+time.Second || maxSeen < hi-time.Second {
		t.Errorf("jitter got %d distinct values in [%v, %v], want ≥400 spanning [%v, %v)", len(seen), minSeen, maxSeen, lo, hi)
	}
}

func TestOpenErrorRemaining(t *testing.T) {
	b := MustNew(Config{Name: "api", MinimumCalls: 1, OpenDuration: 2 * time.Second})
	trip(t, b, t0)
	tests := []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 2 * time.Second},
		{time.Nanosecond, 2 * time.Second}, // rounded up to the millisecond
		{500 * time.Millisecond, 1500 * time.Millisecond},
		{1999*time.Millisecond + 1, time.Millisecond},
	}
	for _, tt := range tests {
		_, err := b.AllowAt(at(tt.at))
		d, ok := keel.RetryAfter(err)
		if !ok || d != tt.want {
			t.Errorf("at %v: RetryAfter got %v %v, want %v", tt.at, d, ok, tt.want)
		}
	}
	_, err := b.AllowAt(at(500 * time.Millisecond))
	if got, want := err.Error(), `breaker "api": circuit open, retry in 1.5s`; got != want {
		t.Errorf("Error() got %q, want %q", got, want)
	}
	if !errors.Is(err, ErrOpen) || !errors.Is(err, keel.ErrRejected) {
		t.Errorf("errors.Is(ErrOpen, ErrRejected) got false for %v", err)
	}
}

func TestOpenErrorMessages(t *testing.T) {
	tests := []struct {
		e    OpenError
		want string
	}{
		{OpenError{State: Open}, "breaker: circuit open"},
		{OpenError{State: HalfOpen, Name: "x"}, `breaker "x": circuit half-open, all probe permits taken`},
		{OpenError{State: ForcedOpen, Name: "x"}, `breaker "x": circuit forced open`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() got %q, want %q", got, tt.want)
		}
	}
}

type ctxKey struct{}

func TestEvents(t *testing.T) {
	rec := &recorder{}
	b := MustNew(Config{Name: "n", MinimumCalls: 2, WindowSize: 2, FailureRateThreshold: 60, Observer: rec, OpenDuration: time.Second})
	ctx := context.WithValue(context.Background(), ctxKey{}, 1)
	boom := errors.New("boom")
	_ = b.Do(ctx, func(context.Context) error { return nil })
	_ = b.Do(ctx, func(context.Context) error { return boom })
	_ = b.Do(ctx, func(context.Context) error { return boom }) // opens
	_ = b.Do(ctx, func(context.Context) error { return nil })  // rejected

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var kinds []string
	for i, e := range rec.events {
		kinds = append(kinds, e.Kind.String())
		if rec.ctxs[i] != ctx {
			t.Errorf("event %d (%v) got another context, want the call's", i, e.Kind)
		}
		if e.Policy != "breaker" || e.Name != "n" {
			t.Errorf("event %d got policy %q name %q, want breaker n", i, e.Policy, e.Name)
		}
	}
	want := []string{"success", "failure", "failure", "state_change", "rejected"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("event kinds (-want +got):\n%s", diff)
	}
	if e := rec.events[1]; !errors.Is(e.Err, boom) || e.Outcome != F {
		t.Errorf("failure event got err %v outcome %v, want boom failure", e.Err, e.Outcome)
	}
	if e := rec.events[4]; e.Reason != keel.ReasonCircuitOpen {
		t.Errorf("rejected event reason got %v, want circuit_open", e.Reason)
	}
}

func TestClassifier(t *testing.T) {
	ignore := errors.New("ignore me")
	b := MustNew(Config{WindowSize: 2, MinimumCalls: 2, Classifier: func(ctx context.Context, err error) keel.Outcome {
		if errors.Is(err, ignore) {
			return keel.OutcomeNeutral
		}
		return keel.DefaultClassifier(ctx, err)
	}})
	ctx := context.Background()
	for range 5 {
		if err := b.Do(ctx, func(context.Context) error { return ignore }); !errors.Is(err, ignore) {
			t.Fatalf("Do got %v, want the op's error", err)
		}
	}
	if m := b.Metrics(); m.Calls != 0 || m.State != Closed {
		t.Fatalf("neutral errors: got %+v, want nothing counted", m)
	}
	// The caller's own cancellation is neutral under the default classifier.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = b.Do(cctx, func(ctx context.Context) error { return ctx.Err() })
	if m := b.Metrics(); m.Calls != 0 {
		t.Fatalf("caller cancellation: got %d calls, want 0", m.Calls)
	}
}

func TestChain(t *testing.T) {
	b := MustNew(Config{WindowSize: 1, MinimumCalls: 1})
	p := keel.Chain(b)
	boom := errors.New("boom")
	if err := p.Do(context.Background(), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("first call got %v, want boom", err)
	}
	ran := false
	err := p.Do(context.Background(), func(context.Context) error { ran = true; return nil })
	if ran || !errors.Is(err, ErrOpen) {
		t.Fatalf("second call got ran=%v err=%v, want not run and ErrOpen", ran, err)
	}
}

func TestPanicDuringProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := MustNew(Config{MinimumCalls: 1, OpenDuration: time.Second, HalfOpenPermits: 1, SuccessesToClose: 1})
		ctx := context.Background()
		doPanic := func() (recovered any) {
			defer func() { recovered = recover() }()
			_ = b.Do(ctx, func(context.Context) error { panic("probe blew up") })
			return nil
		}
		if r := doPanic(); r != "probe blew up" {
			t.Fatalf("panic in closed state: recovered %v, want the panic to continue", r)
		}
		if got := b.State(); got != Open {
			t.Fatalf("after a panic in closed: state got %v, want open (panic counts as failure)", got)
		}
		for i := range 3 {
			time.Sleep(time.Second << i) // long enough for any opening so far
			if got := b.State(); got != HalfOpen {
				t.Fatalf("round %d: state got %v, want half_open", i, got)
			}
			if r := doPanic(); r == nil {
				t.Fatalf("round %d: panic did not continue", i)
			}
			if got := b.State(); got != Open {
				t.Fatalf("round %d: after a panicking probe state got %v, want open", i, got)
			}
		}
		time.Sleep(time.Second)
		if err := b.Do(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("probe after panicking probes got %v, want admitted", err)
		}
		if got := b.State(); got != Closed {
			t.Fatalf("after a successful probe state got %v, want closed", got)
		}
	})
}

func TestRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := MustNew(Config{
			WindowType: TimeBased, WindowSize: 10, MinimumCalls: 2,
			SlowCallDuration: 100 * time.Millisecond, SlowCallRateThreshold: 50,
			OpenDuration: 5 * time.Second, HalfOpenPermits: 1, SuccessesToClose: 1, Observer: rec,
		})
		ctx := context.Background()
		slow := func(context.Context) error { time.Sleep(200 * time.Millisecond); return nil }
		for range 2 {
			if err := b.Do(ctx, slow); err != nil {
				t.Fatal(err)
			}
		}
		if got := b.State(); got != Open {
			t.Fatalf("after two slow calls state got %v, want open", got)
		}
		_, err := b.Allow()
		if d, _ := keel.RetryAfter(err); d != 5*time.Second {
			t.Fatalf("RetryAfter got %v, want 5s", d)
		}
		time.Sleep(5 * time.Second)
		if got := b.State(); got != HalfOpen {
			t.Fatalf("after the open duration with no traffic, state got %v, want half_open", got)
		}
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		p.Done(S)
		if got := b.State(); got != Closed {
			t.Fatalf("after a fast probe state got %v, want closed", got)
		}
		var durs []time.Duration
		rec.mu.Lock()
		for _, e := range rec.events {
			if e.Kind == keel.EventSuccess {
				durs = append(durs, e.Duration)
			}
		}
		rec.mu.Unlock()
		want := []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 10 * time.Millisecond}
		if diff := cmp.Diff(want, durs); diff != "" {
			t.Errorf("success event durations (-want +got):\n%s", diff)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	// Hammer a breaker from several goroutines under -race and check its
	// invariants at the end.
	b := MustNew(Config{WindowSize: 10, MinimumCalls: 5, OpenDuration: time.Millisecond, HalfOpenPermits: 2, SuccessesToClose: 2})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 2000 {
				p, err := b.Allow()
				if err != nil {
					if !errors.Is(err, ErrOpen) {
						t.Errorf("Allow got %v, want nil or ErrOpen", err)
					}
					continue
				}
				p.Done(keel.Outcome(r.IntN(4)))
				if r.IntN(100) == 0 {
					_ = b.Metrics()
				}
			}
		})
	}
	wg.Wait()
	m := b.Metrics()
	if m.Probes != 0 {
		t.Errorf("probes in flight after all calls finished got %d, want 0", m.Probes)
	}
	if m.Calls > 10 {
		t.Errorf("calls in a window of 10 got %d", m.Calls)
	}
}

func TestNoAllocs(t *testing.T) {
	ctx := context.Background()
	for _, bc := range benchConfigs {
		b := MustNew(bc.cfg)
		if got := testing.AllocsPerRun(1000, func() {
			p, _ := b.Allow()
			p.Done(S)
		}); got != 0 {
			t.Errorf("%s: Allow+Done allocs got %v, want 0", bc.name, got)
		}
		if got := testing.AllocsPerRun(1000, func() { _ = b.Do(ctx, okOp) }); got != 0 {
			t.Errorf("%s: Do allocs got %v, want 0", bc.name, got)
		}
		h := b.Wrap(func(ctx context.Context, op func(context.Context) error) error { return op(ctx) })
		if got := testing.AllocsPerRun(1000, func() { _ = h(ctx, okOp) }); got != 0 {
			t.Errorf("%s: wrapped handler allocs got %v, want 0", bc.name, got)
		}
	}
	b := MustNew(Config{MinimumCalls: 1, OpenDuration: time.Hour})
	trip(t, b, time.Now())
	if got := testing.AllocsPerRun(1000, func() { _, _ = b.Allow() }); got != 0 {
		t.Errorf("open rejection allocs got %v, want 0", got)
	}
	b.ForceOpen()
	if got := testing.AllocsPerRun(1000, func() { _, _ = b.Allow() }); got != 0 {
		t.Errorf("forced-open rejection allocs got %v, want 0", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{Config{}, ""},
		{Config{WindowType: TimeBased, WindowSize: 3600}, ""},
		{Config{WindowSize: -1}, "WindowSize -1"},
		{Config{WindowType: TimeBased, WindowSize: 3601}, "WindowSize 3601"},
		{Config{WindowType: 7}, "unknown WindowType 7"},
		{Config{FailureRateThreshold: 101}, "FailureRateThreshold 101"},
		{Config{FailureRateThreshold: -1}, "FailureRateThreshold -1"},
		{Config{SlowCallRateThreshold: 100.5}, "SlowCallRateThreshold 100.5"},
		{Config{MinimumCalls: -1}, "MinimumCalls -1"},
		{Config{SlowCallDuration: -1}, "SlowCallDuration -1ns"},
		{Config{OpenDuration: -time.Second}, "OpenDuration -1s"},
		{Config{OpenDurationMultiplier: 0.5}, "OpenDurationMultiplier 0.5"},
		{Config{OpenDurationMultiplier: 1}, ""},
		{Config{MaxOpenDuration: time.Second}, "MaxOpenDuration 1s is below OpenDuration 30s"},
		{Config{OpenJitter: 1}, "OpenJitter 1"},
		{Config{HalfOpenPermits: -2}, "HalfOpenPermits -2"},
		{Config{SuccessesToClose: -3}, "SuccessesToClose -3"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(%+v) got %v, want nil", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "breaker: ")):
			t.Errorf("Validate(%+v) got %v, want an error containing %q", tt.cfg, err, tt.want)
		}
		if _, nerr := New(tt.cfg); (nerr == nil) != (err == nil) {
			t.Errorf("New and Validate disagree: %v vs %v", nerr, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{
		WindowSize: 100, FailureRateThreshold: 50, MinimumCalls: 20, SlowCallRateThreshold: 100,
		OpenDuration: 30 * time.Second, OpenDurationMultiplier: 1, MaxOpenDuration: 300 * time.Second,
		HalfOpenPermits: 5, SuccessesToClose: 5,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	tb := Config{WindowType: TimeBased}.withDefaults()
	if tb.WindowSize != 60 {
		t.Errorf("time window default size got %d, want 60", tb.WindowSize)
	}
	if c := (Config{WindowSize: 5}).withDefaults(); c.MinimumCalls != 5 {
		t.Errorf("MinimumCalls capped by a count window of 5: got %d, want 5", c.MinimumCalls)
	}
}

func TestMustNewPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustNew with an invalid Config did not panic")
		}
	}()
	MustNew(Config{OpenJitter: 2})
}

func TestStateString(t *testing.T) {
	got := []string{Closed.String(), Open.String(), HalfOpen.String(), Disabled.String(), ForcedOpen.String(), MetricsOnly.String(), State(99).String()}
	want := []string{"closed", "open", "half_open", "disabled", "forced_open", "metrics_only", "unknown"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("State strings (-want +got):\n%s", diff)
	}
	if got := TimeBased.String() + CountBased.String() + WindowType(9).String(); got != "timecountunknown" {
		t.Errorf("WindowType strings got %q", got)
	}
}

func TestDoubleDoneKeepsPermitBound(t *testing.T) {
	// Reporting a permit twice is a caller bug; it may free a slot early, but
	// it must never push the count of probes below zero, which would raise
	// the bound for the rest of the half-open period.
	b := MustNew(Config{MinimumCalls: 1, OpenDuration: time.Second, HalfOpenPermits: 2, SuccessesToClose: 10})
	trip(t, b, t0)
	now := at(time.Second)
	p1, err1 := b.AllowAt(now)
	p2, err2 := b.AllowAt(now)
	if err1 != nil || err2 != nil {
		t.Fatalf("probes got %v %v, want admitted", err1, err2)
	}
	p1.DoneAt(now, N)
	p1.DoneAt(now, N) // reported twice by mistake
	p2.DoneAt(now, N)
	if got := b.MetricsAt(now).Probes; got != 0 {
		t.Fatalf("probes in flight got %d, want 0", got)
	}
	for i := range 2 {
		if _, err := b.AllowAt(now); err != nil {
			t.Fatalf("probe %d got %v, want admitted", i+1, err)
		}
	}
	if _, err := b.AllowAt(now); !errors.Is(err, ErrOpen) {
		t.Fatalf("third concurrent probe got %v, want rejected (HalfOpenPermits 2)", err)
	}
}

func TestHalfOpenMaxWait(t *testing.T) {
	sec := time.Second
	rec := &recorder{}
	b := MustNew(Config{MinimumCalls: 1, OpenDuration: 10 * sec, HalfOpenPermits: 1, SuccessesToClose: 1, HalfOpenMaxWait: 5 * sec, Observer: rec})
	trip(t, b, t0)
	leaked, err := b.AllowAt(at(10 * sec)) // a probe whose Done never comes
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, b, []step{
		{at: 11 * sec, rejected: true, want: HalfOpen},
		{at: 14*sec + 999*time.Millisecond, rejected: true, want: HalfOpen},
		{at: 15 * sec, rejected: true, want: Open}, // gave up on the leaked probe
		{at: 24 * sec, rejected: true, want: Open},
		{at: 25 * sec, o: S, want: Closed}, // open for 10s from 15s
	})
	leaked.DoneAt(at(26*sec), F) // from an old generation: ignored
	if got := b.StateAt(at(26 * sec)); got != Closed {
		t.Errorf("after the leaked probe reported, state got %v, want closed", got)
	}
	want := []string{"closed>open", "open>half_open", "half_open>open", "open>half_open", "half_open>closed"}
	if diff := cmp.Diff(want, rec.transitions()); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	// State on read, without traffic.
	b2 := MustNew(Config{MinimumCalls: 1, OpenDuration: sec, HalfOpenMaxWait: sec})
	trip(t, b2, t0)
	for _, tt := range []struct {
		at   time.Duration
		want State
	}{{sec, HalfOpen}, {2 * sec, Open}, {3 * sec, HalfOpen}} {
		if got := b2.StateAt(at(tt.at)); got != tt.want {
			t.Errorf("no traffic, at %v: state got %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestProbeReportingAfterHalfOpenMaxWait(t *testing.T) {
	sec := time.Second
	b := MustNew(Config{MinimumCalls: 1, OpenDuration: 10 * sec, HalfOpenPermits: 1, SuccessesToClose: 1, HalfOpenMaxWait: 5 * sec})
	trip(t, b, t0)
	p, err := b.AllowAt(at(10 * sec))
	if err != nil {
		t.Fatal(err)
	}
	p.DoneAt(at(16*sec), S) // nobody looked at the breaker in between
	if got := b.StateAt(at(16 * sec)); got != Open {
		t.Errorf("probe succeeding after HalfOpenMaxWait: state got %v, want open", got)
	}
}
