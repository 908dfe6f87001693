package shed

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
)

// Shedder admits requests by criticality. Create one with New; the zero
// Shedder is not usable. A Shedder is safe for concurrent use.
//
// Admission is one atomic compare-and-swap on the in-flight count; it never
// waits and does not allocate.
type Shedder struct {
	name     string
	obs      keel.Observer
	after    time.Duration
	capacity int
	limits   [3]int // by Criticality.index()

	inFlight atomic.Int64
	admitted [3]atomic.Uint64
	shed     [3]atomic.Uint64
}

// New returns a Shedder configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Shedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Shedder{name: cfg.Name, obs: cfg.Observer, after: cfg.RetryAfter, capacity: cfg.Capacity}
	s.limits[Sheddable.index()] = threshold(cfg.SheddableShare, cfg.Capacity)
	s.limits[Default.index()] = threshold(cfg.DefaultShare, cfg.Capacity)
	s.limits[Critical.index()] = cfg.Capacity
	return s, nil
}

// MustNew is like New but panics if cfg is invalid.
func MustNew(cfg Config) *Shedder {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Ticket is an admitted request's place in the shedder. Call Done exactly
// once when the request ends. The zero Ticket's Done does nothing.
type Ticket struct{ s *Shedder }

// Done ends the request and frees its place.
func (t Ticket) Done() {
	if t.s != nil {
		t.s.inFlight.Add(-1)
	}
}

// Admit admits a request of the criticality ctx carries (CriticalityFrom) or
// refuses it with a *RejectedError. It never waits.
func (s *Shedder) Admit(ctx context.Context) (Ticket, error) {
	return s.AdmitClass(ctx, CriticalityFrom(ctx))
}

// AdmitClass is like Admit with an explicit criticality; an invalid c counts
// as Default. ctx is passed to the Observer only.
func (s *Shedder) AdmitClass(ctx context.Context, c Criticality) (Ticket, error) {
	if !c.Valid() {
		c = Default
	}
	i := c.index()
	limit := int64(s.limits[i])
	for {
		n := s.inFlight.Load()
		if n >= limit {
			s.shed[i].Add(1)
			return Ticket{}, s.reject(ctx, c, int(n), int(limit))
		}
		if s.inFlight.CompareAndSwap(n, n+1) {
			s.admitted[i].Add(1)
			return Ticket{s: s}, nil
		}
	}
}

func (s *Shedder) reject(ctx context.Context, c Criticality, n, limit int) error {
	err := &RejectedError{Name: s.name, Criticality: c, InFlight: n, Limit: limit, After: s.after}
	if s.obs != nil {
		s.obs.Observe(ctx, keel.Event{
			Kind: keel.EventRejected, Policy: "shed", Name: s.name, Time: time.Now(),
			Err: err, Reason: keel.ReasonLimit, InFlight: n,
		})
	}
	return err
}

// Wrap returns a handler that admits each call (Admit) before running next
// and frees its place when next returns, or, if next's error says the
// operation still runs in the background (keel.StillRunning), when it exits.
// A panic frees the place and continues.
func (s *Shedder) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return s.run(ctx, next, op)
	}
}

// Do runs op if the request is admitted (see Wrap).
func (s *Shedder) Do(ctx context.Context, op func(context.Context) error) error {
	return s.run(ctx, nil, op)
}

func (s *Shedder) run(ctx context.Context, next keel.Handler, op func(context.Context) error) (err error) {
	t, err := s.Admit(ctx)
	if err != nil {
		return err
	}
	held := true
	defer func() {
		if held { // op panicked
			t.Done()
		}
	}()
	if next != nil {
		err = next(ctx, op)
	} else {
		err = op(ctx)
	}
	held = false
	if err == nil || !keel.AfterExit(err, t.Done) {
		t.Done()
	}
	return err
}

// InFlight returns how many admitted requests have not yet called Done.
func (s *Shedder) InFlight() int { return int(s.inFlight.Load()) }

// Capacity returns the configured capacity (Config.Capacity after defaults).
func (s *Shedder) Capacity() int { return s.capacity }

// Limit returns the in-flight count below which requests of class c are
// admitted.
func (s *Shedder) Limit(c Criticality) int {
	if !c.Valid() {
		c = Default
	}
	return s.limits[c.index()]
}

// Admitted returns how many requests of class c were admitted so far.
func (s *Shedder) Admitted(c Criticality) uint64 {
	if !c.Valid() {
		return 0
	}
	return s.admitted[c.index()].Load()
}

// Shed returns how many requests of class c were refused so far.
func (s *Shedder) Shed(c Criticality) uint64 {
	if !c.Valid() {
		return 0
	}
	return s.shed[c.index()].Load()
}

var (
	_ keel.Policy   = (*Shedder)(nil)
	_ keel.Executor = (*Shedder)(nil)
)
