package keel

import (
	"context"
	"errors"
)

// Outcome is how a policy judges one run of an operation.
type Outcome uint8

const (
	// OutcomeSuccess: the operation returned no error.
	OutcomeSuccess Outcome = iota
	// OutcomeFailure: the dependency failed. Retries retry it; breakers count it.
	OutcomeFailure
	// OutcomeNeutral: the caller gave up (its own context was canceled or ran out).
	// It says nothing about the dependency: never retried, never counted.
	OutcomeNeutral
	// OutcomePermanent: the operation failed and repeating it cannot help (a 400, a
	// validation error). Retries stop; breakers count it as a failure unless
	// their Classifier says otherwise.
	OutcomePermanent
)

var outcomeNames = [...]string{"success", "failure", "neutral", "permanent"}

// String returns "success", "failure", "neutral" or "permanent".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// A Classifier turns the error an operation returned into an Outcome. ctx is the
// context the classifying policy was called with, not a per-attempt context it
// derived for the operation: a retry's attempt that ran out of its own attempt
// timeout is a failure of the dependency, not the caller giving up. A Classifier must be
// cheap and safe for concurrent use; it is called once per run.
type Classifier func(ctx context.Context, err error) Outcome

// DefaultClassifier is the classifier policies use when their Config leaves it
// nil:
//
//   - nil is OutcomeSuccess;
//   - an error marked with [Permanent] is OutcomePermanent;
//   - context.Canceled or context.DeadlineExceeded while ctx itself is done is
//     OutcomeNeutral: the caller stopped waiting, the dependency is not to blame;
//   - anything else, including a timeout policy's own deadline, is
//     OutcomeFailure.
func DefaultClassifier(ctx context.Context, err error) Outcome {
	if err == nil {
		return OutcomeSuccess
	}
	if IsPermanent(err) {
		return OutcomePermanent
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return OutcomeNeutral
	}
	return OutcomeFailure
}

// Classify calls c, or DefaultClassifier when c is nil.
func (c Classifier) Classify(ctx context.Context, err error) Outcome {
	if c == nil {
		return DefaultClassifier(ctx, err)
	}
	return c(ctx, err)
}

// Permanent marks err as permanent: retries stop at it. It returns nil for a nil
// err. The result unwraps to err, so errors.Is and errors.As see through it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// [Permanent].
func IsPermanent(err error) bool {
	_, ok := errors.AsType[*permanentError](err)
	return ok
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
