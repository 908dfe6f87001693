package timeout

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/internal/deadline"
)

// Policy bounds the run time of operations. Create one with [New]; it
// implements keel.Policy and keel.Executor.
//
// The zero Policy is not usable. A Policy is safe for concurrent use.
type Policy struct {
	name         string
	obs          keel.Observer
	timeout      time.Duration
	returnOnTime bool

	abandoned atomic.Int64 // operations abandoned and still running
}

// New returns a Policy configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Policy{
		name:         cfg.Name,
		obs:          cfg.Observer,
		timeout:      cfg.Timeout,
		returnOnTime: cfg.ReturnOnTime,
	}, nil
}

// MustNew is like New but panics if cfg is invalid. It is meant for
// configurations fixed in code.
func MustNew(cfg Config) *Policy {
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// Abandoned returns the number of operations this Policy returned from on
// time that are still running. It is always zero in cooperative mode.
func (p *Policy) Abandoned() int { return int(p.abandoned.Load()) }

// Do runs op with a context whose deadline is the sooner of ctx's and
// Timeout from now, and returns:
//
//   - op's error as is if op returned nil, returned before the deadline, or
//     returned after ctx itself ended (a late success is a success: its work
//     is done);
//   - a [*ExceededError] wrapping op's error if op failed at or after the
//     deadline while ctx was live, and emits EventTimeout;
//   - in return-on-time mode, if op is still running at the deadline, a
//     *ExceededError with a nil Err at the deadline (EventTimeout and
//     EventAbandoned), or, if ctx ends first, an error that unwraps to
//     ctx.Err() (EventAbandoned). Both implement keel.StillRunning.
//
// A panic in op reaches the caller of Do, also in return-on-time mode if it
// happens before Do returned. ctx must not be nil.
func (p *Policy) Do(ctx context.Context, op func(context.Context) error) error {
	return p.run(ctx, nil, op)
}

// Wrap returns a keel.Handler that runs next with the Policy's timeout, as Do
// runs op.
func (p *Policy) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return p.run(ctx, next, op)
	}
}

func (p *Policy) run(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	if p.returnOnTime {
		return p.runReturnOnTime(ctx, next, op)
	}
	start := time.Now()
	dl := start.Add(p.timeout)
	if pd, ok := ctx.Deadline(); ok && !pd.After(dl) {
		// The caller's deadline comes first: it already bounds op.
		return call(ctx, next, op)
	}
	dc := deadline.New(ctx, dl)
	defer dc.Cancel() // also when op panics
	err := call(dc, next, op)
	return p.result(ctx, dl, err)
}

// result turns the error of an operation that returned into the Policy's
// error.
func (p *Policy) result(ctx context.Context, dl time.Time, err error) error {
	if err == nil || ctx.Err() != nil || time.Now().Before(dl) {
		return err
	}
	return p.exceeded(ctx, err, nil)
}

func (p *Policy) exceeded(ctx context.Context, err error, r *run) error {
	e := &ExceededError{Name: p.name, Timeout: p.timeout, Err: err, run: r}
	if p.obs != nil {
		p.emit(ctx, keel.Event{Kind: keel.EventTimeout, Duration: p.timeout, Err: e})
	}
	return e
}

func (p *Policy) emit(ctx context.Context, e keel.Event) {
	e.Policy = "timeout"
	e.Name = p.name
	e.Time = time.Now()
	p.obs.Observe(ctx, e)
}

func call(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	if next == nil {
		return op(ctx)
	}
	return next(ctx, op)
}

// run is one operation started in return-on-time mode. Its goroutine always
// runs to the operation's end; done is closed then.
type run struct {
	p     *Policy
	ctx   context.Context // the caller's, for events
	start time.Time
	done  chan struct{}

	mu        sync.Mutex
	finished  bool // op returned (or panicked); result fields are set
	abandoned bool // the caller returned without waiting for op
	err       error
	panicked  bool
	goexit    bool
	value     any // what op panicked with
	exitFuncs []func()
}

func (p *Policy) runReturnOnTime(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	start := time.Now()
	dl := start.Add(p.timeout)
	r := &run{p: p, ctx: ctx, start: start, done: make(chan struct{})}
	opCtx := context.Context(ctx)
	var dc *deadline.Context
	if pd, ok := ctx.Deadline(); !ok || pd.After(dl) {
		dc = deadline.New(ctx, dl)
		opCtx = dc
	}
	go r.exec(opCtx, dc, next, op)

	t := time.NewTimer(p.timeout)
	defer t.Stop()
	timedOut := false
	select {
	case <-r.done:
		return r.result(dl)
	case <-t.C:
		timedOut = true
	case <-ctx.Done():
	}

	r.mu.Lock()
	if r.finished { // returned in the same instant
		r.mu.Unlock()
		return r.result(dl)
	}
	r.abandoned = true
	p.abandoned.Add(1)
	r.mu.Unlock()

	var err error
	if timedOut {
		err = p.exceeded(ctx, nil, r)
	} else {
		err = &abandonedError{err: ctx.Err(), run: r}
	}
	if p.obs != nil {
		p.emit(ctx, keel.Event{Kind: keel.EventAbandoned, Duration: time.Since(start), Err: err})
	}
	return err
}

// result returns what the caller of a finished, not abandoned run gets,
// re-raising a panic of op on the caller's goroutine.
func (r *run) result(dl time.Time) error {
	// r.done is closed or r.finished was seen under r.mu: fields are set.
	switch {
	case r.goexit:
		runtime.Goexit()
	case r.panicked:
		panic(r.value)
	}
	return r.p.result(r.ctx, dl, r.err)
}

func (r *run) exec(ctx context.Context, dc *deadline.Context, next keel.Handler, op func(context.Context) error) {
	var err error
	returned := false
	defer func() {
		if dc != nil {
			dc.Cancel()
		}
		var v any
		if !returned {
			v = recover() // nil: op called runtime.Goexit
		}
		r.finish(err, !returned, v)
	}()
	err = call(ctx, next, op)
	returned = true
}

func (r *run) finish(err error, panicked bool, v any) {
	r.mu.Lock()
	r.finished = true
	r.err, r.panicked, r.value = err, panicked && v != nil, v
	r.goexit = panicked && v == nil
	abandoned := r.abandoned
	fs := r.exitFuncs
	r.exitFuncs = nil
	r.mu.Unlock()
	close(r.done)
	if !abandoned {
		return
	}

	r.p.abandoned.Add(-1)
	for _, f := range fs {
		f()
	}
	if r.p.obs != nil {
		if panicked {
			err = &panicError{value: v}
		}
		r.p.emit(r.ctx, keel.Event{Kind: keel.EventAbandonedExit, Duration: time.Since(r.start), Err: err})
	}
}

func (r *run) afterExit(f func()) {
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		f()
		return
	}
	r.exitFuncs = append(r.exitFuncs, f)
	r.mu.Unlock()
}

var (
	_ keel.Policy       = (*Policy)(nil)
	_ keel.Executor     = (*Policy)(nil)
	_ keel.StillRunning = (*ExceededError)(nil)
	_ keel.StillRunning = (*abandonedError)(nil)
)
