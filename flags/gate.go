package flags

import (
	"context"
	"errors"
	"time"

	"github.com/keelhq/keel"
)

const policyName = "flags"

// ErrDisabled matches every *DisabledError.
var ErrDisabled = errors.New("flags: disabled")

// DisabledError is returned by a [Gate] whose flag is off: the operation did
// not run. It matches ErrDisabled and keel.ErrRejected.
type DisabledError struct {
	Flag string // the flag's name
}

func (e *DisabledError) Error() string { return "flags: " + e.Flag + " is disabled" }

// Is reports whether target is ErrDisabled or keel.ErrRejected.
func (e *DisabledError) Is(target error) bool {
	return target == ErrDisabled || target == keel.ErrRejected
}

// Gate is a kill switch as a policy: it runs operations while its flag is
// enabled and rejects them with a *DisabledError while it is off. A flag
// with a Percent below 1 lets that random share of calls through. Get one
// from [Set.Gate]; the zero Gate is not usable. A Gate reads the Set on
// every call, so changes apply at once. It is safe for concurrent use and
// allocates nothing, rejections included: every rejection returns the same
// *DisabledError.
//
// Put a Gate outermost in a chain, outside any retry: a kill switch should
// stop the call before anything else runs, and a retry around a Gate with a
// Percent below 1 would draw again.
type Gate struct {
	s    *Set
	name string
	err  *DisabledError
	h    keel.Handler
}

var (
	_ keel.Policy   = (*Gate)(nil)
	_ keel.Executor = (*Gate)(nil)
)

// Gate returns a Gate for the flag name. The flag need not exist yet: an
// unknown flag is off, so the Gate rejects until it is set.
func (s *Set) Gate(name string) *Gate {
	g := &Gate{s: s, name: name, err: &DisabledError{Flag: name}}
	g.h = g.Wrap(func(ctx context.Context, op func(context.Context) error) error { return op(ctx) })
	return g
}

// Do runs op if the flag is on, or returns a *DisabledError.
func (g *Gate) Do(ctx context.Context, op func(context.Context) error) error {
	return g.h(ctx, op)
}

// Wrap returns a handler that calls next while the flag is on. A rejection
// emits keel.EventRejected with Policy "flags", Name the flag's name, Err
// the *DisabledError and Reason keel.ReasonNone (keel has no reason for a
// switched-off feature).
func (g *Gate) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		if g.s.Enabled(g.name) {
			return next(ctx, op)
		}
		if obs := g.s.obs; obs != nil {
			obs.Observe(ctx, keel.Event{Kind: keel.EventRejected, Policy: policyName, Name: g.name,
				Time: time.Now(), Err: g.err})
		}
		return g.err
	}
}
