// Package redisstore is an [idempotency.Store] kept in Redis, shared by every
// replica of a service or gateway that talks to the same Redis.
//
// # Round trips
//
// Every method is one round trip. Claim, Heartbeat, Complete and Release are
// Lua scripts, run with EVALSHA and, when the server does not know the script
// yet (after a restart or a SCRIPT FLUSH), once more with EVAL, which caches it
// again; [Store.Load] loads them ahead of time. Claim inserts the record if it
// is absent or expired, takes over an in-progress record whose lease ended, or
// else returns the existing record, response included, in the same reply. Get
// is one HGETALL.
//
// go-redis re-sends a command after a network error or a read timeout
// (Options.MaxRetries), so a script may run twice for one call. Claim is safe
// to repeat: a live in-progress record that the caller's token already owns
// is reported as claimed again, unchanged. A repeated Complete, Heartbeat or
// Release whose first run took effect reports [idempotency.ErrLeaseLost]; the
// record is as the first run left it.
//
// # Keys
//
// Each record is one Redis hash under the key
//
//	<Prefix>{<len(scope)>:<scope>:<key>}
//
// for example "keel:idem:{5:acct1:order-42}". The length of the scope makes
// the name unambiguous whatever bytes scope and key contain. The braces are a
// Redis Cluster hash tag: every key derived from one (scope, key) hashes to the
// same slot, and each script touches only the one key it is given, so the
// store works unchanged on Redis Cluster (a [redis.ClusterClient]). When the
// key itself contains '}', the hash tag ends there; the record still lives in
// exactly one key and one slot.
//
// The hash fields are st (status: 1 in progress, 2 completed), tk (the owner's
// token), fp (the 32-byte fingerprint), le (lease end), cl (claims), ca, co and
// ex (created, completed and expiry times), rs (response status), rh (response
// headers, a compact length-prefixed encoding) and rb (response body). Times
// are Unix milliseconds taken from the caller's clock: the store keeps
// millisecond precision and truncates finer ones.
//
// # Expiry
//
// Every write sets PEXPIREAT to the record's ExpiresAt, so Redis deletes
// expired records by itself and [Store.Reap] has nothing to do (it returns 0).
// Get and Claim also compare ExpiresAt with the caller's now, so a record is
// gone from the caller's point of view at exactly ExpiresAt even if the Redis
// clock lags. The server's TTL is computed from the caller's times: callers
// whose clock runs far ahead of the Redis server's keep records longer, and an
// ExpiresAt already past on the Redis clock deletes the record at once.
//
// Redis acknowledges a write once it is in memory. Whether an acknowledged
// record survives a Redis crash or a failover depends on the server's
// persistence (appendonly, appendfsync) and replication settings, not on this
// package; use pgstore or boltstore where a record must be durable.
package redisstore
