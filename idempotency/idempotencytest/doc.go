// Package idempotencytest checks that an [idempotency.Store] keeps the
// contract the middleware relies on, the way testing/fstest checks an fs.FS.
//
// [Run] is the store conformance suite; every store package calls it from its
// own tests against a real server:
//
//	func TestConformance(t *testing.T) {
//		idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
//			return newStoreForTest(t) // cleaned up with t.Cleanup
//		})
//	}
//
// [RunHTTP] runs the HTTP-level scenarios (50 concurrent identical requests
// run the handler once, byte-exact replay, 422 on a reused key, fencing of a
// taken-over handler) through idempotency.Middleware against the same store.
//
// # Assumptions
//
// The suite builds its timelines from time.Now() truncated to the
// millisecond, plus offsets of whole milliseconds; it never sleeps. Every
// time a store returns must equal, at millisecond precision, the time it was
// computed from (time.Time.Equal after truncation to the millisecond). The
// suite never probes the exact instant at which a lease or record expires;
// the times it uses are at least one millisecond before or after it. All
// retention periods are at least a minute of real time and all offsets
// point forward, so a store that also lets its server expire keys (Redis
// PEXPIRE, computed from the given times) passes as long as it compares the
// given times itself.
//
// Each subtest calls newStore once and uses keys and scopes unique to the
// run, so stores may share one server and database between subtests and
// runs.
package idempotencytest
