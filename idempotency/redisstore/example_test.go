package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/redisstore"
)

// exampleClient connects to the server in KEEL_REDIS_URL (scripts/services.sh
// start prints it).
func exampleClient() *redis.Client {
	opt, err := redis.ParseURL(os.Getenv("KEEL_REDIS_URL"))
	if err != nil {
		panic(err)
	}
	return redis.NewClient(opt)
}

// A first request claims the key, runs and completes; a retry of it gets the
// stored response back from its claim, in one round trip.
func Example() {
	ctx := context.Background()
	client := exampleClient()
	defer func() { _ = client.Close() }()

	store, err := redisstore.New(client, redisstore.Config{Prefix: uniquePrefix()})
	if err != nil {
		panic(err)
	}
	if err := store.Load(ctx); err != nil { // optional: preload the scripts
		panic(err)
	}

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

	resp := idempotency.Response{
		Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(`{"order":42}`),
	}
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

// A request whose handler died is taken over once its lease has ended; the
// dead owner can then no longer complete it.
func ExampleStore_Claim_takeover() {
	ctx := context.Background()
	client := exampleClient()
	defer func() { _ = client.Close() }()
	store := redisstore.MustNew(client, redisstore.Config{Prefix: uniquePrefix()})

	now := time.Now()
	req := idempotency.ClaimRequest{
		Scope: "customer-7", Key: "order-43", Token: "crashed",
		Now: now, Lease: 10 * time.Second, Retention: time.Hour,
	}
	if _, err := store.Claim(ctx, req); err != nil {
		panic(err)
	}

	req.Token, req.Now = "retry", now.Add(11*time.Second)
	res, err := store.Claim(ctx, req)
	if err != nil {
		panic(err)
	}
	fmt.Println("claimed:", res.Claimed, "took over:", res.TookOver, "claims before:", res.Record.Claims)

	err = store.Complete(ctx, "customer-7", "order-43", "crashed", req.Now, idempotency.Response{Status: 200}, time.Hour)
	fmt.Println("stale owner:", err)
	// Output:
	// claimed: true took over: true claims before: 1
	// stale owner: idempotency: lease lost
}

// Get reads a record in one HGETALL.
func ExampleStore_Get() {
	ctx := context.Background()
	client := exampleClient()
	defer func() { _ = client.Close() }()
	store := redisstore.MustNew(client, redisstore.Config{Prefix: uniquePrefix()})

	now := time.Now()
	_, err := store.Get(ctx, "customer-7", "order-44", now)
	fmt.Println(err)

	req := idempotency.ClaimRequest{Scope: "customer-7", Key: "order-44", Token: "t", Now: now, Lease: time.Minute, Retention: time.Hour}
	if _, err := store.Claim(ctx, req); err != nil {
		panic(err)
	}
	rec, err := store.Get(ctx, "customer-7", "order-44", now)
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Status, rec.Claims)
	// Output:
	// idempotency: record not found
	// in_progress 1
}

func ExampleStore_Key() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // Key does not dial
	defer func() { _ = client.Close() }()
	store := redisstore.MustNew(client, redisstore.Config{})
	fmt.Println(store.Key("customer-7", "order-42"))
	// Output:
	// keel:idem:{10:customer-7:order-42}
}
