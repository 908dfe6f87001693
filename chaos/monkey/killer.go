package monkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"syscall"
	"time"
)

// Default values of the zero [Config] fields.
const (
	DefaultMean     = time.Minute
	DefaultMinAlive = 1
	DefaultSignal   = syscall.SIGKILL
)

// ErrConfig is matched by every error that Config.Validate returns.
var ErrConfig = errors.New("monkey: invalid config")

// Config configures a [Killer]. The zero value of each field is its
// documented default, except Supervisor, which is required.
type Config struct {
	// Name labels the killer's log records. Default "monkey".
	Name string
	// Supervisor lists the targets. Required.
	Supervisor Supervisor
	// Mean is the mean time between kills; the gaps are exponentially
	// distributed. Default DefaultMean (one minute).
	Mean time.Duration
	// MinGap is the smallest gap between two kills (Chaos Monkey's minimum
	// time between terminations). Default zero: no minimum.
	MinGap time.Duration
	// MinAlive is the number of live targets a kill must leave: the killer
	// kills only when it counts more than MinAlive live targets right
	// before the kill. A target it has signaled counts as dead until the
	// supervisor reports it dead or with a new pid. Default DefaultMinAlive
	// (1): the last live target is never killed.
	MinAlive int
	// Signal is the signal sent to a target: SIGKILL, SIGTERM, SIGINT,
	// SIGQUIT, SIGHUP, SIGUSR1 or SIGUSR2. Default DefaultSignal (SIGKILL).
	Signal syscall.Signal
	// Restart makes the killer restart targets through the Supervisor,
	// which must then implement [Restarter], instead of sending Signal.
	// Restart and Signal are exclusive.
	Restart bool
	// Seed seeds the random number generator that draws gaps and picks
	// targets. Zero: a random seed, which Killer.Seed returns and every log
	// record carries, so that a run can be repeated.
	Seed uint64
	// DryRun makes the killer log and report what it would kill, and kill
	// nothing.
	DryRun bool
	// Schedule says when the killer may act. The zero Schedule is always.
	Schedule Schedule
	// Logger receives a record for the start and end of a run and for every
	// kill, skipped kill and failed kill. Nil: slog.Default().
	Logger *slog.Logger
}

// signalNames names the signals a Killer may send.
var signalNames = map[syscall.Signal]string{
	syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGHUP: "SIGHUP", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2",
}

// ParseSignal parses a signal name a Killer may send: "KILL" or "SIGKILL",
// TERM, INT, QUIT, HUP, USR1 or USR2, in any case.
func ParseSignal(s string) (syscall.Signal, error) {
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	for sig, n := range signalNames {
		if n == name {
			return sig, nil
		}
	}
	return 0, fmt.Errorf("%w: signal %q is not one of KILL, TERM, INT, QUIT, HUP, USR1, USR2", ErrConfig, s)
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Supervisor == nil:
		return fmt.Errorf("%w: Supervisor is nil", ErrConfig)
	case c.Mean < 0:
		return fmt.Errorf("%w: Mean %v is negative", ErrConfig, c.Mean)
	case c.MinGap < 0:
		return fmt.Errorf("%w: MinGap %v is negative", ErrConfig, c.MinGap)
	case c.MinAlive < 0:
		return fmt.Errorf("%w: MinAlive %d is negative", ErrConfig, c.MinAlive)
	case c.Restart && c.Signal != 0:
		return fmt.Errorf("%w: Restart and Signal (%v) are exclusive", ErrConfig, c.Signal)
	case c.Signal != 0 && signalNames[c.Signal] == "":
		return fmt.Errorf("%w: Signal %d (%v) is not one of KILL, TERM, INT, QUIT, HUP, USR1, USR2", ErrConfig, int(c.Signal), c.Signal)
	}
	if c.Restart {
		if _, ok := c.Supervisor.(Restarter); !ok {
			return fmt.Errorf("%w: Restart is set but the Supervisor (%T) does not implement Restarter", ErrConfig, c.Supervisor)
		}
	}
	if err := c.Schedule.Validate(); err != nil {
		return fmt.Errorf("%w: Schedule: %w", ErrConfig, err)
	}
	return nil
}

// Killer kills targets at random times; see the package documentation. A
// Killer is immutable after New and safe for concurrent use; each call to
// Run has its own state and draws the same sequence from the same seed.
type Killer struct {
	cfg  Config
	seed uint64
	log  *slog.Logger
}

// New validates cfg and returns a Killer.
func New(cfg Config) (*Killer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "monkey"
	}
	if cfg.Mean == 0 {
		cfg.Mean = DefaultMean
	}
	if cfg.MinAlive == 0 {
		cfg.MinAlive = DefaultMinAlive
	}
	if cfg.Signal == 0 && !cfg.Restart {
		cfg.Signal = DefaultSignal
	}
	k := &Killer{cfg: cfg, seed: cfg.Seed, log: cfg.Logger}
	for k.seed == 0 {
		k.seed = rand.Uint64()
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	k.log = k.log.With(slog.String("monkey", cfg.Name), slog.Uint64("seed", k.seed))
	return k, nil
}

// MustNew is like New but panics if cfg is invalid.
func MustNew(cfg Config) *Killer {
	k, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return k
}

// Seed returns the seed of the killer's random number generator: Config.Seed,
// or the random seed chosen by New when that was zero.
func (k *Killer) Seed() uint64 { return k.seed }

// Kill records one action of a Killer.
type Kill struct {
	// Time is when the action was taken.
	Time time.Time
	// Target and PID name the target and its process.
	Target string
	PID    int
	// Signal is the signal sent; zero for a restart.
	Signal syscall.Signal
	// Live is the number of live targets counted right before the action.
	Live int
	// DryRun reports that the action was only logged.
	DryRun bool
	// Err is the error of the kill or restart, if it failed.
	Err error
}

// Report summarizes a Run.
type Report struct {
	// Seed is the seed of the run's random number generator.
	Seed uint64
	// Kills lists the actions, in order, including failed ones and, in a dry
	// run, the ones that were only logged.
	Kills []Kill
	// Skipped counts the kills skipped because they would have left fewer
	// than MinAlive live targets.
	Skipped int
}

// Run kills targets until the end of Config.Schedule.Duration, when it
// returns nil, or until ctx ends, when it returns ctx's error. The report
// lists what it did either way.
func (k *Killer) Run(ctx context.Context) (Report, error) {
	r := &run{
		k:      k,
		rng:    rand.New(rand.NewPCG(k.seed, k.seed)),
		killed: make(map[string]int),
		timer:  time.NewTimer(time.Hour),
	}
	r.timer.Stop()
	defer r.timer.Stop()
	rep, err := r.loop(ctx)
	rep.Seed = k.seed
	return rep, err
}

// maxGap caps a drawn gap (about 146 years) so that it converts to a
// time.Duration without overflow.
const maxGap = float64(1 << 62)

// run is the state of one Run.
type run struct {
	k      *Killer
	rng    *rand.Rand
	killed map[string]int // target name → pid signaled and not yet seen dead
	timer  *time.Timer
	rep    Report
}

func (r *run) loop(ctx context.Context) (Report, error) {
	cfg := &r.k.cfg
	start := time.Now()
	action := signalNames[cfg.Signal]
	if cfg.Restart {
		action = "restart"
	}
	r.k.log.InfoContext(ctx, "chaos monkey started",
		slog.Duration("mean", cfg.Mean), slog.Duration("min_gap", cfg.MinGap),
		slog.Int("min_alive", cfg.MinAlive), slog.String("action", action),
		slog.Bool("dry_run", cfg.DryRun), slog.Duration("start_delay", cfg.Schedule.StartDelay),
		slog.Duration("duration", cfg.Schedule.Duration), slog.String("window", cfg.Schedule.Daily.String()))
	cursor := start
	for {
		open, ok := cfg.Schedule.next(start, cursor)
		if !ok {
			break
		}
		if open.After(cursor) {
			if err := r.sleepUntil(ctx, open); err != nil {
				return r.done(ctx, err)
			}
			cursor = open
		}
		gap := max(time.Duration(min(r.rng.ExpFloat64()*float64(cfg.Mean), maxGap)), cfg.MinGap)
		at := cursor.Add(gap)
		if !cfg.Schedule.Allowed(start, at) {
			// The window closes (or the run ends) first. The exponential
			// distribution has no memory, so drawing afresh when the window
			// opens again is the same as counting only time in the window.
			cursor = at
			continue
		}
		if err := r.sleepUntil(ctx, at); err != nil {
			return r.done(ctx, err)
		}
		r.attempt(ctx)
		cursor = at
	}
	if cfg.Schedule.Duration > 0 {
		if err := r.sleepUntil(ctx, start.Add(cfg.Schedule.Duration)); err != nil {
			return r.done(ctx, err)
		}
	}
	return r.done(ctx, nil)
}

func (r *run) done(ctx context.Context, err error) (Report, error) {
	kills := 0
	for _, k := range r.rep.Kills {
		if k.Err == nil {
			kills++
		}
	}
	r.k.log.InfoContext(ctx, "chaos monkey stopped", slog.Int("kills", kills),
		slog.Int("failed", len(r.rep.Kills)-kills), slog.Int("skipped", r.rep.Skipped),
		slog.Bool("dry_run", r.k.cfg.DryRun))
	return r.rep, err
}

// sleepUntil waits until t or until ctx ends.
func (r *run) sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	r.timer.Reset(d)
	select {
	case <-r.timer.C:
		return nil
	case <-ctx.Done():
		r.timer.Stop()
		return ctx.Err()
	}
}

// live returns the targets counted live: alive by the supervisor and not
// signaled by this run since. It forgets the signaled targets that the
// supervisor now reports dead or with a new process.
func (r *run) live(targets []Target) []Target {
	byName := make(map[string]Target, len(targets))
	for _, t := range targets {
		byName[t.Name] = t
	}
	for name, pid := range r.killed {
		if t, ok := byName[name]; !ok || !t.Alive || t.PID != pid {
			delete(r.killed, name)
		}
	}
	live := targets[:0:0]
	for _, t := range targets {
		if t.Alive && t.PID > 0 {
			if pid, ok := r.killed[t.Name]; ok && pid == t.PID {
				continue
			}
			live = append(live, t)
		}
	}
	return live
}

// attempt kills one live target, unless that would leave fewer than
// MinAlive.
func (r *run) attempt(ctx context.Context) {
	cfg := &r.k.cfg
	live := r.live(cfg.Supervisor.Targets())
	if len(live) <= cfg.MinAlive {
		r.rep.Skipped++
		r.k.log.InfoContext(ctx, "chaos monkey skipped a kill: too few live targets",
			slog.Int("live", len(live)), slog.Int("min_alive", cfg.MinAlive))
		return
	}
	t := live[r.rng.IntN(len(live))]
	kill := Kill{Time: time.Now(), Target: t.Name, PID: t.PID, Signal: cfg.Signal, Live: len(live), DryRun: cfg.DryRun}
	attrs := []slog.Attr{
		slog.String("target", t.Name), slog.Int("pid", t.PID), slog.Int("live", len(live)),
	}
	if cfg.Restart {
		attrs = append(attrs, slog.String("signal", "restart"))
	} else {
		attrs = append(attrs, slog.String("signal", signalNames[cfg.Signal]))
	}
	switch {
	case cfg.DryRun:
		r.k.log.LogAttrs(ctx, slog.LevelInfo, "chaos monkey would kill (dry run)", attrs...)
	case cfg.Restart:
		kill.Err = cfg.Supervisor.(Restarter).Restart(ctx, t.Name)
	default:
		kill.Err = syscall.Kill(t.PID, cfg.Signal)
	}
	if !cfg.DryRun {
		if kill.Err != nil {
			attrs = append(attrs, slog.String("err", kill.Err.Error()))
			r.k.log.LogAttrs(ctx, slog.LevelWarn, "chaos monkey kill failed", attrs...)
		} else {
			r.killed[t.Name] = t.PID
			r.k.log.LogAttrs(ctx, slog.LevelInfo, "chaos monkey killed", attrs...)
		}
	}
	r.rep.Kills = append(r.rep.Kills, kill)
}
