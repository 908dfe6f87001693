package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/memstore"
)

func ExampleNew() {
	ctx := context.Background()
	s := memstore.New()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	req := idempotency.ClaimRequest{Scope: "tenant-1", Key: "order-1", Token: "t1", Now: now, Lease: 30 * time.Second, Retention: 24 * time.Hour}

	res, _ := s.Claim(ctx, req)
	fmt.Println("claimed:", res.Claimed)
	_ = s.Complete(ctx, "tenant-1", "order-1", "t1", now.Add(time.Second), idempotency.Response{Status: 201, Body: []byte("ok")}, 24*time.Hour)

	req.Token, req.Now = "t2", now.Add(time.Minute)
	res, _ = s.Claim(ctx, req)
	fmt.Println("claimed:", res.Claimed, "stored:", res.Record.Status, res.Record.Response.Status, string(res.Record.Response.Body))

	n, _ := s.Reap(ctx, now.Add(25*time.Hour), 100)
	fmt.Println("reaped:", n)
	// Output:
	// claimed: true
	// claimed: false stored: completed 201 ok
	// reaped: 1
}

// A Store for a long-running process deletes its expired records in the
// background; Close stops the reaper and waits for it.
func ExampleWithReaper() {
	s := memstore.New(memstore.WithReaper(time.Minute, 0))
	defer func() { _ = s.Close() }()

	ctx := context.Background()
	res, _ := s.Claim(ctx, idempotency.ClaimRequest{Scope: "tenant-1", Key: "order-1", Token: "t1",
		Now: time.Now(), Lease: 30 * time.Second, Retention: 24 * time.Hour})
	fmt.Println("claimed:", res.Claimed, "records:", s.Len())
	// Output:
	// claimed: true records: 1
}
