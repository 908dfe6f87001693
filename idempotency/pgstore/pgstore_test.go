package pgstore_test

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
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/idempotencytest"
	"github.com/keelhq/keel/idempotency/pgstore"
)

// envURL names the variable that points the tests at a Postgres database;
// scripts/services.sh start prints it.
const envURL = "KEEL_POSTGRES_URL"

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(envURL) == "" && os.Getenv("CI") == "" {
		// The examples talk to a real server and cannot skip themselves.
		fmt.Fprintf(os.Stderr, "pgstore: %s is unset; skipping the examples (run scripts/services.sh start)\n", envURL)
		if err := flag.Set("test.skip", "^Example"); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}

// newPool connects to the test database, with tracer (may be nil) on every
// connection. It skips the test when KEEL_POSTGRES_URL is unset, unless CI
// is set: there a missing server fails the test.
func newPool(tb testing.TB, tracer pgx.QueryTracer) *pgxpool.Pool {
	tb.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is unset and CI is set: run scripts/services.sh start", envURL)
		}
		tb.Skipf("%s is unset: run eval \"$(scripts/services.sh start)\" to test against a real Postgres", envURL)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("%s: %v", envURL, err)
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("postgres at %s: %v", url, err)
	}
	tb.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		tb.Fatalf("postgres at %s: %v", url, err)
	}
	return pool
}

var tables atomic.Uint64

// newStore returns a store on a table of its own, dropped when tb ends.
func newStore(tb testing.TB, pool *pgxpool.Pool) *pgstore.Store {
	tb.Helper()
	s, _ := newStoreTable(tb, pool)
	return s
}

// newStoreTable is newStore that also returns the table's name.
func newStoreTable(tb testing.TB, pool *pgxpool.Pool) (*pgstore.Store, string) {
	tb.Helper()
	name := fmt.Sprintf("keeltest_%d_%d", time.Now().UnixNano(), tables.Add(1))
	s, err := pgstore.New(pool, pgstore.Config{Table: name})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			tb.Errorf("drop %s: %v", name, err)
		}
	})
	return s, name
}

func TestConformance(t *testing.T) {
	pool := newPool(t, nil)
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store { return newStore(t, pool) })
}

// TestHTTP runs the middleware-level scenarios (50 concurrent identical
// requests run the handler once, byte-exact replay, …) against Postgres.
func TestHTTP(t *testing.T) {
	pool := newPool(t, nil)
	idempotencytest.RunHTTP(t, func(t *testing.T) idempotency.Store { return newStore(t, pool) })
}

// tracer records the first word of every statement the pool runs.
type tracer struct {
	mu    sync.Mutex
	stmts []string
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	tr.mu.Lock()
	tr.stmts = append(tr.stmts, strings.Fields(d.SQL)[0])
	tr.mu.Unlock()
	return ctx
}

func (tr *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (tr *tracer) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.stmts
	tr.stmts = nil
	return out
}

// TestRoundTrips counts the statements each method runs: one each.
func TestRoundTrips(t *testing.T) {
	var tr tracer
	pool := newPool(t, &tr)
	s := newStore(t, pool)
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	req := idempotency.ClaimRequest{Scope: "acct", Key: "k1", Token: "t1", Now: now, Lease: time.Minute, Retention: time.Hour}
	other := req
	other.Token = "t2"
	resp := idempotency.Response{Status: 201, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("done")}
	tr.take()

	steps := []struct {
		name string
		f    func() error
		want []string
	}{
		{"claim (new)", func() error { _, err := s.Claim(ctx, req); return err }, []string{"WITH"}},
		{"claim (in progress)", func() error {
			res, err := s.Claim(ctx, other)
			if err == nil && (res.Claimed || res.Record.Status != idempotency.StatusInProgress) {
				err = fmt.Errorf("got %+v, want the in-progress record", res)
			}
			return err
		}, []string{"WITH"}},
		{"heartbeat", func() error { return s.Heartbeat(ctx, "acct", "k1", "t1", now, time.Minute) }, []string{"UPDATE"}},
		{"complete", func() error { return s.Complete(ctx, "acct", "k1", "t1", now, resp, time.Hour) }, []string{"UPDATE"}},
		{"claim (replay)", func() error {
			res, err := s.Claim(ctx, other)
			if err == nil && (res.Claimed || res.Record.Response == nil || string(res.Record.Response.Body) != "done") {
				err = fmt.Errorf("got %+v, want the stored response", res)
			}
			return err
		}, []string{"WITH"}},
		{"get (replay)", func() error {
			rec, err := s.Get(ctx, "acct", "k1", now)
			if err == nil && (rec.Response == nil || string(rec.Response.Body) != "done") {
				err = fmt.Errorf("got %+v, want the stored response", rec)
			}
			return err
		}, []string{"SELECT"}},
		{"release (not owner)", func() error {
			if err := s.Release(ctx, "acct", "k1", "t1"); !errors.Is(err, idempotency.ErrLeaseLost) {
				return fmt.Errorf("got %w, want ErrLeaseLost", err)
			}
			return nil
		}, []string{"DELETE"}},
		{"reap", func() error { _, err := s.Reap(ctx, now, 100); return err }, []string{"DELETE"}},
	}
	for _, st := range steps {
		if err := st.f(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if d := cmp.Diff(st.want, tr.take()); d != "" {
			t.Errorf("%s: statements run (-want +got):\n%s", st.name, d)
		}
	}
}

// TestCompleteInTx: a completion made in the caller's transaction commits
// and rolls back with the business write.
func TestCompleteInTx(t *testing.T) {
	pool := newPool(t, nil)
	s := newStore(t, pool)
	ctx := t.Context()
	charges := fmt.Sprintf("keeltest_charges_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE TABLE "+charges+" (key text PRIMARY KEY, amount int NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE "+charges) })

	now := time.Now().Truncate(time.Millisecond)
	req := idempotency.ClaimRequest{Scope: "acct", Key: "charge-1", Token: "tok", Now: now, Lease: time.Minute, Retention: time.Hour}
	if res, err := s.Claim(ctx, req); err != nil || !res.Claimed {
		t.Fatalf("Claim: %+v, %v", res, err)
	}
	resp := idempotency.Response{Status: 201, Header: http.Header{}, Body: []byte(`{"charged":100}`)}

	charged := func() bool {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+charges+" WHERE key = 'charge-1'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for _, commit := range []bool{false, true} {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+charges+" VALUES ('charge-1', 100)"); err != nil {
			t.Fatal(err)
		}
		if err := s.WithTx(tx).Complete(ctx, "acct", "charge-1", "tok", now.Add(time.Second), resp, time.Hour); err != nil {
			t.Fatalf("Complete in tx: %v", err)
		}
		// Outside the transaction, nothing is visible yet.
		if rec, err := s.Get(ctx, "acct", "charge-1", now.Add(time.Second)); err != nil || rec.Status != idempotency.StatusInProgress {
			t.Errorf("Get outside the open tx: got %v, %v; want in_progress", rec.Status, err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		rec, err := s.Get(ctx, "acct", "charge-1", now.Add(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus := idempotency.StatusInProgress
		if commit {
			wantStatus = idempotency.StatusCompleted
		}
		if rec.Status != wantStatus || charged() != commit {
			t.Errorf("after commit=%v: got record %v and charge row %v, want %v and %v", commit, rec.Status, charged(), wantStatus, commit)
		}
		if commit && (rec.Response == nil || string(rec.Response.Body) != `{"charged":100}`) {
			t.Errorf("after commit: response %+v, want the charge response", rec.Response)
		}
	}
}

// TestClaimInTx: a claim inside a transaction that rolls back leaves no
// record; concurrent claims of the same key wait for the transaction.
func TestClaimInTx(t *testing.T) {
	pool := newPool(t, nil)
	s := newStore(t, pool)
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	req := idempotency.ClaimRequest{Scope: "acct", Key: "k", Token: "a", Now: now, Lease: time.Minute, Retention: time.Hour}

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // unblocks the claimer if the test fails early
	if res, err := s.WithTx(tx).Claim(ctx, req); err != nil || !res.Claimed {
		t.Fatalf("Claim in tx: %+v, %v", res, err)
	}
	done := make(chan idempotency.ClaimResult)
	go func() {
		r := req
		r.Token = "b"
		res, err := s.Claim(ctx, r)
		if err != nil {
			t.Errorf("concurrent Claim: %v", err)
		}
		done <- res
	}()
	select {
	case res := <-done:
		t.Fatalf("concurrent Claim returned %+v before the claiming tx ended; want it to wait", res)
	case <-time.After(100 * time.Millisecond):
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if res := <-done; !res.Claimed || res.TookOver {
		t.Errorf("Claim after the claiming tx rolled back: Claimed=%v TookOver=%v, want true false", res.Claimed, res.TookOver)
	}
}

// TestReapLimit: Reap deletes only expired rows, at most limit per call, and
// all of them when limit is 0.
func TestReapLimit(t *testing.T) {
	pool := newPool(t, nil)
	s, table := newStoreTable(t, pool)
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	for i := range 7 {
		ret := time.Minute
		if i >= 5 {
			ret = time.Hour // two live records
		}
		req := idempotency.ClaimRequest{Scope: "s", Key: fmt.Sprint(i), Token: "t", Now: now, Lease: time.Second, Retention: ret}
		if _, err := s.Claim(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(2 * time.Minute)
	var got []int
	for _, limit := range []int{2, 2, 0, 0} {
		n, err := s.Reap(ctx, later, limit)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if d := cmp.Diff([]int{2, 2, 1, 0}, got); d != "" {
		t.Errorf("Reap counts with limits 2, 2, 0, 0 (-want +got):\n%s", d)
	}
	var left int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 2 {
		t.Errorf("rows left after reaping: got %d, want 2", left)
	}
}

func TestMigrateTwice(t *testing.T) {
	pool := newPool(t, nil)
	s := newStore(t, pool)
	if err := s.Migrate(t.Context()); err != nil {
		t.Errorf("second Migrate: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		table string
		want  string // substring of the error, "" for none
	}{
		{"", ""},
		{"idem", ""},
		{"billing.idem", ""},
		{"Mixed Case", ""},
		{"a.b.c", "Config.Table"},
		{".idem", "Config.Table"},
		{"idem.", "Config.Table"},
		{strings.Repeat("x", 64), "Config.Table"},
		{`bad"name`, "Config.Table"},
	}
	for _, tt := range tests {
		err := pgstore.Config{Table: tt.table}.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(Table %q): got %v, want nil", tt.table, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Validate(Table %q): got %v, want an error naming %s", tt.table, err, tt.want)
		}
	}
	if _, err := pgstore.New(nil, pgstore.Config{}); err == nil {
		t.Errorf("New(nil pool): got nil error")
	}
}

// TestRefusedClaimWritesNothing: a claim refused because the record is
// completed or leased (a replay, a 409) reads the row without locking or
// writing it, so its transaction gets no transaction id and its commit
// waits for no WAL flush. A claim that wins writes.
func TestRefusedClaimWritesNothing(t *testing.T) {
	pool := newPool(t, nil)
	s := newStore(t, pool)
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	req := idempotency.ClaimRequest{Scope: "a", Key: "k", Token: "t1", Now: now, Lease: time.Minute, Retention: time.Hour}
	if _, err := s.Claim(ctx, req); err != nil {
		t.Fatal(err)
	}
	// wrote reports whether a claim with token, in a transaction of its own
	// at now+at, assigned a transaction id.
	wrote := func(token string, at time.Duration) (idempotency.ClaimResult, bool) {
		t.Helper()
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Commit(ctx) }()
		r := req
		r.Token, r.Now = token, now.Add(at)
		res, err := s.WithTx(tx).Claim(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		var xid *string
		if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id_if_assigned()::text").Scan(&xid); err != nil {
			t.Fatal(err)
		}
		return res, xid != nil
	}
	tests := []struct {
		name        string
		prepare     func()
		token       string
		at          time.Duration
		wantClaimed bool
		wantWrote   bool
	}{
		{"in progress, lease live (409)", func() {}, "t2", time.Second, false, false},
		{"lease over (takeover)", func() {}, "t3", 2 * time.Minute, true, true},
		{"completed (replay)", func() {
			if err := s.Complete(ctx, "a", "k", "t3", now.Add(2*time.Minute), idempotency.Response{Status: 200}, time.Hour); err != nil {
				t.Fatal(err)
			}
		}, "t4", 3 * time.Minute, false, false},
		{"expired (fresh claim)", func() {}, "t5", 3 * time.Hour, true, true},
	}
	for _, tt := range tests {
		tt.prepare()
		res, w := wrote(tt.token, tt.at)
		if res.Claimed != tt.wantClaimed || w != tt.wantWrote {
			t.Errorf("%s: got Claimed=%v wrote=%v, want %v %v", tt.name, res.Claimed, w, tt.wantClaimed, tt.wantWrote)
		}
	}
}

// TestClaimRepeatedToken: a claim repeated with the token that already owns
// the record (a client library re-sending it after a lost reply) is won
// again and changes nothing; another token is still refused.
func TestClaimRepeatedToken(t *testing.T) {
	s := newStore(t, newPool(t, nil))
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

// TestMigrateConcurrent: replicas that start together may all call Migrate
// at once on a fresh database.
func TestMigrateConcurrent(t *testing.T) {
	pool := newPool(t, nil)
	name := fmt.Sprintf("keeltest_migrate_%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	s := pgstore.MustNew(pool, pgstore.Config{Table: name})
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate %d: %v", i, err)
		}
	}
}
