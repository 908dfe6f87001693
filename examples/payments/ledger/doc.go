// Package ledger is the durable record of the charges the payments example
// applied: a bbolt file per replica (or one shared by every replica, see
// [Shared]), written with an fsync before the
// replica answers, and readable by other programs after the replica stopped,
// including after it was killed with SIGKILL.
//
// It is the oracle of the resilience demo. Every application of a charge is
// one [Entry]; the demo collects the entries of every replica and calls
// [Audit] with the idempotency keys that clients saw acknowledged:
//
//   - a key with more than one entry, on one replica or across several, was
//     applied twice (a duplicate);
//   - an acknowledged key with no entry anywhere was lost.
//
// # File layout
//
// A ledger file (conventionally [FileName] in the replica's data directory)
// has three buckets:
//
//   - "ledger" maps an idempotency key to the JSON [Entry] of its first
//     application;
//   - "repeats" maps an 8-byte big-endian sequence number to the JSON Entry of
//     every later application of a key already in "ledger", so that a
//     duplicate is recorded, never overwritten;
//   - "ids" maps a charge id to the JSON Entry with that id, for lookups.
//
// Every entry carries a sequence number (Entry.Seq), the order in which this
// file applied it, starting at 1.
//
// A bbolt file is locked by the process that opened it: read a replica's
// ledger with [ReadFile] once the replica has stopped (or was killed), or ask
// a running replica for GET /ledger.
package ledger
