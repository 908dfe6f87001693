package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
)

// envCluster names the variable listing the nodes of a Redis Cluster
// (host:port,host:port,…); scripts/services.sh start prints it.
const envCluster = "KEEL_REDIS_CLUSTER_ADDRS"

// newClusterClient connects to the test cluster. It skips the test when
// KEEL_REDIS_CLUSTER_ADDRS is unset, unless CI is set: there it fails.
func newClusterClient(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	addrs := os.Getenv(envCluster)
	if addrs == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is unset and CI is set: run scripts/services.sh start", envCluster)
		}
		tb.Skipf("%s is unset: run eval \"$(scripts/services.sh start)\" to test against a real Redis Cluster", envCluster)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis cluster at %s: %v", addrs, err)
	}
	return c
}

func TestClusterConformance(t *testing.T) {
	c := newClusterClient(t)
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store { return newStore(t, c) })
}

func TestClusterHTTP(t *testing.T) {
	c := newClusterClient(t)
	idempotencytest.RunHTTP(t, func(t *testing.T) idempotency.Store { return newStore(t, c) })
}

// TestClusterSpread: records of different keys land on different masters,
// and each record is whole on one of them.
func TestClusterSpread(t *testing.T) {
	c := newClusterClient(t)
	s := newStore(t, c)
	ctx := t.Context()
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Millisecond)
	const n = 30
	for i := range n {
		req := idempotency.ClaimRequest{Scope: "acct", Key: fmt.Sprint("k", i), Token: "t", Now: now, Lease: time.Minute, Retention: time.Hour}
		if _, err := s.Claim(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		perNode []int
	)
	pattern := strings.TrimSuffix(s.Key("acct", "k"), "acct:k}") + "*" // prefix + "{"
	err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		keys, err := node.Keys(ctx, pattern).Result()
		mu.Lock()
		perNode = append(perNode, len(keys))
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	total, used := 0, 0
	for _, k := range perNode {
		total += k
		if k > 0 {
			used++
		}
	}
	if total != n || used < 2 {
		t.Errorf("keys per master %v: got %d keys on %d masters, want %d keys on at least 2", perNode, total, used, n)
	}
}
