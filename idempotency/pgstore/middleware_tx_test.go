package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/pgstore"
)

// ordersHandler inserts an order and completes the idempotency record in one
// transaction, through idempotency.ClaimFromContext. While fail is set, the
// transaction rolls back after both writes and the handler answers 503.
type ordersHandler struct {
	pool  *pgxpool.Pool
	store *pgstore.Store
	table string
	fail  atomic.Bool
	runs  atomic.Int32
}

func (h *ordersHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.runs.Add(1)
	ctx := r.Context()
	claim, ok := idempotency.ClaimFromContext(ctx)
	if !ok {
		http.Error(w, "no claim", http.StatusInternalServerError)
		return
	}
	err := h.orderInTx(ctx, w, claim, n)
	if err == nil {
		claim.MarkCompleted()
		return
	}
	if rerr := claim.ResetResponse(); rerr != nil {
		panic(rerr)
	}
	http.Error(w, "order not placed; retry", http.StatusServiceUnavailable)
}

var errInjected = errors.New("injected failure after the writes")

func (h *ordersHandler) orderInTx(ctx context.Context, w http.ResponseWriter, claim idempotency.Claim, run int32) (err error) {
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var id int
	if err := tx.QueryRow(ctx, "INSERT INTO "+h.table+" (idem_key) VALUES ($1) RETURNING id", claim.Key()).Scan(&id); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", fmt.Sprintf("/orders/%d", id))
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, "{\"id\":%d,\"run\":%d,\"note\":\"caf\u00e9 \\u0000\"}\n", id, run)
	resp, err := claim.Response()
	if err != nil {
		return err
	}
	err = h.store.WithTx(tx).Complete(ctx, claim.Scope(), claim.Key(), claim.Token(), time.Now(), resp, claim.Retention())
	if err != nil {
		return err
	}
	if h.fail.Load() {
		return errInjected
	}
	return tx.Commit(ctx)
}

// TestMiddlewareCompletesInTx: a handler writes a business row and completes
// the record in one transaction; when that transaction rolls back, neither
// exists, and the middleware handles the handler's error response as its
// preset says; replays afterwards are byte-exact.
func TestMiddlewareCompletesInTx(t *testing.T) {
	pool := newPool(t, nil)
	for _, tc := range []struct {
		persistence idempotency.Persistence
		// After a rolled-back first attempt: whether the 503 was stored (and
		// is replayed), else the record was released and a retry runs.
		failureStored bool
	}{
		{idempotency.SafeDefault, false},
		{idempotency.StripeV1, true},
	} {
		t.Run(tc.persistence.String(), func(t *testing.T) {
			ctx := t.Context()
			store := newStore(t, pool)
			table := fmt.Sprintf("keeltest_orders_%d", time.Now().UnixNano())
			if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (id serial PRIMARY KEY, idem_key text NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE "+table) })
			app := &ordersHandler{pool: pool, store: store, table: table}
			h := idempotency.MustNew(idempotency.Config{
				Observer: keel.ObserverFunc(func(_ context.Context, e keel.Event) {
					if e.Kind == keel.EventLeaseLost || e.Kind == keel.EventFailure {
						t.Errorf("event %v: %v", e.Kind, e.Err)
					}
				}),
				Store:         store,
				Unscoped:      true,
				Persistence:   tc.persistence,
				ReplayHeaders: []string{"Content-Type", "Location"},
			}).Wrap(app)
			send := func(key string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"item":"book"}`))
				r.Header.Set("Idempotency-Key", key)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			rows := func(key string) int {
				var n int
				if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE idem_key = $1", key).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			record := func(key string) string {
				rec, err := store.Get(ctx, "", key, time.Now())
				switch {
				case errors.Is(err, idempotency.ErrNotFound):
					return "none"
				case err != nil:
					t.Fatal(err)
				}
				return fmt.Sprintf("%v %d", rec.Status, rec.Response.Status)
			}

			// Committed: the order and the completed record, together.
			first := send("ok-1")
			if first.Code != http.StatusCreated || rows("ok-1") != 1 || record("ok-1") != "completed 201" {
				t.Fatalf("committed: got %d, %d rows, record %q; want 201, 1 row, completed 201 (body %q)",
					first.Code, rows("ok-1"), record("ok-1"), first.Body)
			}
			if got := first.Header().Get("Idempotency-Retention"); got == "" {
				t.Error("committed: no Idempotency-Retention header: the middleware does not count the record as stored")
			}
			replay := send("ok-1")
			checkReplay(t, first, replay)
			if got := app.runs.Load(); got != 1 || rows("ok-1") != 1 {
				t.Errorf("after the replay: %d runs, %d rows; want 1 and 1", got, rows("ok-1"))
			}

			// Rolled back: neither the order nor a record of the 201.
			app.fail.Store(true)
			failed := send("fail-1")
			if failed.Code != http.StatusServiceUnavailable || rows("fail-1") != 0 {
				t.Fatalf("rolled back: got %d with %d rows, want 503 and none (body %q)", failed.Code, rows("fail-1"), failed.Body)
			}
			wantRecord := "none"
			if tc.failureStored {
				wantRecord = "completed 503"
			}
			if got := record("fail-1"); got != wantRecord {
				t.Errorf("record after the rollback: got %q, want %q", got, wantRecord)
			}

			app.fail.Store(false)
			runs := app.runs.Load()
			retry := send("fail-1")
			if tc.failureStored {
				checkReplay(t, failed, retry)
				if app.runs.Load() != runs || rows("fail-1") != 0 {
					t.Errorf("retry of a stored failure ran the handler or wrote a row")
				}
				return
			}
			if retry.Code != http.StatusCreated || rows("fail-1") != 1 || record("fail-1") != "completed 201" {
				t.Fatalf("retry after release: got %d, %d rows, record %q; want 201, 1 row, completed 201",
					retry.Code, rows("fail-1"), record("fail-1"))
			}
			checkReplay(t, retry, send("fail-1"))
		})
	}
}

// checkReplay compares a replay with the original response byte for byte
// (the replayed headers and the body).
func checkReplay(t *testing.T, orig, replay *httptest.ResponseRecorder) {
	t.Helper()
	if replay.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: no Idempotent-Replayed header (status %d, body %q)", replay.Code, replay.Body)
	}
	type resp struct {
		Status      int
		ContentType string
		Location    string
		Body        string
	}
	pick := func(w *httptest.ResponseRecorder) resp {
		b, _ := io.ReadAll(w.Result().Body)
		return resp{w.Code, w.Header().Get("Content-Type"), w.Header().Get("Location"), string(b)}
	}
	if diff := cmp.Diff(pick(orig), pick(replay)); diff != "" {
		t.Errorf("replay differs from the original (-orig +replay):\n%s", diff)
	}
}
