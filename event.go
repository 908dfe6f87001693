package keel

import (
	"context"
	"time"
)

// EventKind says what happened.
type EventKind uint8

const (
	// EventSuccess: an operation guarded by the policy succeeded.
	// Duration is how long it ran.
	EventSuccess EventKind = iota + 1
	// EventFailure: an operation guarded by the policy failed. Err, Outcome and
	// Duration say how.
	EventFailure
	// EventRejected: the policy refused to run the operation. Reason says why.
	EventRejected
	// EventAttempt: a retry or hedge attempt finished. Attempt is its number
	// (1 for the first), Duration its run time, Err and Outcome its result.
	EventAttempt
	// EventRetry: a retry was scheduled. Attempt is the number of the attempt
	// about to start, Delay the wait before it, Err the error that caused it.
	EventRetry
	// EventExhausted: a retry policy gave up. Attempt is how many ran.
	EventExhausted
	// EventStateChange: a circuit breaker moved From one state To another.
	EventStateChange
	// EventAcquired: a bulkhead or limiter granted a permit. Duration is the
	// time spent waiting, InFlight and Queued the occupancy after the grant.
	EventAcquired
	// EventReleased: a permit was returned. InFlight and Queued are the
	// occupancy after the release.
	EventReleased
	// EventTimeout: a timeout expired. Duration is the timeout.
	EventTimeout
	// EventAbandoned: a timeout returned on time while the operation, which
	// ignores its context, goes on running.
	EventAbandoned
	// EventAbandonedExit: an abandoned operation finally returned. Duration is
	// how long it ran in all.
	EventAbandonedExit
	// EventFallback: a fallback replaced the error Err.
	EventFallback
	// EventReplayed: an idempotency layer answered with a stored response
	// instead of running the handler again.
	EventReplayed
	// EventTakeover: an idempotency layer took over a record whose previous
	// owner's lease had expired, so the handler runs again. Attempt is the
	// record's claim count, including this one.
	EventTakeover
	// EventLeaseLost: an idempotency handler found that its lease was taken
	// over (or its record gone) while or after it ran; its outcome was not
	// stored.
	EventLeaseLost
)

var eventNames = [...]string{
	EventSuccess:       "success",
	EventFailure:       "failure",
	EventRejected:      "rejected",
	EventAttempt:       "attempt",
	EventRetry:         "retry",
	EventExhausted:     "exhausted",
	EventStateChange:   "state_change",
	EventAcquired:      "acquired",
	EventReleased:      "released",
	EventTimeout:       "timeout",
	EventAbandoned:     "abandoned",
	EventAbandonedExit: "abandoned_exit",
	EventFallback:      "fallback",
	EventReplayed:      "replayed",
	EventTakeover:      "takeover",
	EventLeaseLost:     "lease_lost",
}

// String returns the kind in snake case, as used in metric labels.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Reason says why a call was rejected.
type Reason uint8

const (
	// ReasonNone: the event is not a rejection.
	ReasonNone Reason = iota
	// ReasonCircuitOpen: the breaker is open (or forced open).
	ReasonCircuitOpen
	// ReasonHalfOpenFull: the breaker is half-open and all probe permits are
	// taken.
	ReasonHalfOpenFull
	// ReasonBulkheadFull: every permit is taken and the queue is full.
	ReasonBulkheadFull
	// ReasonQueueTimeout: the call waited in the queue for its maximum wait.
	ReasonQueueTimeout
	// ReasonContext: the caller's context ended while the call waited.
	ReasonContext
	// ReasonRateLimited: the rate limit has no token for the call.
	ReasonRateLimited
	// ReasonBudget: the retry budget has no token for another attempt.
	ReasonBudget
	// ReasonDeadline: too little time is left before the deadline for the
	// call (or the next attempt) to finish.
	ReasonDeadline
	// ReasonLimit: an adaptive concurrency limit or load shedder refused it.
	ReasonLimit
	// ReasonRetryAfter: the error's retry-after hint asks for a longer wait
	// than the policy accepts, so it gave up rather than retry early.
	ReasonRetryAfter
	// ReasonInProgress: a request with the same idempotency key is still
	// being handled.
	ReasonInProgress
	// ReasonKeyReused: the idempotency key was used before for a different
	// request.
	ReasonKeyReused
	// ReasonInvalid: the request was malformed for the policy (a missing or
	// invalid idempotency key, a body over the limit).
	ReasonInvalid
)

var reasonNames = [...]string{
	ReasonNone:         "none",
	ReasonCircuitOpen:  "circuit_open",
	ReasonHalfOpenFull: "half_open_full",
	ReasonBulkheadFull: "bulkhead_full",
	ReasonQueueTimeout: "queue_timeout",
	ReasonContext:      "context",
	ReasonRateLimited:  "rate_limited",
	ReasonBudget:       "budget",
	ReasonDeadline:     "deadline",
	ReasonLimit:        "limit",
	ReasonRetryAfter:   "retry_after",
	ReasonInProgress:   "in_progress",
	ReasonKeyReused:    "key_reused",
	ReasonInvalid:      "invalid",
}

// String returns the reason in snake case, as used in metric labels.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Event is one thing a policy did. It is passed by value; fields that do not
// apply to a kind are zero.
type Event struct {
	Kind EventKind
	// Policy is the kind of policy that emitted the event: "retry", "breaker",
	// "bulkhead", "timeout", "fallback", "ratelimit", …
	Policy string
	// Name is the policy instance's configured name (Config.Name), may be "".
	Name string
	// Time is when the event happened.
	Time time.Time

	Attempt  int           // retry/hedge attempt number, starting at 1
	Delay    time.Duration // wait before the next attempt
	Duration time.Duration // run time, wait time or timeout, per Kind
	Err      error
	Outcome  Outcome
	Reason   Reason

	From, To string // breaker states, for EventStateChange

	InFlight int // permits held, for bulkheads and limiters
	Queued   int // callers waiting, for bulkheads and limiters
}

// Observer receives events. ctx is the context of the call the event belongs
// to (context.Background() for events that belong to no call, such as a breaker
// moving to half-open on its own). Observe is called synchronously on the
// caller's goroutine, never while a policy holds a lock, and must be safe for
// concurrent use. It must not block.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to the [Observer] interface.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// Observers returns an Observer that passes each event to every non-nil one of
// obs in order. It returns nil when none is left.
func Observers(obs ...Observer) Observer {
	var out multiObserver
	for _, o := range obs {
		if o != nil {
			out = append(out, o)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

type multiObserver []Observer

func (m multiObserver) Observe(ctx context.Context, e Event) {
	for _, o := range m {
		o.Observe(ctx, e)
	}
}
