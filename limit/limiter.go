package limit

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel"
)

// Limiter bounds how many operations run at once with a limit that an
// [Algorithm] adapts from the latency and drops it observes. Create one with
// [New]; it implements keel.Policy and keel.Executor, and offers the two-step
// [Limiter.Acquire] / [Permit.Done] API with no closure.
//
// A Limiter is safe for concurrent use. Use New: the zero Limiter is not
// usable.
type Limiter struct {
	name     string
	obs      keel.Observer
	classify keel.Classifier
	lo, hi   float64
	maxQueue int
	maxWait  time.Duration
	order    QueueOrder

	// algMu serializes alg.Update and guards limit; mu is never held while
	// taking it, and it is held across Update without mu.
	algMu sync.Mutex
	alg   Algorithm
	limit float64 // unrounded, guarded by algMu

	mu         sync.Mutex
	capacity   int     // int(limit): permits that may be held, guarded by mu
	inFlight   int     // guarded by mu
	queued     int     // guarded by mu
	head, tail *waiter // guarded by mu
}

// waiter is a caller queued for a permit. A releasing caller grants it by
// unlinking it, setting granted and inFlight and closing ready, under mu.
type waiter struct {
	prev, next *waiter
	ready      chan struct{}
	granted    bool
	inFlight   int
}

// New returns a Limiter configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	initial, lo, hi := cfg.bounds()
	alg := cfg.Algorithm
	if alg == nil {
		alg = &AIMD{}
	}
	return &Limiter{
		name:     cfg.Name,
		obs:      cfg.Observer,
		classify: cfg.Classifier,
		lo:       float64(lo),
		hi:       float64(hi),
		maxQueue: cfg.MaxQueue,
		maxWait:  cfg.MaxWait,
		order:    cfg.QueueOrder,
		alg:      alg,
		limit:    float64(initial),
		capacity: initial,
	}, nil
}

// MustNew is like New but panics if cfg is invalid.
func MustNew(cfg Config) *Limiter {
	l, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return l
}

// Limit returns the current limit: how many permits may be held at once.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.capacity
}

// InFlight returns the number of permits held.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// Queued returns the number of callers waiting for a permit.
func (l *Limiter) Queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queued
}

// Permit is a permit held from a Limiter. Finish it with Done or DoneAt
// exactly once.
//
// The zero Permit holds nothing; Done on it does nothing. A Permit is a small
// value and is not safe for concurrent use.
type Permit struct {
	l        *Limiter
	ctx      context.Context
	start    time.Time
	inFlight int
}

// Done returns the permit and reports how the operation went: it is
// DoneAt(time.Now(), outcome).
func (p *Permit) Done(outcome keel.Outcome) { p.DoneAt(time.Now(), outcome) }

// DoneAt returns the permit and feeds the algorithm one sample whose RTT runs
// from the moment the permit was granted to now. OutcomeSuccess and
// OutcomePermanent (the dependency answered) are latency samples;
// OutcomeFailure is a drop; OutcomeNeutral (the caller gave up) gives no
// sample. DoneAt clears p, so a second call does nothing. Copies of a Permit
// are separate handles to one permit: finish only one of them.
func (p *Permit) DoneAt(now time.Time, outcome keel.Outcome) {
	l := *p
	if l.l == nil {
		return
	}
	*p = Permit{}
	l.l.done(l, now, outcome)
}

// Acquire takes a permit if fewer than Limit are held and nobody is queued;
// otherwise it waits in the queue if there is room. It returns a
// [*LimitedError] if there is no room, MaxWait passes, or ctx ends while it
// waits. A caller that finds a free permit and nobody queued gets it even if
// ctx has already ended. Acquire allocates only when it has to wait.
func (l *Limiter) Acquire(ctx context.Context) (Permit, error) {
	l.mu.Lock()
	if l.inFlight < l.capacity && l.head == nil {
		l.inFlight++
		inFlight, queued := l.inFlight, l.queued
		l.mu.Unlock()
		now := time.Now()
		if l.obs != nil {
			l.emit(ctx, now, keel.Event{Kind: keel.EventAcquired, InFlight: inFlight, Queued: queued})
		}
		return Permit{l: l, ctx: ctx, start: now, inFlight: inFlight}, nil
	}
	if l.queued >= l.maxQueue {
		lim, inFlight := l.capacity, l.inFlight
		l.mu.Unlock()
		return Permit{}, l.reject(ctx, keel.ReasonLimit, lim, inFlight, 0, nil)
	}
	return l.wait(ctx) // unlocks l.mu
}

// wait queues the caller; l.mu is held on entry and released.
func (l *Limiter) wait(ctx context.Context) (Permit, error) {
	w := &waiter{ready: make(chan struct{})}
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.queued++
	l.mu.Unlock()

	start := time.Now()
	var expired <-chan time.Time
	if l.maxWait > 0 {
		t := time.NewTimer(l.maxWait)
		defer t.Stop()
		expired = t.C
	}
	var reason keel.Reason
	var cerr error
	select {
	case <-w.ready:
		now := time.Now()
		if l.obs != nil {
			l.mu.Lock()
			queued := l.queued
			l.mu.Unlock()
			l.emit(ctx, now, keel.Event{Kind: keel.EventAcquired, Duration: now.Sub(start), InFlight: w.inFlight, Queued: queued})
		}
		return Permit{l: l, ctx: ctx, start: now, inFlight: w.inFlight}, nil
	case <-ctx.Done():
		reason, cerr = keel.ReasonContext, ctx.Err()
	case <-expired:
		reason = keel.ReasonQueueTimeout
	}

	l.mu.Lock()
	if w.granted {
		// Granted just as the wait ended: give the permit back.
		l.inFlight--
		l.grantLocked()
	} else {
		l.removeLocked(w)
	}
	lim, inFlight := l.capacity, l.inFlight
	l.mu.Unlock()
	return Permit{}, l.reject(ctx, reason, lim, inFlight, time.Since(start), cerr)
}

// grantLocked hands permits to waiters while the limit allows.
func (l *Limiter) grantLocked() {
	for l.head != nil && l.inFlight < l.capacity {
		w := l.head
		if l.order == LIFO {
			w = l.tail
		}
		l.removeLocked(w)
		l.inFlight++
		w.granted = true
		w.inFlight = l.inFlight
		close(w.ready)
	}
}

func (l *Limiter) removeLocked(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.queued--
}

func (l *Limiter) done(p Permit, now time.Time, outcome keel.Outcome) {
	sample := outcome != keel.OutcomeNeutral
	var newLimit float64
	if sample {
		// algMu is held until the new capacity is published, so concurrent
		// samples build on each other in order; Update runs without mu.
		l.algMu.Lock()
		defer l.algMu.Unlock()
		newLimit = l.alg.Update(Sample{Time: now, RTT: now.Sub(p.start), InFlight: p.inFlight, Dropped: outcome == keel.OutcomeFailure, Limit: l.limit})
		if !math.IsNaN(newLimit) {
			l.limit = min(max(newLimit, l.lo), l.hi)
		}
	}

	l.mu.Lock()
	if l.inFlight <= 0 {
		l.mu.Unlock()
		panic("limit: Done on a permit that is not held")
	}
	l.inFlight--
	old := l.capacity
	if sample {
		l.capacity = int(l.limit) // algMu is held
	}
	cur := l.capacity
	if l.head != nil {
		l.grantLocked()
	}
	inFlight, queued := l.inFlight, l.queued
	l.mu.Unlock()

	if l.obs != nil {
		ctx := p.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		l.emit(ctx, now, keel.Event{Kind: keel.EventReleased, Outcome: outcome, Duration: now.Sub(p.start), InFlight: inFlight, Queued: queued})
		if old != cur {
			l.emit(ctx, now, keel.Event{Kind: keel.EventStateChange, From: strconv.Itoa(old), To: strconv.Itoa(cur), InFlight: inFlight, Queued: queued})
		}
	}
}

func (l *Limiter) reject(ctx context.Context, reason keel.Reason, lim, inFlight int, waited time.Duration, cerr error) error {
	err := &LimitedError{Name: l.name, Reason: reason, Limit: lim, InFlight: inFlight, Waited: waited, Err: cerr}
	if l.obs != nil {
		l.mu.Lock()
		queued := l.queued
		l.mu.Unlock()
		l.emit(ctx, time.Now(), keel.Event{Kind: keel.EventRejected, Reason: reason, Err: err, Duration: waited, InFlight: inFlight, Queued: queued})
	}
	return err
}

func (l *Limiter) emit(ctx context.Context, now time.Time, e keel.Event) {
	e.Policy = "limit"
	e.Name = l.name
	e.Time = now
	l.obs.Observe(ctx, e)
}

// Do runs op under a permit: it acquires one as Acquire does (returning the
// rejection if that fails), runs op, classifies its error with the
// Classifier and finishes the permit with that outcome. A panic in op is
// recorded as a failure, the permit is returned and the panic continues. If
// op's error carries operations that are still running (keel.StillRunning),
// the permit is returned when the last of them exits.
func (l *Limiter) Do(ctx context.Context, op func(context.Context) error) error {
	return l.run(ctx, nil, op)
}

// Wrap returns a keel.Handler that runs next under a permit, as Do runs op.
func (l *Limiter) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return l.run(ctx, next, op)
	}
}

func (l *Limiter) run(ctx context.Context, next keel.Handler, op func(context.Context) error) (err error) {
	p, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		if !returned {
			p.Done(keel.OutcomeFailure) // op panicked
		}
	}()
	if next == nil {
		err = op(ctx)
	} else {
		err = next(ctx, op)
	}
	returned = true
	outcome := l.classify.Classify(ctx, err)
	if err != nil {
		if _, ok := errors.AsType[keel.StillRunning](err); ok {
			held := p
			p = Permit{}
			keel.AfterExit(err, func() { held.Done(outcome) })
			return err
		}
	}
	p.Done(outcome)
	return err
}

var (
	_ keel.Policy   = (*Limiter)(nil)
	_ keel.Executor = (*Limiter)(nil)
)
