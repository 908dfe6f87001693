package redisstore_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
	"github.com/keelhq/keel/idempotency/redisstore"
)

// envURL names the variable that points the tests at a Redis server;
// scripts/services.sh start prints it.
const envURL = "KEEL_REDIS_URL"

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(envURL) == "" && os.Getenv("CI") == "" {
		// The examples talk to a real server and cannot skip themselves.
		fmt.Fprintf(os.Stderr, "redisstore: %s is unset; skipping the examples (run scripts/services.sh start)\n", envURL)
		if err := flag.Set("test.skip", "^Example"); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}

// newClient connects to the test server. It skips the test when KEEL_REDIS_URL
// is unset, unless CI is set: there a missing server fails the test.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is unset and CI is set: run scripts/services.sh start", envURL)
		}
		tb.Skipf("%s is unset: run eval \"$(scripts/services.sh start)\" to test against a real Redis", envURL)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", envURL, err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at %s: %v", url, err)
	}
	return c
}

var prefixes atomic.Uint64

// uniquePrefix keeps the records of one test apart from every other run.
func uniquePrefix() string {
	return fmt.Sprintf("keeltest:%d:%d:", time.Now().UnixNano(), prefixes.Add(1))
}

func newStore(tb testing.TB, c redis.UniversalClient) *redisstore.Store {
	tb.Helper()
	s, err := redisstore.New(c, redisstore.Config{Prefix: uniquePrefix()})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	c := newClient(t)
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store { return newStore(t, c) })
}

// TestHTTP runs the middleware-level scenarios (50 concurrent identical
// requests run the handler once, byte-exact replay, …) against Redis.
func TestHTTP(t *testing.T) {
	c := newClient(t)
	idempotencytest.RunHTTP(t, func(t *testing.T) idempotency.Store { return newStore(t, c) })
}

// counter counts the commands a client sends, pipelined ones included.
type counter struct {
	mu   sync.Mutex
	cmds []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.cmds = append(c.cmds, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		for _, cmd := range cmds {
			c.cmds = append(c.cmds, "pipeline:"+cmd.Name())
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.cmds
	c.cmds = nil
	return out
}

// TestRoundTrips counts the commands each method sends: one each, EVALSHA
// for the scripts (once loaded) and HGETALL for Get.
func TestRoundTrips(t *testing.T) {
	c := newClient(t)
	var cnt counter
	c.AddHook(&cnt)
	s := newStore(t, c)
	ctx := t.Context()
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cnt.take()
	now := time.Now().Truncate(time.Millisecond)
	req := idempotency.ClaimRequest{Scope: "acct", Key: "k1", Token: "t1", Now: now, Lease: time.Minute, Retention: time.Hour}
	resp := idempotency.Response{Status: 201, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("done")}
	other := req
	other.Token = "t2"

	steps := []struct {
		name string
		f    func() error
		want []string
	}{
		{"claim (new)", func() error { _, err := s.Claim(ctx, req); return err }, []string{"evalsha"}},
		{"heartbeat", func() error { return s.Heartbeat(ctx, "acct", "k1", "t1", now, time.Minute) }, []string{"evalsha"}},
		{"complete", func() error { return s.Complete(ctx, "acct", "k1", "t1", now, resp, time.Hour) }, []string{"evalsha"}},
		{"claim (replay)", func() error {
			res, err := s.Claim(ctx, other)
			if err == nil && (res.Claimed || res.Record.Response == nil || string(res.Record.Response.Body) != "done") {
				err = fmt.Errorf("claim of a completed record: got %+v, want the stored response", res)
			}
			return err
		}, []string{"evalsha"}},
		{"get (replay)", func() error {
			rec, err := s.Get(ctx, "acct", "k1", now)
			if err == nil && (rec.Response == nil || string(rec.Response.Body) != "done") {
				err = fmt.Errorf("get: got %+v, want the stored response", rec)
			}
			return err
		}, []string{"hgetall"}},
		{"release (not owner)", func() error {
			if err := s.Release(ctx, "acct", "k1", "t1"); !errors.Is(err, idempotency.ErrLeaseLost) {
				return fmt.Errorf("got %w, want ErrLeaseLost", err)
			}
			return nil
		}, []string{"evalsha"}},
	}
	for _, st := range steps {
		if err := st.f(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if d := cmp.Diff(st.want, cnt.take()); d != "" {
			t.Errorf("%s: commands sent (-want +got):\n%s", st.name, d)
		}
	}
}

// TestScriptCacheFlushed: after SCRIPT FLUSH a call still succeeds, falling
// back to EVAL once, which caches the script again.
func TestScriptCacheFlushed(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c)
	ctx := t.Context()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var cnt counter
	c.AddHook(&cnt)
	now := time.Now().Truncate(time.Millisecond)
	req := idempotency.ClaimRequest{Scope: "a", Key: "k", Token: "t", Now: now, Lease: time.Minute, Retention: time.Hour}
	if res, err := s.Claim(ctx, req); err != nil || !res.Claimed {
		t.Fatalf("Claim after SCRIPT FLUSH: %+v, %v", res, err)
	}
	if d := cmp.Diff([]string{"evalsha", "eval"}, cnt.take()); d != "" {
		t.Errorf("first claim after a flush (-want +got):\n%s", d)
	}
	req.Key = "k2"
	if _, err := s.Claim(ctx, req); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"evalsha"}, cnt.take()); d != "" {
		t.Errorf("second claim (-want +got):\n%s", d)
	}
}

// TestServerTTL: every write sets the key's expiry to the record's ExpiresAt.
func TestServerTTL(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c)
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	key := s.Key("acct", "k")
	pexp := func() time.Time {
		t.Helper()
		ms, err := c.PExpireTime(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return time.UnixMilli(ms.Milliseconds())
	}
	req := idempotency.ClaimRequest{Scope: "acct", Key: "k", Token: "t", Now: now, Lease: time.Minute, Retention: time.Hour}
	if _, err := s.Claim(ctx, req); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    func() error
		want time.Time
	}{
		{"claim", func() error { return nil }, now.Add(time.Hour)},
		{"heartbeat within retention", func() error { return s.Heartbeat(ctx, "acct", "k", "t", now, 10*time.Minute) }, now.Add(time.Hour)},
		{"heartbeat past retention", func() error { return s.Heartbeat(ctx, "acct", "k", "t", now, 2*time.Hour) }, now.Add(2 * time.Hour)},
		{"complete", func() error {
			return s.Complete(ctx, "acct", "k", "t", now.Add(time.Second), idempotency.Response{Status: 200}, 24*time.Hour)
		}, now.Add(time.Second + 24*time.Hour)},
	}
	for _, tt := range tests {
		if err := tt.f(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := pexp(); !got.Equal(tt.want) {
			t.Errorf("%s: PEXPIRETIME got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	defer func() { _ = c.Close() }()
	s := redisstore.MustNew(c, redisstore.Config{})
	tests := []struct{ scope, key, want string }{
		{"acct1", "order-42", "keel:idem:{5:acct1:order-42}"},
		{"", "k", "keel:idem:{0::k}"},
		// Different (scope, key) pairs that a plain "scope:key" would merge.
		{"a:b", "c", "keel:idem:{3:a:b:c}"},
		{"a", "b:c", "keel:idem:{1:a:b:c}"},
	}
	for _, tt := range tests {
		if got := s.Key(tt.scope, tt.key); got != tt.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tt.scope, tt.key, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  redisstore.Config
		want string // substring of the error, "" for none
	}{
		{redisstore.Config{}, ""},
		{redisstore.Config{Prefix: "app:"}, ""},
		{redisstore.Config{Prefix: "app{x}:"}, "Config.Prefix"},
		{redisstore.Config{Prefix: "}"}, "Config.Prefix"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(%+v): got %v, want nil", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Validate(%+v): got %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil {
		t.Errorf("New(nil client): got nil error")
	}
}

// TestCorruptRecord: a key under the prefix that this package did not write
// is reported as ErrCorrupt, not misread.
func TestCorruptRecord(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c)
	ctx := t.Context()
	now := time.Now()
	if err := c.HSet(ctx, s.Key("a", "k"), "st", "9").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Del(context.Background(), s.Key("a", "k")) })
	if _, err := s.Get(ctx, "a", "k", now); !errors.Is(err, redisstore.ErrCorrupt) {
		t.Errorf("Get of a foreign hash: got %v, want ErrCorrupt", err)
	}
	if err := c.Set(ctx, s.Key("a", "s"), "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Claim(ctx, idempotency.ClaimRequest{Scope: "a", Key: "s", Token: "t", Now: now, Lease: time.Second})
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("Claim of a string key: got %v, want a WRONGTYPE error", err)
	}
}

// TestClaimRepeatedToken: a claim repeated with the token that already owns
// the record (a client library re-sending it after a lost reply) is won
// again and changes nothing; another token is still refused.
func TestClaimRepeatedToken(t *testing.T) {
	s := newStore(t, newClient(t))
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	req := idempotency.ClaimRequest{Scope: "a", Key: "k", Token: "t1", Now: now, Lease: time.Minute, Retention: time.Hour}
	if res, err := s.Claim(ctx, req); err != nil || !res.Claimed {
		t.Fatalf("first Claim: %+v, %v", res, err)
	}
	again := req
	again.Now = now.Add(time.Second)
	if res, err := s.Claim(ctx, again); err != nil || !res.Claimed || res.TookOver {
		t.Errorf("Claim repeated with the owner's token: got %+v, %v; want Claimed, not TookOver", res, err)
	}
	rec, err := s.Get(ctx, "a", "k", again.Now)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Claims != 1 || !rec.LeaseExpires.Equal(now.Add(time.Minute)) {
		t.Errorf("after a repeated claim: got Claims=%d LeaseExpires=%v, want 1 and %v (unchanged)", rec.Claims, rec.LeaseExpires, now.Add(time.Minute))
	}
	other := again
	other.Token = "t2"
	if res, err := s.Claim(ctx, other); err != nil || res.Claimed {
		t.Errorf("Claim with another token: got %+v, %v; want refused", res, err)
	}
}
