// Package boltstore is the embedded, durable [idempotency.Store]: every
// record lives in one bbolt (go.etcd.io/bbolt) file, and every change is
// fsync'd before the method that made it returns. A record the middleware was
// told is stored survives SIGKILL of the process and a crash of the machine;
// after a restart on the same file, completed records replay and in-progress
// records whose lease ran out are taken over.
//
// It is the store for a single node: bbolt allows one process to open a file
// at a time. Replicas that must share records use redisstore or pgstore.
//
//	s, err := boltstore.Open("/var/lib/keel/idempotency.db", boltstore.WithReaper(time.Minute, 0))
//	if err != nil { … }
//	defer s.Close()
//
// # Layout and cost
//
// The file has three buckets: "records" maps (scope, key), encoded with a
// length prefix so that no separator can be forged, to a compact binary
// record; "expiry" indexes the records by expiry time, so [Store.Reap] walks
// only expired entries; "meta" holds the format version. Claim, Heartbeat,
// Complete, Release and Reap run in one write transaction each (bbolt has a
// single writer, which makes them atomic); a claim that finds a live record it
// cannot take, and Get, run in a read transaction, which never waits for the
// writer and writes nothing.
//
// A commit costs bbolt's two fdatasync calls, which dominate a write's
// latency. Writes are therefore committed in groups: a write that arrives
// while a commit is in progress queues, and everything queued commits
// together in the next transaction, each write still seeing the ones before
// it. A lone write commits at once; under concurrent load one sync serves
// many writes. A write waiting in the queue gives up when its context ends;
// one whose group is committing waits for the commit.
//
// # Expiry
//
// A record exists strictly before its ExpiresAt (the claim time plus the
// longer of the retention and the lease; the completion time plus the
// retention once completed). Expired records are invisible at once; they
// are deleted from the file by [Store.Reap] or by the background reaper that
// [WithReaper] starts.
package boltstore
