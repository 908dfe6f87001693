// Package limit provides adaptive concurrency limits and client-side adaptive
// throttling.
//
// A [Limiter] bounds how many operations run at once, like a bulkhead, but
// its limit moves: after each operation an [Algorithm] turns the operation's
// round-trip time, the concurrency when it started and whether it failed into
// a new limit. Three algorithms are provided, after Netflix
// concurrency-limits: [AIMD] (additive increase, multiplicative decrease on
// drops and timeouts), [Vegas] (estimates the queue from the ratio of the
// no-load RTT to the current RTT) and [Gradient2] (compares a short-term with
// a long-term RTT average). The limit always stays within
// [Config.MinLimit, Config.MaxLimit]; MinLimit is a plain floor, not a probe
// concurrency. Callers over the limit are rejected at once or, with
// Config.MaxQueue, wait in a bounded FIFO or LIFO queue for at most
// Config.MaxWait.
//
// The hot path is two calls with no closure and no allocation:
//
//	p, err := l.Acquire(ctx)
//	if err != nil {
//		return err // *LimitedError: matches ErrLimited and keel.ErrRejected
//	}
//	err = call(ctx)
//	p.Done(classifier(ctx, err))
//
// A success or permanent outcome is a latency sample, a failure is a drop, and
// a neutral outcome (the caller gave up) is no sample at all. Limiter also
// implements keel.Policy and keel.Executor (Do, Wrap).
//
// A [Throttler] implements the client-side adaptive throttling of the Google
// SRE book: it counts requests and the backend's accepts over a sliding window
// (2 minutes by default) and rejects locally with probability
// max(0, (requests − K·accepts)/(requests + 1)), so a client stops sending
// most of its traffic to a backend that refuses it and resumes as the backend
// recovers. Its rejections match ErrThrottled and keel.ErrRejected.
//
// # Events
//
// A Limiter with an Observer emits EventAcquired, EventReleased, EventRejected
// (ReasonLimit, ReasonQueueTimeout or ReasonContext) and, when the integer
// limit changes, EventStateChange with From and To holding the old and new
// limit in decimal (Policy "limit"). A Throttler emits EventRejected with
// ReasonLimit (Policy "throttle").
package limit
