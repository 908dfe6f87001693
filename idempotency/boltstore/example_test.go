package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/boltstore"
)

// Open a store, claim a key, complete it, and read the stored response back
// after reopening the file, as a restarted process would.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "idempotency.db")

	ctx := context.Background()
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	s, err := boltstore.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := s.Claim(ctx, idempotency.ClaimRequest{
		Scope: "customer-42", Key: "8e03978e-40d5-43e8-bc93-6894a57f9324", Token: "owner-1",
		Now: now, Lease: 30 * time.Second, Retention: 24 * time.Hour,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("claimed:", res.Claimed)
	resp := idempotency.Response{Status: 201, Body: []byte(`{"id":"ch_1"}`)}
	if err := s.Complete(ctx, "customer-42", "8e03978e-40d5-43e8-bc93-6894a57f9324", "owner-1", now.Add(time.Second), resp, 24*time.Hour); err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Close(); err != nil { // as a process exiting would
		fmt.Println(err)
		return
	}

	s, err = boltstore.Open(path) // a restart
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Close() }()
	rec, err := s.Get(ctx, "customer-42", "8e03978e-40d5-43e8-bc93-6894a57f9324", now.Add(time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Status, rec.Response.Status, string(rec.Response.Body), rec.ExpiresAt.Format(time.RFC3339))
	// Output:
	// claimed: true
	// completed 201 {"id":"ch_1"} 2026-11-28T08:00:01Z
}

// A store with a background reaper that deletes expired records every
// minute. Close stops it.
func ExampleWithReaper() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()

	s, err := boltstore.Open(filepath.Join(dir, "idempotency.db"), boltstore.WithReaper(time.Minute, 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Close() }()
	n, err := s.Len()
	fmt.Println(n, err)
	// Output: 0 <nil>
}

// Reap deletes expired records on demand, oldest first.
func ExampleStore_Reap() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	s, err := boltstore.Open(filepath.Join(dir, "idempotency.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Close() }()

	ctx := context.Background()
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for _, key := range []string{"a", "b", "c"} {
		_, err := s.Claim(ctx, idempotency.ClaimRequest{Scope: "s", Key: key, Token: "t",
			Now: now, Lease: time.Second, Retention: time.Hour})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	n, _ := s.Reap(ctx, now.Add(30*time.Minute), 0)
	fmt.Println("reaped after 30m:", n)
	n, _ = s.Reap(ctx, now.Add(2*time.Hour), 0)
	fmt.Println("reaped after 2h:", n)
	// Output:
	// reaped after 30m: 0
	// reaped after 2h: 3
}
