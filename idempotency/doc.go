// Package idempotency makes retried requests safe: a request carrying an
// Idempotency-Key header (IETF draft-ietf-httpapi-idempotency-key-header) is
// executed at most once per client scope, and every repeat receives the stored
// response instead of running the handler again.
//
// Records live behind the [Store] interface, with owner-token leases that
// fence a stale owner out. Stores: memstore (tests, one process), boltstore
// (the embedded default: durable, survives SIGKILL), redisstore (shared across
// replicas) and pgstore (durable, can join the caller's transaction). Package
// idempotencytest is the conformance suite every store passes.
package idempotency
