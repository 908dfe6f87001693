package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultRollbackTimeout bounds the rollbacks and the stopping of services.
const DefaultRollbackTimeout = time.Minute

// Config configures a [Runner].
type Config struct {
	// Experiment is the experiment to run. Required; it must be valid.
	// The Runner keeps a copy.
	Experiment *Experiment
	// Client sends the load, the probes' and the steps' requests. Nil means
	// a client of the Runner's own, whose idle connections are closed at
	// the end of each run.
	Client *http.Client
	// Logger receives a record for the start and end of the run, each step,
	// each violated probe and each service started or stopped. Nil means
	// slog.Default().
	Logger *slog.Logger
	// ServiceOutput returns where a service's standard output and error go.
	// Nil, or a nil writer, discards them.
	ServiceOutput func(service string) io.Writer
	// RollbackTimeout bounds the rollbacks and the stopping of services,
	// which run even after the run's context has ended. Zero means
	// DefaultRollbackTimeout.
	RollbackTimeout time.Duration
}

// Validate reports whether cfg can build a Runner.
func (c *Config) Validate() error {
	if c.Experiment == nil {
		return fmt.Errorf("%w: Config.Experiment is nil", ErrInvalid)
	}
	if c.RollbackTimeout < 0 {
		return fmt.Errorf("%w: Config.RollbackTimeout %v is negative", ErrInvalid, c.RollbackTimeout)
	}
	return c.Experiment.Validate()
}

// Runner runs an experiment. Run may be called more than once, one run at
// a time: runs share the services' names and ports.
type Runner struct {
	cfg   Config
	x     Experiment
	start starter
}

// New returns a Runner for cfg, or the errors of cfg.Validate.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RollbackTimeout == 0 {
		cfg.RollbackTimeout = DefaultRollbackTimeout
	}
	return &Runner{cfg: cfg, x: *cfg.Experiment, start: startExec}, nil
}

// MustNew is New that panics on an invalid Config.
func MustNew(cfg Config) *Runner {
	r, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return r
}

// run is the state of one run.
type run struct {
	x          *Experiment
	client     *http.Client
	log        *slog.Logger
	services   *services
	load       *load
	window     time.Duration
	journal    *Journal
	faults     []addedFault
	partitions []partitioned
	violations []string
}

// Run runs the experiment: it starts the services, starts the load, checks
// the hypothesis over one window, runs the method step by step checking
// the hypothesis after each step, checks it once more one window after the
// method, stops the load, undoes the method's faults and partitions, runs
// the rollbacks and stops the services. The rollbacks and the stopping of
// services happen whatever went wrong before, also when ctx ends, within
// Config.RollbackTimeout.
//
// The Journal is never nil. The error is nil when the method ran to its
// end, whether or not the hypothesis held (see Journal.Held and
// Journal.Deviated); otherwise it says why the run ended early: a
// *StepError, ErrNotSteady, ErrDeviated (FailFast), an ErrService error, or
// ctx's error.
func (rn *Runner) Run(ctx context.Context) (*Journal, error) {
	x := rn.x
	if x.Seed == 0 {
		x.Seed = rand.Uint64() //nolint:gosec // a seed, logged so that the run can be replayed
	}
	client := rn.cfg.Client
	if client == nil {
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
		}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	log := rn.cfg.Logger.With(slog.String("experiment", x.Title), slog.Uint64("seed", x.Seed))
	r := &run{
		x:        &x,
		client:   client,
		log:      log,
		services: newServices(x.Services, rn.start, client, rn.cfg.ServiceOutput, log),
		window:   time.Duration(or(x.SteadyState.Window, DefaultWindow)),
		journal: &Journal{
			Experiment: x.Title, Description: x.Description, Seed: x.Seed, Start: time.Now(),
			Series: []Second{}, Steps: []StepRecord{}, Probes: []ProbeRecord{}, Rollbacks: []StepRecord{},
		},
	}
	log.InfoContext(ctx, "experiment: started")
	err := r.main(ctx)
	r.cleanup(ctx, rn.cfg.RollbackTimeout)
	r.finish(err)
	log.InfoContext(ctx, "experiment: ended", slog.String("status", string(r.journal.Status)),
		slog.Bool("deviated", r.journal.Deviated), slog.String("verdict", r.journal.Verdict))
	return r.journal, err
}

// main runs everything up to the rollbacks.
func (r *run) main(ctx context.Context) error {
	j := r.journal
	if err := r.services.startAll(ctx); err != nil {
		return err
	}
	r.postEvent(ctx, "experiment_started", r.x.Title)
	if r.x.Load != nil {
		r.load = newLoad(*r.x.Load, r.client, r.x.Seed)
		loadCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		loadStart := time.Now()
		go func() {
			defer close(done)
			r.load.run(loadCtx)
		}()
		defer func() {
			stop()
			<-done
			res := r.load.snapshot()
			j.Series = seriesOf(res, loadStart, time.Now())
			sum := &LoadSummary{URL: r.x.Load.URL, Method: or(r.x.Load.Method, http.MethodGet), Rate: r.x.Load.Rate, Requests: len(res)}
			for i := range res {
				if !res[i].ok {
					sum.Errors++
				}
			}
			sum.Dropped = r.load.dropped
			j.Load = sum
		}()
	}

	// Before: the steady state must hold, or the method is pointless.
	if err := sleep(ctx, r.window); err != nil {
		return err
	}
	if !r.probe(ctx, PhaseBefore, -1) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrNotSteady
	}

	for i := range r.x.Method {
		s := &r.x.Method[i]
		rec := StepRecord{Index: i, Type: s.Type, Name: s.label(), Start: time.Now()}
		r.log.InfoContext(ctx, "experiment: step", slog.Int("step", i), slog.String("name", rec.Name))
		r.postEvent(ctx, "experiment_step", rec.Name)
		detail, err := r.runStep(ctx, s)
		rec.End, rec.Detail, rec.Status = time.Now(), detail, "ok"
		if err != nil {
			rec.Status, rec.Error = "failed", err.Error()
			j.Steps = append(j.Steps, rec)
			r.log.ErrorContext(ctx, "experiment: step failed", slog.Int("step", i), slog.String("name", rec.Name), slog.Any("error", err))
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &StepError{Phase: "method", Index: i, Step: rec.Name, Err: err}
		}
		j.Steps = append(j.Steps, rec)
		if !r.probe(ctx, PhaseDuring, i) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if r.x.FailFast {
				return ErrDeviated
			}
		}
	}

	// After: one window of traffic after the last step.
	if err := sleep(ctx, r.window); err != nil {
		return err
	}
	r.probe(ctx, PhaseAfter, -1)
	return ctx.Err()
}

// probe evaluates every probe and reports whether all held.
func (r *run) probe(ctx context.Context, phase string, step int) bool {
	now := time.Now()
	var w window
	if r.load != nil {
		w = windowOf(r.load.snapshot(), now.Add(-r.window), now)
	}
	held := true
	for i := range r.x.SteadyState.Probes {
		p := &r.x.SteadyState.Probes[i]
		var rec ProbeRecord
		if p.Type == ProbeHTTP {
			rec = evalHTTPProbe(ctx, r.client, p)
		} else {
			rec = evalLoadProbe(p, w)
		}
		rec.Phase, rec.Step, rec.Time = phase, step, now
		r.journal.Probes = append(r.journal.Probes, rec)
		if rec.OK {
			continue
		}
		held = false
		if ctx.Err() != nil {
			continue // interrupted: not a finding
		}
		var where string
		switch {
		case step >= 0:
			where = fmt.Sprintf("after step %d (%s)", step+1, r.journal.Steps[len(r.journal.Steps)-1].Name)
		case phase == PhaseBefore:
			where = "before the method"
		default:
			where = "after the method"
		}
		v := fmt.Sprintf("%s %s: %g%s, want %s (%s)", p.Name, where, rec.Value, rec.Unit, rec.Threshold, rec.Detail)
		if phase != PhaseBefore {
			r.journal.Deviated = true
		}
		r.violations = append(r.violations, v)
		r.log.WarnContext(ctx, "experiment: probe failed", slog.String("probe", p.Name), slog.String("phase", phase),
			slog.Int("step", step), slog.Float64("value", rec.Value), slog.String("threshold", rec.Threshold), slog.String("detail", rec.Detail))
		r.postEvent(ctx, "experiment_deviation", v)
	}
	return held
}

// cleanup undoes the method's faults and partitions, runs the rollbacks and
// stops the services, with a context that outlives ctx by timeout.
func (r *run) cleanup(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	j := r.journal
	for _, f := range r.faults {
		rec := StepRecord{Index: len(j.Rollbacks), Type: StepClearFaults, Name: "remove fault " + f.id, Start: time.Now(), Automatic: true, Status: "ok"}
		status, body, err := r.admin(ctx, http.MethodDelete, f.gateway+"/faults/"+f.id, f.token, nil)
		switch {
		case err != nil:
			rec.Status, rec.Error = "failed", err.Error()
		case status == http.StatusNotFound:
			rec.Detail = "already gone (expired or cleared)"
		case status/100 != 2:
			rec.Status, rec.Error = "failed", fmt.Sprintf("status %d: %s", status, abbrev(body))
		default:
			rec.Detail = "removed"
		}
		rec.End = time.Now()
		j.Rollbacks = append(j.Rollbacks, rec)
	}
	for _, p := range r.partitions {
		rec := StepRecord{Index: len(j.Rollbacks), Type: StepHeal, Name: "heal " + p.proxy, Start: time.Now(), Automatic: true, Status: "ok", Detail: "enabled proxy " + p.proxy}
		if err := r.setProxy(ctx, p.api, p.proxy, true); err != nil {
			rec.Status, rec.Error, rec.Detail = "failed", err.Error(), ""
		}
		rec.End = time.Now()
		j.Rollbacks = append(j.Rollbacks, rec)
	}
	for i := range r.x.Rollbacks {
		s := &r.x.Rollbacks[i]
		rec := StepRecord{Index: len(j.Rollbacks), Type: s.Type, Name: s.label(), Start: time.Now(), Status: "ok"}
		detail, err := r.runStep(ctx, s)
		rec.End, rec.Detail = time.Now(), detail
		if err != nil {
			rec.Status, rec.Error = "failed", err.Error()
			r.log.ErrorContext(ctx, "experiment: rollback failed", slog.Int("rollback", i), slog.String("name", rec.Name), slog.Any("error", err))
		}
		j.Rollbacks = append(j.Rollbacks, rec)
	}
	r.postEvent(ctx, "experiment_ended", r.x.Title)
	r.services.stopAll()
}

// finish sets the journal's status and verdict from the run's error.
func (r *run) finish(err error) {
	j := r.journal
	j.End = time.Now()
	var se *StepError
	switch {
	case err == nil:
		j.Status = StatusCompleted
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		j.Status = StatusInterrupted
	case errors.Is(err, ErrNotSteady), errors.Is(err, ErrDeviated):
		j.Status = StatusAborted
	default:
		j.Status = StatusFailed
	}
	if err != nil {
		j.Error = err.Error()
	}
	j.Held = j.Status == StatusCompleted && !j.Deviated
	violations := ""
	if len(r.violations) > 0 {
		violations = " " + strings.Join(r.violations, "; ")
	}
	switch {
	case j.Held:
		j.Verdict = "The hypothesis held: every probe passed before, during and after the method."
	case errors.As(err, &se):
		j.Verdict = fmt.Sprintf("The run failed: step %d (%s) failed: %v.", se.Index+1, se.Step, se.Err)
	case j.Status == StatusInterrupted:
		j.Verdict = "The run was interrupted."
	case errors.Is(err, ErrNotSteady):
		j.Verdict = "No steady state before the method, which was not run:" + violations
	case errors.Is(err, ErrService):
		j.Verdict = fmt.Sprintf("The run failed: %v.", err)
	default:
		j.Verdict = "The hypothesis was violated:" + violations
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
