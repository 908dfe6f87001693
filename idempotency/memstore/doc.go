// Package memstore is an in-memory [idempotency.Store]: a mutex and a map.
//
// It is linearizable, honors the Now, Lease and Retention of every call
// exactly, and loses everything when the process exits. Use it in tests and
// in single-process services that can accept losing records on restart; use
// boltstore, redisstore or pgstore where a record must survive a crash or be
// shared between replicas.
//
// Expired records are invisible at once (Get and Claim compare times on every
// call) but take memory until [Store.Reap] deletes them. In a long-running
// process, either call Reap now and then (for example every minute) or let
// the Store do it: New(WithReaper(time.Minute, 0)) starts a background
// reaper that the Store owns and [Store.Close] stops and waits for.
package memstore
