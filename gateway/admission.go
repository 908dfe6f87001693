package gateway

import (
	"context"
	"net/http"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/shed"
)

// admission is the gateway-wide guard every routed request passes before
// its route's pipeline: criticality-aware shedding, then an adaptive
// concurrency limit.
type admission struct {
	shedder *shed.Shedder
	limiter *limit.Limiter
}

// admit lets a request in, or returns why not. done must be called with the
// response status once the request is over.
func (a *admission) admit(ctx context.Context) (done func(status int), err error) {
	var ticket shed.Ticket
	if a.shedder != nil {
		if ticket, err = a.shedder.Admit(ctx); err != nil {
			return nil, err
		}
	}
	var permit limit.Permit
	if a.limiter != nil {
		if permit, err = a.limiter.Acquire(ctx); err != nil {
			if a.shedder != nil {
				ticket.Done()
			}
			return nil, err
		}
	}
	return func(status int) {
		if a.limiter != nil {
			o := keel.OutcomeSuccess
			if status >= 500 || status == http.StatusTooManyRequests {
				o = keel.OutcomeFailure
			}
			permit.Done(o)
		}
		if a.shedder != nil {
			ticket.Done()
		}
	}, nil
}
