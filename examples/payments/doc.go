// Command payments is a small payments API built with Keel, one of the two
// services that `keel demo` runs as real processes behind the gateway.
//
// Each charge is protected by the idempotency middleware (package
// idempotency, with a boltstore file in the data directory) and recorded in a
// durable ledger (package ledger, another bbolt file in the same directory)
// before the client gets its answer, so that the demo can check, after killing
// replicas, that no acknowledged charge was lost and none was applied twice.
//
// The server code is package service ([service.Run]), so that other programs
// can run a replica in-process; this command is a thin wrapper around it.
//
// Usage:
//
//	payments -addr 127.0.0.1:0 -name payments-1 -data /var/lib/payments-1 -work 10ms
//
// Flags:
//
//	-addr host:port       listen address (default 127.0.0.1:0)
//	-name payments-1      replica name, recorded in every charge and response
//	-data DIR             directory of ledger.db and idempotency.db (required; created if missing)
//	-ledger FILE          a ledger file shared by every replica given the same path, instead of
//	                      ledger.db in -data (package ledger, Shared: one locked transaction per charge)
//	-apply-once           apply a charge only if its key is not in the ledger yet, in the same
//	                      transaction; otherwise answer 201 with the first application
//	                      (Idempotent-Replayed: true), or 422 if the body differs
//	-work 10ms            mean simulated processing time, drawn from [work/2, 2·work]; 0 for none
//	-lease 10s            idempotency lease: how long a dead replica's key stays claimed
//	-max-wait 2s          how long a request waits for another with the same key before 409
//	-no-idempotency       no deduplication in the replica (the key is still required and recorded)
//	-drain-delay 0        after SIGTERM, keep accepting (with /healthz 503) this long
//	-drain-timeout 10s    longest wait for requests in flight at shutdown
//	-seed 0               seed of the processing-time draws; 0 derives it from -name
//	-access-log           log every request to standard error
//
// The first line on standard output is "listening <host:port>"; logs go to
// standard error. SIGTERM or SIGINT drains: /healthz answers 503, the
// listener closes after -drain-delay, requests in flight finish (for up to
// -drain-timeout), the files are closed and the process exits 0.
//
// Endpoints:
//
//	POST /charges       body {"amount":1234,"currency":"EUR","customer":"c1"}, header Idempotency-Key required;
//	                    201 {"id","status":"succeeded","replica","amount","currency","customer","created"}
//	GET  /charges/{id}  200 with the same body, or 404, for a charge this replica applied
//	GET  /ledger        every ledger entry of this replica, one JSON object a line (application/x-ndjson)
//	GET  /healthz       200 "ok", or 503 "draining" once shutdown has begun
//
// A charge waits a simulated processing time drawn uniformly from
// [work/2, 2·work] before it is applied, so a replica killed under load dies
// with charges in flight. A charge whose request context ends during that
// wait (the client left, or its Keel-Deadline-Ms ran out) is not applied and
// is answered 503 or 504, which the idempotency middleware does not store, so
// a retry runs again.
package main
