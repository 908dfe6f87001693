package chaos

import (
	"context"

	"github.com/keelhq/keel"
)

// Wrap returns a keel.Handler that injects faults into operations before
// they reach next, so an Injector can sit in a keel.Chain, usually innermost
// (after retry, breaker and timeout, so that they see the faults).
//
// Only faults without PathPrefix or Headers apply, and bandwidth faults do
// not: an operation has no request and no body. A latency fault delays the
// operation (or returns ctx's error if ctx ends first); an error fault
// returns an [*InjectedError] wrapping Fault.Err; an abort returns one
// matching syscall.ECONNRESET; a timeout waits for ctx to end (returning
// ctx's error) or for MaxHang (returning an *InjectedError whose Timeout
// method reports true). The operation does not run in these cases.
func (in *Injector) Wrap(next keel.Handler) keel.Handler {
	return func(ctx context.Context, op func(context.Context) error) error {
		return in.run(ctx, next, op)
	}
}

// Do runs op with faults injected as Wrap describes. ctx must not be nil.
func (in *Injector) Do(ctx context.Context, op func(context.Context) error) error {
	return in.run(ctx, nil, op)
}

func (in *Injector) run(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	var p plan
	if !in.decide(ctx, "", "", nil, scopeOp, &p) || !in.start(ctx, &p) {
		return call(ctx, next, op)
	}
	defer in.end()
	if err := sleep(ctx, p.delay); err != nil {
		return err
	}
	switch p.term {
	case KindError:
		return &InjectedError{Fault: p.termID, Kind: KindError, Status: p.statusIfNoErr(), Err: p.err}
	case KindAbort:
		return &InjectedError{Fault: p.termID, Kind: KindAbort, Err: errReset}
	case KindTimeout:
		return hangError(ctx, &p)
	}
	return call(ctx, next, op)
}

// statusIfNoErr is the status an error fault reports when it has no Go
// error to return.
func (p *plan) statusIfNoErr() int {
	if p.err != nil {
		return 0
	}
	return p.status
}

func hangError(ctx context.Context, p *plan) error {
	if err := hang(ctx, p.maxHang); err != nil {
		return &InjectedError{Fault: p.termID, Kind: KindTimeout, Err: err}
	}
	return &InjectedError{Fault: p.termID, Kind: KindTimeout}
}

func call(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	if next == nil {
		return op(ctx)
	}
	return next(ctx, op)
}

var (
	_ keel.Policy   = (*Injector)(nil)
	_ keel.Executor = (*Injector)(nil)
)
