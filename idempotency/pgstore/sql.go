package pgstore

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/internal/headercodec"
)

// columns of the table, in the order row.dests scans them.
const columns = "scope, key, fingerprint, status, token, lease_expires_at, claims, " +
	"response_status, response_headers, response_body, created_at, completed_at, expires_at"

// statements holds the SQL of a Store, built once for its table.
type statements struct {
	migrate, claim, heartbeat, complete, release, get, reap string
}

func buildStatements(table string) *statements {
	ident := pgx.Identifier(strings.Split(table, "."))
	t := ident.Sanitize()
	index := pgx.Identifier{ident[len(ident)-1] + "_expires_at_idx"}.Sanitize()

	// In the claim, $6 is now. A row is expired when expires_at <= now; its
	// lease is over when lease_expires_at < now.
	const (
		expired   = "r.expires_at <= $6"
		claimable = "(r.expires_at <= $6 OR (r.status = 1 AND r.lease_expires_at < $6))"
	)
	set := func(col, fresh string) string {
		return fmt.Sprintf("%s = CASE WHEN %s THEN %s ELSE r.%s END", col, claimable, fresh, col)
	}
	prefixed := func(p string) string {
		cols := strings.Split(columns, ", ")
		for i, c := range cols {
			cols[i] = p + c
		}
		return strings.Join(cols, ", ")
	}

	return &statements{
		// One simple-protocol query, so one implicit transaction: the
		// advisory lock serializes replicas that migrate at the same time
		// (CREATE … IF NOT EXISTS alone races on the catalog).
		migrate: `SELECT pg_advisory_xact_lock(hashtext('keel.idempotency.migrate'));
CREATE TABLE IF NOT EXISTS ` + t + ` (
	scope            bytea       NOT NULL,
	key              bytea       NOT NULL,
	fingerprint      bytea       NOT NULL CHECK (length(fingerprint) = 32),
	status           smallint    NOT NULL CHECK (status IN (1, 2)),
	token            bytea,
	lease_expires_at timestamptz,
	claims           integer     NOT NULL,
	response_status  integer,
	response_headers bytea,
	response_body    bytea,
	created_at       timestamptz NOT NULL,
	completed_at     timestamptz,
	expires_at       timestamptz NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + t + ` (expires_at);`,

		// $1 scope, $2 key, $3 fingerprint, $4 token, $5 lease end, $6 now,
		// $7 expiry.
		claim: `WITH prev AS (
	SELECT ` + columns + ` FROM ` + t + ` WHERE scope = $1 AND key = $2
), cur AS (
	INSERT INTO ` + t + ` AS r (scope, key, fingerprint, status, token, lease_expires_at, claims, created_at, expires_at)
	SELECT $1::bytea, $2::bytea, $3::bytea, 1, $4::bytea, $5::timestamptz, 1, $6::timestamptz, $7::timestamptz
	WHERE NOT EXISTS (SELECT FROM prev r WHERE NOT ` + claimable + `)
	ON CONFLICT (scope, key) DO UPDATE SET
	` + strings.Join([]string{
			set("fingerprint", "excluded.fingerprint"),
			set("status", "1"),
			set("token", "excluded.token"),
			set("lease_expires_at", "excluded.lease_expires_at"),
			"claims = CASE WHEN " + expired + " THEN 1 WHEN " + claimable + " THEN r.claims + 1 ELSE r.claims END",
			set("response_status", "NULL"),
			set("response_headers", "NULL"),
			set("response_body", "NULL"),
			"created_at = CASE WHEN " + expired + " THEN excluded.created_at ELSE r.created_at END",
			set("completed_at", "NULL"),
			set("expires_at", "excluded.expires_at"),
		}, ",\n\t") + `
	RETURNING ` + columns + `
)
SELECT ` + prefixed("cur.") + `, ` + prefixed("prev.") + `
FROM (SELECT) one LEFT JOIN cur ON true LEFT JOIN prev ON true`,

		// $1 scope, $2 key, $3 token, $4 now, $5 lease end.
		heartbeat: `UPDATE ` + t + ` SET lease_expires_at = $5, expires_at = GREATEST(expires_at, $5)
WHERE scope = $1 AND key = $2 AND status = 1 AND token = $3 AND expires_at > $4`,

		// $1 scope, $2 key, $3 token, $4 now, $5 status, $6 headers, $7 body,
		// $8 expiry.
		complete: `UPDATE ` + t + ` SET status = 2, token = NULL, lease_expires_at = NULL,
	response_status = $5, response_headers = $6, response_body = $7, completed_at = $4, expires_at = $8
WHERE scope = $1 AND key = $2 AND status = 1 AND token = $3 AND expires_at > $4`,

		release: `DELETE FROM ` + t + ` WHERE scope = $1 AND key = $2 AND status = 1 AND token = $3`,

		get: `SELECT ` + columns + ` FROM ` + t + ` WHERE scope = $1 AND key = $2 AND expires_at > $3`,

		// $1 now, $2 limit (NULL for none).
		reap: `DELETE FROM ` + t + ` WHERE (scope, key) IN (
	SELECT scope, key FROM ` + t + ` WHERE expires_at <= $1
	ORDER BY expires_at LIMIT $2::bigint FOR UPDATE SKIP LOCKED
) AND expires_at <= $1`,
	}
}

// row is one row of the table as scanned; every column may be NULL (the
// prev side of a claim is NULL when there was no row).
type row struct {
	scope, key, fingerprint, token []byte
	status                         *int16
	lease                          *time.Time
	claims, respStatus             *int32
	respHeaders, respBody          []byte
	created, completed, expires    *time.Time
}

func (r *row) dests() []any {
	return []any{&r.scope, &r.key, &r.fingerprint, &r.status, &r.token, &r.lease, &r.claims,
		&r.respStatus, &r.respHeaders, &r.respBody, &r.created, &r.completed, &r.expires}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func (r *row) record() (idempotency.Record, error) {
	if r.status == nil || r.claims == nil || r.created == nil || r.expires == nil || len(r.fingerprint) != 32 {
		return idempotency.Record{}, fmt.Errorf("%w: missing columns", ErrCorrupt)
	}
	rec := idempotency.Record{
		Scope:        string(r.scope),
		Key:          string(r.key),
		LeaseExpires: deref(r.lease),
		Claims:       int(*r.claims),
		CreatedAt:    *r.created,
		CompletedAt:  deref(r.completed),
		ExpiresAt:    *r.expires,
	}
	copy(rec.Fingerprint[:], r.fingerprint)
	switch *r.status {
	case 1:
		rec.Status = idempotency.StatusInProgress
	case 2:
		rec.Status = idempotency.StatusCompleted
		if r.respStatus == nil {
			return idempotency.Record{}, fmt.Errorf("%w: completed without a response", ErrCorrupt)
		}
		h, err := headercodec.Decode(r.respHeaders)
		if err != nil {
			return idempotency.Record{}, fmt.Errorf("%w: response headers: %w", ErrCorrupt, err)
		}
		body := r.respBody
		if body == nil {
			body = []byte{}
		}
		if h == nil {
			h = http.Header{}
		}
		rec.Response = &idempotency.Response{Status: int(*r.respStatus), Header: h, Body: body}
	default:
		return idempotency.Record{}, fmt.Errorf("%w: status %d", ErrCorrupt, *r.status)
	}
	return rec, nil
}
