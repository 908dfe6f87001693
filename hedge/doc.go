// Package hedge sends backup requests ("hedges") for slow calls: when an
// attempt has not returned after a delay, another one starts, and the first
// success wins. It cuts tail latency at the price of a little extra load, which
// a budget keeps small.
//
// A [Policy] waits a fixed Config.Delay before each hedge, or with
// Config.Percentile a percentile (say p95) of the latencies of the last
// Config.Window successful calls, as Finagle's backup requests do. It sends at
// most Config.MaxHedges hedges per call (1 by default), and only while its
// budget (a [retry.Budget]; by default hedges may add 10% to the calls of the
// last 10 seconds, plus one per second) has credit. When the budget refuses a
// hedge, that call sends no more hedges, but the attempts already running go on
// untouched.
//
// The first attempt to succeed decides the call: Do cancels the other
// attempts' contexts (context.Cause is [ErrLost]) and waits until every one
// has returned, so no goroutine outlives the call. Hedging does not retry
// failures; put a retry policy around it for that.
//
// Hedge only idempotent operations: several attempts may run at once and a
// canceled one may already have had its effect. [Attempt] and [IsHedge] tell
// an operation which attempt it is, for example to add a header.
//
// Events (Policy "hedge"): keel.EventRetry when a hedge starts (Attempt is its
// number, Delay the delay it waited); keel.EventRejected with
// keel.ReasonBudget when the budget suppresses one; keel.EventAttempt when any
// attempt returns (losers with keel.OutcomeNeutral); keel.EventSuccess (Attempt
// is the winner, so a hedge won when it is above 1) or keel.EventFailure for
// the call. The counters Hedges, Wins and Suppressed give the same figures
// without an Observer.
package hedge
