package bulkhead

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keelhq/keel"
)

// Bulkhead limits how many operations run at once. Create one with [New]; it
// implements keel.Policy and keel.Executor.
//
// The zero Bulkhead has DefaultMaxConcurrent permits, no queue, no name and no
// observer. A Bulkhead is safe for concurrent use and must not be copied after
// first use.
type Bulkhead struct {
	name     string
	obs      keel.Observer
	max      int // 0 means DefaultMaxConcurrent
	maxQueue int
	maxWait  time.Duration

	mu         sync.Mutex
	inFlight   int     // permits held, guarded by mu
	queued     int     // length of the waiter list, guarded by mu
	head, tail *waiter // FIFO of callers waiting for a permit, guarded by mu
}

// waiter is a caller queued for a permit. A releasing caller hands its permit
// over by unlinking the waiter, setting granted and closing ready, all under
// the bulkhead's lock.
type waiter struct {
	prev, next *waiter
	ready      chan struct{}
	granted    bool
}

// New returns a Bulkhead configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Bulkhead{
		name:     cfg.Name,
		obs:      cfg.Observer,
		max:      cfg.MaxConcurrent,
		maxQueue: cfg.MaxQueue,
		maxWait:  cfg.MaxWait,
	}, nil
}

// MustNew is like New but panics if cfg is invalid. It is meant for
// configurations fixed in code.
func MustNew(cfg Config) *Bulkhead {
	b, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

func (b *Bulkhead) limit() int {
	if b.max == 0 {
		return DefaultMaxConcurrent
	}
	return b.max
}

// InFlight returns the number of permits currently held.
func (b *Bulkhead) InFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight
}

// Queued returns the number of callers currently waiting for a permit.
func (b *Bulkhead) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queued
}

// Permit is a permit held from a Bulkhead. Return it with Release.
//
// The zero Permit holds nothing. A Permit is a small value; it is not safe for
// concurrent use.
type Permit struct {
	b   *Bulkhead
	ctx context.Context // of the call that acquired it, for events
}

// Release returns the permit to its Bulkhead, handing it to the oldest waiting
// caller if there is one. Release clears p, so releasing the same Permit
// variable again does nothing, and neither does releasing the zero Permit.
// Copies of a Permit are separate handles to one permit: release only one of
// them. Releasing more permits than were acquired is a bug; Release panics
// when it sees one (no permit held at all).
func (p *Permit) Release() {
	b, ctx := p.b, p.ctx
	if b == nil {
		return
	}
	*p = Permit{}
	b.release(ctx)
}

// Acquire takes a permit, waiting in the queue if every permit is held and
// the queue has room. It returns a [*RejectedError] if the queue is full (or
// there is none), if MaxWait passes, or if ctx ends while it waits. A caller
// that finds a free permit and nobody waiting gets it even if ctx has already
// ended. Acquire allocates only when it has to wait.
func (b *Bulkhead) Acquire(ctx context.Context) (Permit, error) {
	b.mu.Lock()
	if b.inFlight < b.limit() && b.head == nil {
		b.inFlight++
		inFlight, queued := b.inFlight, b.queued
		b.mu.Unlock()
		if b.obs != nil {
			b.emit(ctx, keel.Event{Kind: keel.EventAcquired, InFlight: inFlight, Queued: queued})
		}
		return Permit{b: b, ctx: ctx}, nil
	}
	if b.queued >= b.maxQueue {
		b.mu.Unlock()
		return Permit{}, b.reject(ctx, keel.ReasonBulkheadFull, 0, nil)
	}
	return b.wait(ctx) // unlocks b.mu
}

// TryAcquire takes a permit if one is free and nobody is waiting, without
// blocking. ok reports whether it did.
func (b *Bulkhead) TryAcquire() (p Permit, ok bool) {
	b.mu.Lock()
	if b.inFlight < b.limit() && b.head == nil {
		b.inFlight++
		inFlight, queued := b.inFlight, b.queued
		b.mu.Unlock()
		if b.obs != nil {
			b.emit(context.Background(), keel.Event{Kind: keel.EventAcquired, InFlight: inFlight, Queued: queued})
		}
		return Permit{b: b}, true
	}
	b.mu.Unlock()
	if b.obs != nil {
		_ = b.reject(context.Background(), keel.ReasonBulkheadFull, 0, nil)
	}
	return Permit{}, false
}

// wait queues the caller; b.mu is held on entry and released.
func (b *Bulkhead) wait(ctx context.Context) (Permit, error) {
	w := &waiter{ready: make(chan struct{})}
	b.pushLocked(w)
	b.mu.Unlock()

	start := time.Now()
	var expired <-chan time.Time
	if b.maxWait > 0 {
		t := time.NewTimer(b.maxWait)
		defer t.Stop()
		expired = t.C
	}
	var reason keel.Reason
	var cerr error
	select {
	case <-w.ready:
		return b.granted(ctx, start), nil
	case <-ctx.Done():
		reason, cerr = keel.ReasonContext, ctx.Err()
	case <-expired:
		reason = keel.ReasonQueueTimeout
	}

	b.mu.Lock()
	if w.granted {
		// A permit was handed over just as the wait ended. The caller is
		// being told no, so pass the permit on to the next waiter.
		ok := b.releaseLocked()
		b.mu.Unlock()
		if !ok {
			panic("bulkhead: internal error: handed-over permit not counted")
		}
	} else {
		b.removeLocked(w)
		b.mu.Unlock()
	}
	return Permit{}, b.reject(ctx, reason, time.Since(start), cerr)
}

func (b *Bulkhead) granted(ctx context.Context, start time.Time) Permit {
	if b.obs != nil {
		waited := time.Since(start)
		b.mu.Lock()
		inFlight, queued := b.inFlight, b.queued
		b.mu.Unlock()
		b.emit(ctx, keel.Event{Kind: keel.EventAcquired, Duration: waited, InFlight: inFlight, Queued: queued})
	}
	return Permit{b: b, ctx: ctx}
}

func (b *Bulkhead) release(ctx context.Context) {
	b.mu.Lock()
	ok := b.releaseLocked()
	inFlight, queued := b.inFlight, b.queued
	b.mu.Unlock()
	if !ok {
		panic("bulkhead: Release of a permit that is not held")
	}
	if b.obs != nil {
		if ctx == nil {
			ctx = context.Background()
		}
		b.emit(ctx, keel.Event{Kind: keel.EventReleased, InFlight: inFlight, Queued: queued})
	}
}

// releaseLocked hands a held permit to the oldest waiter, or frees it if
// nobody waits. It reports false if no permit was held.
func (b *Bulkhead) releaseLocked() bool {
	if w := b.head; w != nil {
		b.removeLocked(w)
		w.granted = true
		close(w.ready)
		return true
	}
	if b.inFlight <= 0 {
		return false
	}
	b.inFlight--
	return true
}

func (b *Bulkhead) pushLocked(w *waiter) {
	w.prev = b.tail
	if b.tail != nil {
		b.tail.next = w
	} else {
		b.head = w
	}
	b.tail = w
	b.queued++
}

func (b *Bulkhead) removeLocked(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		b.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		b.tail = w.prev
	}
	w.prev, w.next = nil, nil
	b.queued--
}

func (b *Bulkhead) reject(ctx context.Context, reason keel.Reason, waited time.Duration, cerr error) error {
	err := &RejectedError{Name: b.name, Reason: reason, Waited: waited, Err: cerr}
	if b.obs != nil {
		b.mu.Lock()
		inFlight, queued := b.inFlight, b.queued
		b.mu.Unlock()
		b.emit(ctx, keel.Event{Kind: keel.EventRejected, Reason: reason, Err: err, Duration: waited, InFlight: inFlight, Queued: queued})
	}
	return err
}

func (b *Bulkhead) emit(ctx context.Context, e keel.Event) {
	e.Policy = "bulkhead"
	e.Name = b.name
	e.Time = time.Now()
	b.obs.Observe(ctx, e)
}

// Do runs op under a permit: it acquires one as Acquire does (returning the
// rejection if that fails), runs op, and releases the permit, also when op
// panics. If op's error carries an operation that is still running (a
// keel.StillRunning, such as an abandoned call of a return-on-time timeout),
// the permit is released only when that operation exits; if it carries
// several (a retry's abandoned attempts), when the last of them exits.
func (b *Bulkhead) Do(ctx context.Context, op func(context.Context) error) error {
	return b.run(ctx, nil, op)
}

// Wrap returns a keel.Handler that runs next under a permit, as Do runs op.
func (b *Bulkhead) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return b.run(ctx, next, op)
	}
}

func (b *Bulkhead) run(ctx context.Context, next keel.Handler, op func(context.Context) error) (err error) {
	p, err := b.Acquire(ctx)
	if err != nil {
		return err
	}
	defer releaseAfter(&p, &err) // runs on panic too (err is then nil)
	if next == nil {
		return op(ctx)
	}
	return next(ctx, op)
}

// releaseAfter releases *p, or, if *err carries operations that are still
// running, arranges for it to be released when the last of them exits. It is
// keel.AfterExit(err, p.Release) without making p escape on the success path.
func releaseAfter(p *Permit, err *error) {
	if *err != nil {
		var sr keel.StillRunning
		if errors.As(*err, &sr) {
			held := *p
			keel.AfterExit(*err, held.Release)
			return
		}
	}
	p.Release()
}

var (
	_ keel.Policy   = (*Bulkhead)(nil)
	_ keel.Executor = (*Bulkhead)(nil)
)
