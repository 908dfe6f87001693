package breaker

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/internal/window"
)

// The state word packs the state into its low byte and the generation above.
const (
	stateMask = 0xff
	genShift  = 8
)

// errPanicked is the Err of the failure event recorded for a panicking
// operation.
var errPanicked = errors.New("breaker: operation panicked")

// Breaker is a circuit breaker. It implements keel.Policy and keel.Executor,
// and offers a two-step API ([Breaker.Allow] and [Permit.Done]) for callers
// that cannot wrap the call in a closure.
//
// A Breaker is safe for concurrent use. Use [New] or [MustNew]; the zero
// Breaker is not usable.
type Breaker struct {
	// Read on every call; written only on transitions.
	word      atomic.Uint64             // state | generation<<genShift
	openUntil atomic.Int64              // Unix nanoseconds at which Open ends
	halfUntil atomic.Int64              // Unix nanoseconds at which HalfOpen gives up
	openErr   atomic.Pointer[OpenError] // last Open rejection, reused while exact

	cfg      Config // with defaults applied
	timed    bool   // finishing a call needs the clock (time window, slow calls, events)
	measured bool   // calls need their start time (slow calls, events)
	slowRule bool   // the slow-call rate opens the breaker
	base     time.Time
	baseUnix int64
	errHalf  *OpenError
	errForce *OpenError

	_ [64]byte // keep the lock's cache line apart from the read-mostly fields

	mu        sync.Mutex
	count     *window.Count // CountBased
	tw        *window.Time  // TimeBased
	probes    int           // half-open probes in flight
	successes int           // half-open probes that succeeded
	openings  int           // consecutive openings since the breaker last closed
}

// New returns a closed breaker configured by cfg, or the error of
// cfg.Validate.
func New(cfg Config) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	b := &Breaker{
		cfg:      c,
		slowRule: c.SlowCallDuration > 0 && c.SlowCallRateThreshold < 100,
		timed:    c.WindowType == TimeBased || c.SlowCallDuration > 0 || c.Observer != nil,
		measured: c.SlowCallDuration > 0 || c.Observer != nil,
		base:     time.Now(),
		errHalf:  &OpenError{State: HalfOpen, Name: c.Name},
		errForce: &OpenError{State: ForcedOpen, Name: c.Name},
	}
	b.baseUnix = b.base.UnixNano()
	if c.WindowType == TimeBased {
		b.tw = window.NewTime(c.WindowSize, int64(time.Second))
	} else {
		b.count = window.NewCount(c.WindowSize)
	}
	return b, nil
}

// MustNew is like New but panics if cfg is invalid. It is meant for
// configuration known at compile time.
func MustNew(cfg Config) *Breaker {
	b, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Name returns the configured name.
func (b *Breaker) Name() string { return b.cfg.Name }

// now reads the clock: wall time at construction plus monotonic time since,
// so a wall-clock step does not move the windows.
func (b *Breaker) now() int64 { return b.baseUnix + int64(time.Since(b.base)) }

// Permit is the right to run one call, handed out by [Breaker.Allow]. Report
// the call's outcome exactly once with [Permit.Done] or [Permit.DoneAt]; a
// half-open probe permit is held until then. Reporting a permit twice is a
// bug: the second report may free a probe slot that another call holds. The
// zero Permit's Done does nothing. A Permit is a small value; copying it is
// cheap, and it is safe to hand to another goroutine.
//
// A Permit carries the breaker's generation: if the breaker has changed state
// since the permit was issued, its outcome is ignored, so a call started while
// closed that finishes after the breaker opened and half-opened never counts
// as a probe.
type Permit struct {
	b     *Breaker
	gen   uint64
	start int64 // Unix nanoseconds, when measured
	pass  bool  // issued by a disabled breaker: nothing to record
}

// Allow asks to run one call now. On success the caller runs the call and
// then calls Done on the permit; otherwise the error is an *OpenError and the
// call must not run. In the closed state Allow takes no lock, and reads the
// clock only if slow-call detection or an Observer needs the start time.
// Events it emits carry context.Background().
func (b *Breaker) Allow() (Permit, error) {
	return b.allow(context.Background(), 0, false)
}

// AllowAt is Allow at time now. Pure tests drive a breaker with AllowAt,
// DoneAt, StateAt and MetricsAt only; mixing them with the clock-reading
// variants works as long as the times given are close to the real time.
func (b *Breaker) AllowAt(now time.Time) (Permit, error) {
	return b.allow(context.Background(), now.UnixNano(), true)
}

func (b *Breaker) allow(ctx context.Context, now int64, haveNow bool) (Permit, error) {
	w := b.word.Load()
	switch State(w & stateMask) {
	case Closed, MetricsOnly:
		if !haveNow && b.measured {
			now = b.now()
		}
		return Permit{b: b, gen: w >> genShift, start: now}, nil
	case Disabled:
		return Permit{b: b, pass: true}, nil
	case ForcedOpen:
		if b.cfg.Observer != nil {
			if !haveNow {
				now = b.now()
			}
			b.emitRejected(ctx, now, keel.ReasonCircuitOpen)
		}
		return Permit{}, b.errForce
	case Open:
		if !haveNow {
			now = b.now()
		}
		if until := b.openUntil.Load(); now < until {
			err := b.openError(now, until)
			if b.cfg.Observer != nil {
				b.emitRejected(ctx, now, keel.ReasonCircuitOpen)
			}
			return Permit{}, err
		}
	}
	if !haveNow {
		now = b.now()
	}
	return b.allowLocked(ctx, now)
}

// openError returns the rejection error for an Open breaker that opens until
// until. Remaining is rounded up to the millisecond, and the error is shared
// by every rejection within that millisecond, so rejecting allocates at most
// once per millisecond.
func (b *Breaker) openError(now, until int64) *OpenError {
	d := time.Duration(until - now)
	if e := b.openErr.Load(); e != nil && e.Remaining >= d && e.Remaining-d < time.Millisecond {
		return e
	}
	r := (d + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	e := &OpenError{State: Open, Remaining: r, Name: b.cfg.Name}
	b.openErr.Store(e)
	return e
}

// allowLocked is the slow path of allow: half-open probes, forced open, and
// the move from open to half-open.
func (b *Breaker) allowLocked(ctx context.Context, now int64) (Permit, error) {
	var (
		p      Permit
		err    error
		reason keel.Reason
	)
	b.mu.Lock()
	tr := b.expireLocked(now)
	w := b.word.Load()
	switch State(w & stateMask) {
	case Closed, MetricsOnly:
		p = Permit{b: b, gen: w >> genShift, start: now}
	case Disabled:
		p = Permit{b: b, pass: true}
	case HalfOpen:
		if b.probes < b.cfg.HalfOpenPermits {
			b.probes++
			p = Permit{b: b, gen: w >> genShift, start: now}
		} else {
			err, reason = b.errHalf, keel.ReasonHalfOpenFull
		}
	case ForcedOpen:
		err, reason = b.errForce, keel.ReasonCircuitOpen
	case Open:
		err, reason = b.openError(now, b.openUntil.Load()), keel.ReasonCircuitOpen
	}
	b.mu.Unlock()
	if b.cfg.Observer != nil {
		b.emitTransition(ctx, tr)
		if err != nil {
			b.emitRejected(ctx, now, reason)
		}
	}
	return p, err
}

// Done reports the outcome of the permitted call, reading the clock if a time
// window, slow-call detection or an Observer needs it. OutcomeFailure and
// OutcomePermanent (and any unknown Outcome) count as failures;
// OutcomeNeutral releases the permit and counts nothing. Events carry
// context.Background().
func (p Permit) Done(o keel.Outcome) {
	b := p.b
	if b == nil || p.pass {
		return
	}
	b.done(context.Background(), p, o, nil, 0, false)
}

// DoneAt is Done at time now; see [Breaker.AllowAt].
func (p Permit) DoneAt(now time.Time, o keel.Outcome) {
	if p.b == nil || p.pass {
		return
	}
	p.b.done(context.Background(), p, o, nil, now.UnixNano(), true)
}

// done records one finished call. Without haveNow, it reads the clock only
// when the window, slow-call detection, an event or a transition needs it.
func (b *Breaker) done(ctx context.Context, p Permit, o keel.Outcome, err error, now int64, haveNow bool) {
	if !haveNow && b.timed {
		now, haveNow = b.now(), true
	}
	failed := o != keel.OutcomeSuccess && o != keel.OutcomeNeutral
	counted := o != keel.OutcomeNeutral
	slow := b.cfg.SlowCallDuration > 0 && now-p.start >= int64(b.cfg.SlowCallDuration)
	var tr transition
	recorded := false

	b.mu.Lock()
	w := b.word.Load()
	if w>>genShift == p.gen {
		switch State(w & stateMask) {
		case Closed:
			if counted {
				recorded = true
				if c := b.recordLocked(now, failed, slow); b.tripped(c) {
					if !haveNow {
						now = b.now()
					}
					tr = b.openLocked(now)
				}
			}
		case MetricsOnly:
			if counted {
				recorded = true
				b.recordLocked(now, failed, slow)
			}
		case HalfOpen:
			if b.probes > 0 { // a permit reported twice must not go below zero
				b.probes--
			}
			if !haveNow {
				now = b.now()
			}
			if now >= b.halfUntil.Load() {
				// HalfOpenMaxWait passed before this probe reported: the
				// breaker had given up on the probes already.
				tr = b.openLocked(now)
				break
			}
			if counted {
				recorded = true
				if failed || (slow && b.slowRule) {
					tr = b.openLocked(now)
				} else if b.successes++; b.successes >= b.cfg.SuccessesToClose {
					tr = b.setLocked(Closed, now)
					b.clearLocked()
				}
			}
		}
	}
	b.mu.Unlock()

	if b.cfg.Observer != nil {
		if recorded {
			kind := keel.EventSuccess
			if failed {
				kind = keel.EventFailure
			}
			e := b.event(kind, now)
			e.Duration = time.Duration(now - p.start)
			e.Outcome = o
			e.Err = err
			b.cfg.Observer.Observe(ctx, e)
		}
		b.emitTransition(ctx, tr)
	}
}

// recordLocked adds a call to the window and returns the window's totals.
func (b *Breaker) recordLocked(now int64, failed, slow bool) window.Counts {
	if b.tw != nil {
		return b.tw.Record(now, failed, slow)
	}
	return b.count.Record(failed, slow)
}

// tripped reports whether totals c open a closed breaker.
func (b *Breaker) tripped(c window.Counts) bool {
	if c.Calls < b.cfg.MinimumCalls || c.Calls == 0 {
		return false
	}
	calls := float64(c.Calls)
	if float64(c.Failures)*100 >= b.cfg.FailureRateThreshold*calls {
		return true
	}
	return b.slowRule && float64(c.Slow)*100 >= b.cfg.SlowCallRateThreshold*calls
}

// transition is a state change decided under the lock and reported after it.
type transition struct {
	from, to State
	at       int64
	ok       bool
}

// setLocked moves to state to, starting a new generation: permits issued
// before are ignored from now on.
func (b *Breaker) setLocked(to State, now int64) transition {
	w := b.word.Load()
	from := State(w & stateMask)
	b.word.Store((w>>genShift+1)<<genShift | uint64(to))
	b.probes, b.successes = 0, 0
	return transition{from: from, to: to, at: now, ok: from != to}
}

// clearLocked empties the window and forgets consecutive openings.
func (b *Breaker) clearLocked() {
	if b.tw != nil {
		b.tw.Reset()
	} else {
		b.count.Reset()
	}
	b.openings = 0
}

// openLocked opens the breaker for the next open duration.
func (b *Breaker) openLocked(now int64) transition {
	b.openings++
	d := b.openDurationLocked()
	until := now + int64(d)
	if until < now { // overflow
		until = math.MaxInt64
	}
	b.openUntil.Store(until)
	return b.setLocked(Open, now)
}

// openDurationLocked returns the length of the current opening: OpenDuration
// grown by OpenDurationMultiplier per consecutive opening, capped at
// MaxOpenDuration, then jittered by ±OpenJitter.
func (b *Breaker) openDurationLocked() time.Duration {
	c := &b.cfg
	d := float64(c.OpenDuration)
	if c.OpenDurationMultiplier > 1 && b.openings > 1 {
		d *= math.Pow(c.OpenDurationMultiplier, float64(b.openings-1))
	}
	d = min(d, float64(c.MaxOpenDuration))
	if c.OpenJitter > 0 {
		var r float64
		if c.Rand != nil {
			r = c.Rand.Float64()
		} else {
			r = rand.Float64()
		}
		d *= 1 - c.OpenJitter + 2*c.OpenJitter*r
	}
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// expireLocked moves an open breaker whose open duration has passed to
// half-open, and a half-open breaker past HalfOpenMaxWait back to open.
func (b *Breaker) expireLocked(now int64) transition {
	switch State(b.word.Load() & stateMask) {
	case Open:
		if now >= b.openUntil.Load() {
			until := int64(math.MaxInt64)
			if w := int64(b.cfg.HalfOpenMaxWait); w > 0 && now+w > now {
				until = now + w
			}
			b.halfUntil.Store(until)
			return b.setLocked(HalfOpen, now)
		}
	case HalfOpen:
		if now >= b.halfUntil.Load() {
			return b.openLocked(now)
		}
	}
	return transition{}
}

// expired reports whether state st has timed out at now, so that reading the
// state must take the lock and move it on.
func (b *Breaker) expired(st State, now int64) bool {
	switch st {
	case Open:
		return now >= b.openUntil.Load()
	case HalfOpen:
		return now >= b.halfUntil.Load()
	}
	return false
}

// Do runs op if the breaker allows it and records its outcome, classified by
// Config.Classifier. A rejected call returns an *OpenError without running
// op. If op panics, the call is recorded as a failure, its permit released,
// and the panic continues.
func (b *Breaker) Do(ctx context.Context, op func(context.Context) error) error {
	return b.run(ctx, op, nil)
}

// Wrap returns a Handler that guards next with the breaker, as Do does.
func (b *Breaker) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return b.run(ctx, op, next)
	}
}

func (b *Breaker) run(ctx context.Context, op func(context.Context) error, next keel.Handler) error {
	p, err := b.allow(ctx, 0, false)
	if err != nil {
		return err
	}
	if p.pass {
		if next != nil {
			return next(ctx, op)
		}
		return op(ctx)
	}
	finished := false
	defer func() {
		if !finished {
			b.finish(ctx, p, keel.OutcomeFailure, errPanicked)
		}
	}()
	if next != nil {
		err = next(ctx, op)
	} else {
		err = op(ctx)
	}
	finished = true
	b.finish(ctx, p, b.cfg.Classifier.Classify(ctx, err), err)
	return err
}

func (b *Breaker) finish(ctx context.Context, p Permit, o keel.Outcome, err error) {
	b.done(ctx, p, o, err, 0, false)
}

func (b *Breaker) event(kind keel.EventKind, now int64) keel.Event {
	return keel.Event{Kind: kind, Policy: "breaker", Name: b.cfg.Name, Time: time.Unix(0, now)}
}

func (b *Breaker) emitRejected(ctx context.Context, now int64, r keel.Reason) {
	e := b.event(keel.EventRejected, now)
	e.Reason = r
	b.cfg.Observer.Observe(ctx, e)
}

func (b *Breaker) emitTransition(ctx context.Context, tr transition) {
	if !tr.ok || b.cfg.Observer == nil {
		return
	}
	e := b.event(keel.EventStateChange, tr.at)
	e.From, e.To = tr.from.String(), tr.to.String()
	b.cfg.Observer.Observe(ctx, e)
}

var (
	_ keel.Policy   = (*Breaker)(nil)
	_ keel.Executor = (*Breaker)(nil)
)
