package keeltest

import (
	"context"
	"sync/atomic"
	"time"
)

// Step is what one call of a [Script] does. Build steps with [Succeed], [Fail],
// [Panic], [Block], [Sleep] and [IgnoreContext], and add latency with
// [Step.After] or [Step.AfterIgnoringContext].
//
// The zero Step succeeds at once. A Step is an immutable value.
type Step struct {
	delay     time.Duration
	ignoreCtx bool // the delay does not watch ctx
	block     bool // wait for ctx to end, then return its error
	panics    bool
	panicVal  any
	err       error
}

// Succeed returns a step that returns nil.
func Succeed() Step { return Step{} }

// Fail returns a step that returns err.
func Fail(err error) Step { return Step{err: err} }

// Panic returns a step that panics with v.
func Panic(v any) Step { return Step{panics: true, panicVal: v} }

// Block returns a step that waits until the call's context is done and then
// returns the context's error. With a context that never ends it never returns.
func Block() Step { return Step{block: true} }

// Sleep returns a step that takes d and then succeeds. If the context ends
// first, the step returns the context's error at once.
func Sleep(d time.Duration) Step { return Succeed().After(d) }

// IgnoreContext returns a step that takes d whatever its context does and then
// succeeds: an operation that does not honor cancellation.
func IgnoreContext(d time.Duration) Step { return Succeed().AfterIgnoringContext(d) }

// After returns a copy of s that first waits d. If the call's context ends
// during the wait, the step returns the context's error at once instead of
// going on.
func (s Step) After(d time.Duration) Step {
	s.delay, s.ignoreCtx = d, false
	return s
}

// AfterIgnoringContext returns a copy of s that first waits d without watching
// the call's context, then does what s does.
func (s Step) AfterIgnoringContext(d time.Duration) Step {
	s.delay, s.ignoreCtx = d, true
	return s
}

// run performs the step.
func (s Step) run(ctx context.Context) error {
	if s.delay > 0 {
		if s.ignoreCtx {
			time.Sleep(s.delay)
		} else {
			t := time.NewTimer(s.delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
	}
	if s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if s.panics {
		panic(s.panicVal)
	}
	return s.err
}

// Script is a scripted operation. Call n (counting from 1) runs step n; calls
// past the last step repeat it; a Script with no steps always succeeds.
//
// A Script counts its calls and how many run at once. It is safe for
// concurrent use; concurrent calls take steps in the order they enter [Script.Op].
// The zero Script always succeeds.
type Script struct {
	steps       []Step
	calls       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
}

// NewScript returns a Script that runs steps in order.
func NewScript(steps ...Step) *Script {
	return &Script{steps: append([]Step(nil), steps...)}
}

// FailN returns a Script that fails with err for its first n calls and
// succeeds from then on. With n <= 0 it always succeeds.
func FailN(n int, err error) *Script {
	n = max(n, 0)
	steps := make([]Step, 0, n+1)
	for range n {
		steps = append(steps, Fail(err))
	}
	return &Script{steps: append(steps, Succeed())}
}

// Op is the scripted operation: it runs the next step. Pass the method value,
// as in policy.Do(ctx, s.Op).
func (s *Script) Op(ctx context.Context) error {
	i := s.calls.Add(1) - 1
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if len(s.steps) == 0 {
		return nil
	}
	return s.steps[min(i, int64(len(s.steps)-1))].run(ctx)
}

// Calls returns how many times Op has been called, including calls still
// running.
func (s *Script) Calls() int { return int(s.calls.Load()) }

// InFlight returns how many calls of Op are running now.
func (s *Script) InFlight() int { return int(s.inFlight.Load()) }

// MaxInFlight returns the largest number of calls of Op that ran at once.
func (s *Script) MaxInFlight() int { return int(s.maxInFlight.Load()) }
