// Package idempotency makes retried requests safe: a request carrying an
// Idempotency-Key header (IETF draft-ietf-httpapi-idempotency-key-header) is
// executed at most once per client scope while its record lives, and every
// repeat receives the stored response instead of running the handler again.
//
//	m := idempotency.MustNew(idempotency.Config{Store: store})
//	http.ListenAndServe(addr, m.Wrap(mux))
//
// # Decisions
//
// [Middleware] decides in this order (auth, rate limits and overload
// shedding belong before it, so their rejections are never recorded):
//
//  1. A method not in Config.Methods (default POST, PATCH) passes through.
//  2. No key: pass through, or 400 idempotency-key-missing with
//     Config.RequireKey.
//  3. A malformed key (see [ParseKey]), or one shorter than
//     Config.MinKeyLength: 400 idempotency-key-invalid.
//  4. The client scope (Config.Scope, default [CredentialScope]) fails: 400
//     idempotency-request-invalid. A body over Config.MaxBodyBytes: 413.
//     Nothing is recorded.
//  5. The store claims (scope, key) for this request in one round trip. If
//     the claim wins, the handler runs under a lease that a heartbeat renews;
//     its response is buffered, stored or released by Config.Persistence,
//     and only then written to the client.
//  6. The key's record has another fingerprint (method, route, canonical
//     query, opted-in headers, body): 422 idempotency-key-reused
//     (Config.MismatchStatus).
//  7. The record is completed: its status, stored headers and body are
//     replayed byte for byte with Idempotent-Replayed: true; the handler
//     does not run.
//  8. The record is in progress under a live lease: the request waits up to
//     Config.MaxWait for the outcome, then gets 409 operation-in-progress
//     with Retry-After set to the remaining lease, rounded up.
//  9. The lease has expired (the owner crashed or hung without heartbeats):
//     the claim takes the record over and the handler runs again. The stale
//     owner is fenced: it can no longer complete or release the record.
//  10. The store fails: 503 idempotency-unavailable with Retry-After (fail
//     closed), or, with Config.FailOpen, the handler runs unprotected.
//
// Problems are application/problem+json (RFC 9457) with Cache-Control:
// no-store and a retention_seconds member; see [ProblemTypeBase].
//
// # Records
//
// Records live behind the [Store] interface, with owner-token leases that
// fence a stale owner out. Stores: memstore (tests, one process), boltstore
// (the embedded default: durable, survives SIGKILL), redisstore (shared across
// replicas) and pgstore (durable, can join the caller's transaction). Package
// idempotencytest is the conformance suite every store passes.
//
// # Events
//
// With Config.Observer set, the middleware reports keel.Event values with
// Policy "idempotency": EventAcquired (claimed; the handler runs),
// EventTakeover (an expired lease taken over), EventSuccess (the outcome was
// stored), EventReleased (the outcome was not stored; the key is free),
// EventReplayed, EventRejected with ReasonKeyReused, ReasonInProgress (Err
// a [*ConflictError]) or ReasonInvalid, EventLeaseLost (a heartbeat,
// completion or release found the lease gone) and EventFailure (Err a
// [*StoreError]). Errors in events name keys only by a hash.
package idempotency
