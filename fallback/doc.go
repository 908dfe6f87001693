// Package fallback replaces the error of a failed operation with a substitute:
// a default value, a cached result, a degraded answer, or a different error.
//
// Operations in Keel return only an error, and values flow through keel.Get, so
// the package has two forms:
//
//   - [Policy] is a keel.Policy and keel.Executor for error-only operations.
//     Its Config.Func receives the error and returns the replacement error;
//     returning nil recovers.
//   - [Typed] wraps keel.Get for operations that return a value of type T. Its
//     Func receives the error and returns the replacement value and error;
//     [Value] makes a Func that returns a fixed value.
//
// Both replace only the errors their Handle predicate accepts. By default that
// is every error except the caller's own cancellation (keel.OutcomeNeutral
// under keel.DefaultClassifier): a caller that gave up gets its context error
// back, not a substitute.
//
// A fallback belongs outermost in a chain, so that it sees the error after
// retries, breakers and limits have had their say:
//
//	p := keel.Chain(fb, rt, br)
//
// # Panics
//
// A fallback does not recover panics: a panic in the operation (or in an inner
// policy) passes through unchanged and Func is not called. A panic in Func
// propagates too.
//
// # Events
//
// Each replacement emits one keel.EventFallback with Err set to the replaced
// error and Outcome to its classification, before Func is called.
package fallback
