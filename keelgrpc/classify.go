package keelgrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"

	"github.com/keelhq/keel"
)

// numCodes is one more than the largest gRPC code (Unauthenticated, 16).
const numCodes = int(codes.Unauthenticated) + 1

// Classify is the classifier the client interceptors use for retries when
// ClientConfig leaves RetryableCodes and Classifier nil: the classifier of
// NewClassifier(codes.Unavailable).
func Classify(ctx context.Context, err error) keel.Outcome { return classifyDefault(ctx, err) }

var classifyDefault = NewClassifier(codes.Unavailable)

// NewClassifier returns a keel.Classifier for retries that treats the given
// codes as retryable. It judges an attempt's error err, for a caller whose
// context is ctx, as follows:
//
//   - nil: OutcomeSuccess;
//   - marked keel.Permanent (this includes a response whose
//     grpc-retry-pushback-ms trailer is negative or malformed: the server
//     asked not to be retried): OutcomePermanent;
//   - a rejection by a client-side policy (keel.ErrRejected: an open
//     breaker, a full bulkhead): OutcomePermanent, the call fails fast;
//   - Canceled: OutcomeNeutral when ctx has ended (the caller gave up),
//     OutcomePermanent otherwise;
//   - DeadlineExceeded: OutcomeNeutral when ctx has ended (the caller's own
//     deadline passed: no retry can help), OutcomeFailure otherwise (a
//     per-attempt timeout, or the server's own deadline ran out);
//   - a code in retryable: OutcomeFailure;
//   - ResourceExhausted with a valid grpc-retry-pushback-ms trailer:
//     OutcomeFailure, and the pushback is the retry's minimum delay;
//   - any other code: OutcomePermanent;
//   - an error carrying no gRPC status: keel.DefaultClassifier.
//
// Codes outside the range of gRPC codes are ignored.
func NewClassifier(retryable ...codes.Code) keel.Classifier {
	var set [numCodes]bool
	for _, c := range retryable {
		if int(c) < numCodes {
			set[c] = true
		}
	}
	return func(ctx context.Context, err error) keel.Outcome {
		if err == nil {
			return keel.OutcomeSuccess
		}
		if keel.IsPermanent(err) || errors.Is(err, keel.ErrRejected) {
			return keel.OutcomePermanent
		}
		code, ok := statusCode(err)
		if !ok {
			return keel.DefaultClassifier(ctx, err)
		}
		switch code {
		case codes.Canceled:
			if ctx.Err() != nil {
				return keel.OutcomeNeutral
			}
			return keel.OutcomePermanent
		case codes.DeadlineExceeded:
			if ctx.Err() != nil {
				return keel.OutcomeNeutral
			}
			return keel.OutcomeFailure
		case codes.ResourceExhausted:
			if _, hint := keel.RetryAfter(err); hint {
				return keel.OutcomeFailure
			}
		}
		if int(code) < numCodes && set[code] {
			return keel.OutcomeFailure
		}
		return keel.OutcomePermanent
	}
}

// ClassifyBreaker is the classifier the client interceptors give their
// circuit breakers when ClientConfig.Breaker.Classifier is nil. A breaker
// counts what says something about the server's health:
//
//   - nil: OutcomeSuccess;
//   - Canceled: OutcomeNeutral (not counted);
//   - a rejection by a client-side policy (keel.ErrRejected: a full
//     bulkhead inside the breaker): OutcomeNeutral;
//   - Unknown, DeadlineExceeded (also when the caller's deadline passed: in
//     gRPC the deadline is the timeout, and a server that cannot answer
//     within its callers' deadlines is failing them), ResourceExhausted,
//     Internal, Unavailable and DataLoss: OutcomeFailure;
//   - every other code (InvalidArgument, NotFound, AlreadyExists,
//     PermissionDenied, FailedPrecondition, Aborted, OutOfRange,
//     Unimplemented, Unauthenticated): OutcomeSuccess — the server answered,
//     the request was at fault;
//   - an error carrying no gRPC status: keel.DefaultClassifier.
//
// The keel.Permanent mark is ignored: a server that asks not to be retried
// still failed the call.
func ClassifyBreaker(ctx context.Context, err error) keel.Outcome {
	if err == nil {
		return keel.OutcomeSuccess
	}
	if errors.Is(err, keel.ErrRejected) {
		return keel.OutcomeNeutral
	}
	code, ok := statusCode(err)
	if !ok {
		return keel.DefaultClassifier(ctx, err)
	}
	switch code {
	case codes.OK:
		return keel.OutcomeSuccess
	case codes.Canceled:
		return keel.OutcomeNeutral
	case codes.Unknown, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Internal, codes.Unavailable, codes.DataLoss:
		return keel.OutcomeFailure
	}
	return keel.OutcomeSuccess
}
