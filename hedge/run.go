package hedge

import (
	"context"
	"time"

	"github.com/keelhq/keel"
)

// result is what one attempt reports to its call.
type result struct {
	n        int
	err      error
	dur      time.Duration
	panicked bool
	pv       any
}

func (p *Policy) run(ctx context.Context, next keel.Handler, op func(context.Context) error) error {
	if p.budget != nil {
		p.budget.Deposit()
	}
	start := time.Now()
	delay := p.Delay()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make(chan result, p.maxHedges+1)

	go p.attempt(actx, 1, next, op, results)
	launched, pending := 1, 1
	timer := time.NewTimer(delay)
	defer timer.Stop()
	timerC, done := timer.C, ctx.Done()

	var (
		decided  bool  // the call's result is known; the rest is draining
		final    error // the call's error once decided
		winner   int
		panicked bool
		pv       any
	)
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if decided {
				p.emitAttempt(ctx, r, keel.OutcomeNeutral)
				continue
			}
			if r.panicked {
				decided, panicked, pv = true, true, r.pv
				p.emitAttempt(ctx, r, keel.OutcomeFailure)
				cancel(ErrLost)
				continue
			}
			outcome := p.classifier.Classify(ctx, r.err)
			p.emitAttempt(ctx, r, outcome)
			final = r.err
			switch {
			case outcome == keel.OutcomeSuccess:
				decided, winner = true, r.n
				if p.window != nil {
					p.window.add(r.dur)
				}
			case outcome != keel.OutcomeFailure, pending == 0:
				decided = true
			}
			if decided {
				timerC = nil
				cancel(ErrLost)
			}
		case <-timerC:
			if launched > p.maxHedges {
				timerC = nil
				continue
			}
			if p.budget != nil && !p.budget.TryWithdraw() {
				// Budget exhausted: no more hedges for this call; the
				// attempts already running are left alone.
				timerC = nil
				p.suppressed.Add(1)
				p.emit(ctx, keel.Event{Kind: keel.EventRejected, Reason: keel.ReasonBudget, Attempt: launched + 1})
				continue
			}
			launched++
			pending++
			p.hedges.Add(1)
			p.emit(ctx, keel.Event{Kind: keel.EventRetry, Attempt: launched, Delay: delay})
			go p.attempt(actx, launched, next, op, results)
			if launched > p.maxHedges {
				timerC = nil
			} else {
				timer.Reset(delay)
			}
		case <-done:
			// The caller gave up: start no more hedges. The running attempts
			// see their contexts end and report, deciding the call.
			done, timerC = nil, nil
		}
	}
	if panicked {
		panic(pv)
	}
	if p.obs != nil {
		e := keel.Event{Kind: keel.EventSuccess, Attempt: winner, Duration: time.Since(start)}
		if final != nil {
			e = keel.Event{Kind: keel.EventFailure, Duration: e.Duration, Err: final,
				Outcome: p.classifier.Classify(ctx, final), Attempt: launched}
		}
		p.emit(ctx, e)
	}
	if winner > 1 {
		p.wins.Add(1)
	}
	return final
}

// attempt runs attempt n and reports its result on out, which has room for
// every attempt of the call, so it never blocks.
func (p *Policy) attempt(ctx context.Context, n int, next keel.Handler, op func(context.Context) error, out chan<- result) {
	r := result{n: n, panicked: true}
	start := time.Now()
	defer func() {
		if r.panicked {
			r.pv = recover()
		}
		r.dur = time.Since(start)
		out <- r
	}()
	actx := context.WithValue(ctx, attemptKey{}, n)
	if next != nil {
		r.err = next(actx, op)
	} else {
		r.err = op(actx)
	}
	r.panicked = false
}

func (p *Policy) emitAttempt(ctx context.Context, r result, o keel.Outcome) {
	if p.obs == nil {
		return
	}
	p.emit(ctx, keel.Event{Kind: keel.EventAttempt, Attempt: r.n, Duration: r.dur, Err: r.err, Outcome: o})
}

func (p *Policy) emit(ctx context.Context, e keel.Event) {
	if p.obs == nil {
		return
	}
	e.Policy, e.Name, e.Time = "hedge", p.name, time.Now()
	p.obs.Observe(ctx, e)
}
