// Package pgstore is an [idempotency.Store] kept in a PostgreSQL table:
// durable, shared by every replica that uses the same database, and able to
// join the caller's transaction so that a business write and the record of
// its response commit (or roll back) together.
//
// # Schema
//
// [Store.Migrate] creates the table (default name keel_idempotency) if it
// does not exist, with one row per (scope, key) and an index on expires_at
// for [Store.Reap]:
//
//	scope, key        bytea, the primary key (any bytes)
//	fingerprint       bytea, 32 bytes
//	status            smallint: 1 in progress, 2 completed
//	token             bytea, the lease owner's token (NULL once completed)
//	lease_expires_at  timestamptz (NULL once completed)
//	claims            integer
//	response_status   integer, response_headers bytea, response_body bytea
//	created_at, completed_at, expires_at   timestamptz
//
// Response headers are kept in a compact length-prefixed binary encoding so
// that every byte of every value replays exactly. Times come from the
// caller's clock (the now and Now arguments), never from the database's, and
// are kept at microsecond precision.
//
// # Statements
//
// Every method is one SQL statement, so one round trip (pgx prepares each
// statement once per connection and caches it). Claim is a single INSERT …
// ON CONFLICT DO UPDATE: a new row is inserted; an expired row is replaced;
// an in-progress row whose lease ended is taken over; any other row is
// locked and left as it was, and RETURNING hands it back in the same reply,
// response included. The conflicting row is always locked and updated (to
// itself when nothing changes), so that concurrent claims queue on the row
// lock and each one sees the latest committed version: a refused claim
// costs one HOT update of the row. On a takeover, the previous record comes
// from a CTE reading the row as of the statement's start.
//
// Heartbeat, Complete and Release are one UPDATE or DELETE whose WHERE
// clause compares the owner's token (compare-and-set); Get is one SELECT;
// Reap is one DELETE of up to limit expired rows, skipping rows that other
// transactions hold locked.
//
// # Transactions
//
// [Store.WithTx] returns a view of the store whose statements run in the
// caller's pgx.Tx. The usual pattern claims outside the transaction, so that
// concurrent requests with the same key see the claim at once, and completes
// inside the transaction that makes the business write:
//
//	res, err := store.Claim(ctx, req) // autocommit: visible to every replica
//	…
//	tx, err := pool.Begin(ctx)
//	_, err = tx.Exec(ctx, "INSERT INTO charges …")
//	err = store.WithTx(tx).Complete(ctx, scope, key, token, now, resp, retention)
//	err = tx.Commit(ctx) // the charge and the stored response, or neither
//
// If the transaction rolls back, the record stays in progress under the
// caller's lease: a later request gets 409 until the lease ends and then
// takes it over and runs again, which is safe because the business write
// rolled back too. A claim made inside a transaction holds the row lock until
// the transaction ends, so concurrent claims of the same key wait for it.
package pgstore
