package retry

import (
	"errors"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// ErrExhausted matches every [*ExhaustedError]: the policy gave up after
// retrying.
var ErrExhausted = errors.New("retry: exhausted")

// ExhaustedError is returned when a retry policy gives up after at least one
// retry was considered: the attempts ran out, the deadline or the budget left
// no room for another, a retry-after hint was too long, the caller's context
// ended, or a later attempt failed permanently.
//
// It matches ErrExhausted through errors.Is; with Reason keel.ReasonBudget it
// also matches keel.ErrRejected (the budget refused the retry). Unwrap lists
// the attempts' errors newest first (after the context's error, when the
// context ended), so errors.As finds the last attempt's error first, and
// keel.RetryAfter reports the newest hint.
type ExhaustedError struct {
	// Attempts is how many attempts ran.
	Attempts int
	// Errs holds each attempt's error in the order they ran: Errs[0] is the
	// first attempt's.
	Errs []error
	// Reason says why the policy stopped: ReasonNone (MaxAttempts reached,
	// or an attempt failed with a permanent or neutral outcome),
	// ReasonDeadline (the next attempt could not start before the context's
	// deadline or MaxDuration), ReasonBudget (the retry budget refused),
	// ReasonRetryAfter (a hint exceeded MaxRetryAfter) or ReasonContext (the
	// caller's context ended).
	Reason keel.Reason

	ctxErr error // the context's error when Reason is ReasonContext
}

// Last returns the last attempt's error, or nil if there was none.
func (e *ExhaustedError) Last() error {
	if len(e.Errs) == 0 {
		return nil
	}
	return e.Errs[len(e.Errs)-1]
}

// Error describes the failure: "retry: exhausted after 3 attempts: <last
// error>", with the reason in parentheses when it is not ReasonNone.
func (e *ExhaustedError) Error() string {
	var b strings.Builder
	b.WriteString("retry: exhausted after ")
	b.WriteString(strconv.Itoa(e.Attempts))
	if e.Attempts == 1 {
		b.WriteString(" attempt")
	} else {
		b.WriteString(" attempts")
	}
	if e.Reason != keel.ReasonNone {
		b.WriteString(" (")
		b.WriteString(e.Reason.String())
		b.WriteString(")")
	}
	if last := e.Last(); last != nil {
		b.WriteString(": ")
		b.WriteString(last.Error())
	}
	return b.String()
}

// Is reports whether target is ErrExhausted, or keel.ErrRejected when the
// budget refused the retry.
func (e *ExhaustedError) Is(target error) bool {
	return target == ErrExhausted || (target == keel.ErrRejected && e.Reason == keel.ReasonBudget)
}

// Unwrap returns the attempts' errors, newest first, preceded by the
// context's error when the caller's context ended.
func (e *ExhaustedError) Unwrap() []error {
	out := make([]error, 0, len(e.Errs)+1)
	if e.ctxErr != nil {
		out = append(out, e.ctxErr)
	}
	for i := len(e.Errs) - 1; i >= 0; i-- {
		out = append(out, e.Errs[i])
	}
	return out
}
