package monkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var discard = slog.New(slog.DiscardHandler)

// staticTargets is a Supervisor of n live targets with fake pids. Tests use
// it only in dry runs, so the pids are never signaled.
type staticTargets int

func (n staticTargets) Targets() []Target {
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{Name: fmt.Sprintf("t%d", i), PID: 1 << 30, Alive: true}
	}
	return ts
}

// fakeRestarter is a Restarter whose restarts take down fake time: a
// restarted target is dead for down, then alive with a new pid. It tracks
// the fewest live targets ever.
type fakeRestarter struct {
	down time.Duration
	mu   sync.Mutex
	ts   []Target
	min  int
	pid  int
	wg   sync.WaitGroup
}

func newFakeRestarter(n int, down time.Duration) *fakeRestarter {
	f := &fakeRestarter{down: down, min: n, pid: 100}
	for i := range n {
		f.pid++
		f.ts = append(f.ts, Target{Name: fmt.Sprintf("r%d", i), PID: f.pid, Alive: true})
	}
	return f
}

func (f *fakeRestarter) Targets() []Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Target(nil), f.ts...)
}

func (f *fakeRestarter) Restart(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.ts {
		if f.ts[i].Name != name {
			continue
		}
		if !f.ts[i].Alive {
			return errors.New("already down")
		}
		f.ts[i].Alive = false
		live := 0
		for _, t := range f.ts {
			if t.Alive {
				live++
			}
		}
		f.min = min(f.min, live)
		f.wg.Add(1)
		time.AfterFunc(f.down, func() {
			defer f.wg.Done()
			f.mu.Lock()
			defer f.mu.Unlock()
			f.pid++
			f.ts[i].PID, f.ts[i].Alive = f.pid, true
		})
		return nil
	}
	return fmt.Errorf("no target %q", name)
}

func TestKillerMinAliveSynctest(t *testing.T) {
	for _, minAlive := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("min_alive=", minAlive), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeRestarter(4, 2*time.Second)
				k := MustNew(Config{
					Supervisor: f, Restart: true, Mean: 300 * time.Millisecond, MinAlive: minAlive,
					Seed: 1, Schedule: Schedule{Duration: 5 * time.Minute}, Logger: discard,
				})
				rep, err := k.Run(t.Context())
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				f.wg.Wait()
				if f.min < minAlive {
					t.Errorf("live targets fell to %d, want at least MinAlive %d", f.min, minAlive)
				}
				if f.min != minAlive {
					t.Errorf("live targets never fell to MinAlive %d (lowest %d): the killer is too timid", minAlive, f.min)
				}
				kills := 0
				for _, kill := range rep.Kills {
					if kill.Err != nil {
						t.Errorf("kill %+v failed", kill)
					}
					if kill.Live <= minAlive {
						t.Errorf("kill %+v with %d live targets, want more than %d", kill, kill.Live, minAlive)
					}
					kills++
				}
				if kills < 50 || rep.Skipped == 0 {
					t.Errorf("got %d kills and %d skipped, want at least 50 kills and some skipped", kills, rep.Skipped)
				}
			})
		})
	}
}

// TestKillerCountsSignalledTargetsDead checks that a target the killer has
// signaled counts as dead even while its supervisor, which has not yet
// noticed, still reports it alive.
func TestKillerCountsSignalledTargetsDead(t *testing.T) {
	r := &run{killed: map[string]int{"a": 10, "b": 20, "gone": 30}}
	got := r.live([]Target{
		{Name: "a", PID: 10, Alive: true}, // signaled, supervisor lags: dead
		{Name: "b", PID: 21, Alive: true}, // restarted with a new pid: alive
		{Name: "c", PID: 30, Alive: true},
		{Name: "d", PID: 40, Alive: false},
		{Name: "e", PID: 0, Alive: true}, // no process
	})
	want := []Target{{Name: "b", PID: 21, Alive: true}, {Name: "c", PID: 30, Alive: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("live targets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"a": 10}, r.killed); diff != "" {
		t.Errorf("remembered kills (-want +got):\n%s", diff)
	}
}

func TestKillerSeedRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runOnce := func(seed uint64) []string {
			k := MustNew(Config{Supervisor: staticTargets(6), Mean: time.Second, Seed: seed, DryRun: true,
				Schedule: Schedule{Duration: time.Minute}, Logger: discard})
			start := time.Now()
			rep, err := k.Run(t.Context())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if rep.Seed != seed {
				t.Errorf("Report.Seed = %d, want %d", rep.Seed, seed)
			}
			var out []string
			for _, kill := range rep.Kills {
				out = append(out, fmt.Sprintf("%v %s", kill.Time.Sub(start), kill.Target))
			}
			return out
		}
		a, b := runOnce(42), runOnce(42)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("two runs with seed 42 differ (-first +second):\n%s", diff)
		}
		if c := runOnce(43); cmp.Equal(a, c) {
			t.Errorf("runs with seeds 42 and 43 are identical")
		}
	})
}

func TestKillerGaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const mean, minGap = time.Second, 200 * time.Millisecond
		k := MustNew(Config{Supervisor: staticTargets(3), Mean: mean, MinGap: minGap, Seed: 3, DryRun: true,
			Schedule: Schedule{Duration: time.Hour}, Logger: discard})
		start := time.Now()
		rep, err := k.Run(t.Context())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		prev, sum := start, time.Duration(0)
		for _, kill := range rep.Kills {
			gap := kill.Time.Sub(prev)
			if gap < minGap {
				t.Errorf("gap %v before kill at +%v, want at least MinGap %v", gap, kill.Time.Sub(start), minGap)
			}
			sum += gap
			prev = kill.Time
		}
		// With gaps max(minGap, Exp(mean)) the expected gap is
		// mean + mean·(e^(-minGap/mean) - 1 + minGap/mean)... computed exactly:
		m, g := mean.Seconds(), minGap.Seconds()
		want := g + m*math.Exp(-g/m)
		got := sum.Seconds() / float64(len(rep.Kills))
		if math.Abs(got-want)/want > 0.05 {
			t.Errorf("mean gap over %d kills = %.3fs, want %.3fs ± 5%%", len(rep.Kills), got, want)
		}
	})
}

func TestKillerContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		k := MustNew(Config{Supervisor: staticTargets(2), Mean: time.Second, DryRun: true, Logger: discard})
		rep, err := k.Run(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run error = %v, want context.DeadlineExceeded", err)
		}
		if len(rep.Kills) == 0 {
			t.Errorf("no kills in 10s with a 1s mean")
		}
	})
}

func TestKillerLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf strings.Builder
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}))
		k := MustNew(Config{Supervisor: staticTargets(2), Mean: time.Second, Seed: 5, DryRun: true,
			Schedule: Schedule{Duration: 3 * time.Second}, Logger: log})
		if _, err := k.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`msg="chaos monkey started" monkey=monkey seed=5 mean=1s min_gap=0s min_alive=1 action=SIGKILL dry_run=true`,
			`msg="chaos monkey would kill (dry run)" monkey=monkey seed=5 target=t`,
			` pid=1073741824 live=2 signal=SIGKILL`,
			`msg="chaos monkey stopped" monkey=monkey seed=5 kills=`,
		} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("log lacks %q; got:\n%s", want, buf.String())
			}
		}
	})
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestConfigValidate(t *testing.T) {
	sup := staticTargets(1)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Supervisor: sup}, ""},
		{"no supervisor", Config{}, "monkey: invalid config: Supervisor is nil"},
		{"negative mean", Config{Supervisor: sup, Mean: -1}, "monkey: invalid config: Mean -1ns is negative"},
		{"negative min gap", Config{Supervisor: sup, MinGap: -1}, "monkey: invalid config: MinGap -1ns is negative"},
		{"negative min alive", Config{Supervisor: sup, MinAlive: -1}, "monkey: invalid config: MinAlive -1 is negative"},
		{"stop signal", Config{Supervisor: sup, Signal: syscall.SIGSTOP}, "monkey: invalid config: Signal 19 (stopped (signal)) is not one of KILL, TERM, INT, QUIT, HUP, USR1, USR2"},
		{"restart and signal", Config{Supervisor: sup, Restart: true, Signal: syscall.SIGTERM}, "monkey: invalid config: Restart and Signal (terminated) are exclusive"},
		{"restart without restarter", Config{Supervisor: sup, Restart: true}, "monkey: invalid config: Restart is set but the Supervisor (monkey.staticTargets) does not implement Restarter"},
		{"bad schedule", Config{Supervisor: sup, Schedule: Schedule{Duration: -1}}, "monkey: invalid config: Schedule: monkey: invalid schedule: Duration -1ns is negative"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrConfig) {
				t.Errorf("%s: %v does not match ErrConfig", tt.name, err)
			}
		}
		if got != tt.want {
			t.Errorf("%s: Validate() = %q, want %q", tt.name, got, tt.want)
		}
		if _, err := New(tt.cfg); (err != nil) != (tt.want != "") {
			t.Errorf("%s: New error = %v, want error %v", tt.name, err, tt.want != "")
		}
	}
}

func TestNewDefaults(t *testing.T) {
	k := MustNew(Config{Supervisor: staticTargets(1)})
	got := []any{k.cfg.Name, k.cfg.Mean, k.cfg.MinAlive, k.cfg.Signal, k.Seed() != 0}
	want := []any{"monkey", DefaultMean, DefaultMinAlive, DefaultSignal, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"KILL": syscall.SIGKILL, "sigterm": syscall.SIGTERM, "Int": syscall.SIGINT, "HUP": syscall.SIGHUP} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "STOP", "9", "SIGCONT"} {
		if got, err := ParseSignal(in); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseSignal(%q) = %v, %v; want an ErrConfig error", in, got, err)
		}
	}
}

func TestKillerHugeMean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := MustNew(Config{Supervisor: staticTargets(2), Mean: math.MaxInt64, DryRun: true,
			Schedule: Schedule{Duration: time.Hour}, Logger: discard})
		rep, err := k.Run(t.Context())
		if err != nil || len(rep.Kills) != 0 {
			t.Errorf("Run with a huge mean: %d kills, %v; want none, nil", len(rep.Kills), err)
		}
	})
}
