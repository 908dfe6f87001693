package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/pgstore"
)

// exampleStore connects to the database in KEEL_POSTGRES_URL
// (scripts/services.sh start prints it) and migrates a table of its own;
// cleanup drops the table and closes the pool.
func exampleStore(ctx context.Context) (store *pgstore.Store, pool *pgxpool.Pool, cleanup func()) {
	pool, err := pgxpool.New(ctx, os.Getenv("KEEL_POSTGRES_URL"))
	if err != nil {
		panic(err)
	}
	table := fmt.Sprintf("keelexample_%d_%d", time.Now().UnixNano(), tables.Add(1))
	store, err = pgstore.New(pool, pgstore.Config{Table: table})
	if err != nil {
		panic(err)
	}
	if err := store.Migrate(ctx); err != nil { // CREATE TABLE IF NOT EXISTS …
		panic(err)
	}
	return store, pool, func() {
		_, _ = pool.Exec(ctx, "DROP TABLE "+pgx.Identifier{table}.Sanitize())
		pool.Close()
	}
}

// A first request claims the key, runs and completes; a retry of it gets the
// stored response back from its claim, in one statement.
func Example() {
	ctx := context.Background()
	store, _, cleanup := exampleStore(ctx)
	defer cleanup()

	now := time.Now()
	req := idempotency.ClaimRequest{
		Scope: "customer-7", Key: "order-42", Token: "token-1",
		Now: now, Lease: 30 * time.Second, Retention: 24 * time.Hour,
	}
	res, err := store.Claim(ctx, req)
	if err != nil {
		panic(err)
	}
	fmt.Println("first claim:", res.Claimed)

	resp := idempotency.Response{Status: http.StatusCreated, Header: http.Header{}, Body: []byte(`{"order":42}`)}
	if err := store.Complete(ctx, "customer-7", "order-42", "token-1", now, resp, 24*time.Hour); err != nil {
		panic(err)
	}

	req.Token, req.Now = "token-2", now.Add(time.Second)
	res, err = store.Claim(ctx, req)
	if err != nil {
		panic(err)
	}
	fmt.Println("retry claimed:", res.Claimed)
	fmt.Println("replay:", res.Record.Status, res.Record.Response.Status, string(res.Record.Response.Body))
	// Output:
	// first claim: true
	// retry claimed: false
	// replay: completed 201 {"order":42}
}

// The business write and the stored response commit together: claim outside
// the transaction, complete inside it.
func ExampleStore_WithTx() {
	ctx := context.Background()
	store, pool, cleanup := exampleStore(ctx)
	defer cleanup()

	now := time.Now()
	req := idempotency.ClaimRequest{
		Scope: "customer-7", Key: "charge-9", Token: "token-1",
		Now: now, Lease: 30 * time.Second, Retention: 24 * time.Hour,
	}
	if _, err := store.Claim(ctx, req); err != nil { // autocommit: every replica sees it
		panic(err)
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		panic(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// A temporary table stands in for the business table.
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS charges (key text PRIMARY KEY, cents int)"); err != nil {
		panic(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO charges VALUES ('charge-9', 1000)"); err != nil {
		panic(err)
	}
	resp := idempotency.Response{Status: http.StatusCreated, Header: http.Header{}, Body: []byte(`{"charged":1000}`)}
	if err := store.WithTx(tx).Complete(ctx, "customer-7", "charge-9", "token-1", now, resp, 24*time.Hour); err != nil {
		panic(err)
	}
	if err := tx.Commit(ctx); err != nil {
		panic(err)
	}

	rec, err := store.Get(ctx, "customer-7", "charge-9", now)
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Status, string(rec.Response.Body))
	// Output:
	// completed {"charged":1000}
}

// Reap deletes expired records in batches; run it periodically.
func ExampleStore_Reap() {
	ctx := context.Background()
	store, _, cleanup := exampleStore(ctx)
	defer cleanup()

	now := time.Now()
	for _, key := range []string{"a", "b", "c"} {
		req := idempotency.ClaimRequest{Scope: "s", Key: key, Token: key, Now: now, Lease: time.Second, Retention: time.Minute}
		if _, err := store.Claim(ctx, req); err != nil {
			panic(err)
		}
	}
	n, err := store.Reap(ctx, now.Add(time.Hour), 2)
	fmt.Println(n, err)
	n, err = store.Reap(ctx, now.Add(time.Hour), 2)
	fmt.Println(n, err)
	// Output:
	// 2 <nil>
	// 1 <nil>
}
