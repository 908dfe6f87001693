package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/memstore"
)

// gated is a handler whose n-th run (from 1) blocks until release[n] is
// closed, then answers 201 with the run number.
type gated struct {
	runs    atomic.Int32
	release map[int]chan struct{} // read-only once serving
}

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(g.runs.Add(1))
	if c := g.release[n]; c != nil {
		<-c
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte{'0' + byte(n)})
}

type result struct {
	*httptest.ResponseRecorder
	at time.Time // when the response was complete
}

// async serves r in a goroutine; the result arrives on the channel.
func async(h http.Handler, r *http.Request) <-chan result {
	c := make(chan result, 1)
	go func() {
		w := do(h, r)
		c <- result{w, time.Now()}
	}()
	return c
}

func TestInProgressConflict(t *testing.T) {
	tests := []struct {
		name       string
		lease      time.Duration
		maxWait    time.Duration
		finishAt   time.Duration // when the first request's handler returns
		wantStatus int
		wantRetry  string
		wantWait   time.Duration // measured from the duplicate's arrival
	}{
		{"no wait: 409 with the remaining lease", 30 * time.Second, 0, time.Minute, 409, "29", 0},
		{"rounded up", 10500 * time.Millisecond, 0, time.Minute, 409, "10", 0},
		{"wait ends before the outcome", 30 * time.Second, 2 * time.Second, time.Minute, 409, "27", 2 * time.Second},
		{"wait sees the outcome", 30 * time.Second, 10 * time.Second, 5 * time.Second, 201, "", 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				g := &gated{release: map[int]chan struct{}{1: release}}
				obs := &events{}
				h, _ := wrap(t, idempotency.Config{Lease: tt.lease, MaxWait: tt.maxWait, Observer: obs}, g)
				first := async(h, request("POST", "k", "x"))
				time.Sleep(time.Second)
				start := time.Now()
				second := async(h, request("POST", "k", "x"))
				time.Sleep(tt.finishAt - time.Second)
				close(release)
				w := <-second
				waited := w.at.Sub(start)
				<-first
				if w.Code != tt.wantStatus || w.Header().Get("Retry-After") != tt.wantRetry {
					t.Errorf("duplicate: status %d Retry-After %q, want %d %q", w.Code, w.Header().Get("Retry-After"), tt.wantStatus, tt.wantRetry)
				}
				// With polling the outcome is seen within one poll interval.
				if waited < tt.wantWait || waited > tt.wantWait+250*time.Millisecond {
					t.Errorf("duplicate answered after %v, want %v (+ at most one poll)", waited, tt.wantWait)
				}
				if g.runs.Load() != 1 {
					t.Errorf("handler ran %d times, want 1", g.runs.Load())
				}
				if tt.wantStatus == 409 {
					var ce *idempotency.ConflictError
					for _, e := range obs.take() {
						if e.Kind == keel.EventRejected && errors.As(e.Err, &ce) {
							break
						}
					}
					if ce == nil || !errors.Is(ce, keel.ErrRejected) || !errors.Is(ce, idempotency.ErrInProgress) {
						t.Fatalf("no rejection event carrying a *ConflictError matching ErrInProgress and keel.ErrRejected")
					}
					if d, _ := keel.RetryAfter(ce); d.String()+"" != tt.wantRetry+"s" {
						t.Errorf("ConflictError.RetryAfter() = %v, want %ss", d, tt.wantRetry)
					}
				}
			})
		})
	}
}

func TestTakeoverAfterLeaseExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		g := &gated{release: map[int]chan struct{}{1: release}}
		obs := &events{}
		const key = "secret-7f3a9c"
		h, _ := wrap(t, idempotency.Config{Lease: 10 * time.Second, HeartbeatInterval: -1, Observer: obs}, g)
		first := async(h, request("POST", key, "x"))
		time.Sleep(5 * time.Second)
		if w := do(h, request("POST", key, "x")); w.Code != 409 {
			t.Errorf("within the lease: status %d, want 409", w.Code)
		}
		time.Sleep(5*time.Second + time.Millisecond) // the lease has ended
		second := do(h, request("POST", key, "x"))
		close(release)
		stale := <-first
		if second.Code != 201 || second.Body.String() != "2" {
			t.Errorf("after the lease: %d %q, want 201 \"2\" (taken over)", second.Code, second.Body)
		}
		if stale.Code != 201 || stale.Body.String() != "1" {
			t.Errorf("stale owner's response: %d %q, want its own 201 \"1\"", stale.Code, stale.Body)
		}
		if w := do(h, request("POST", key, "x")); w.Body.String() != "2" || w.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %q replayed=%q, want the new owner's \"2\"", w.Body, w.Header().Get("Idempotent-Replayed"))
		}
		want := []string{"acquired", "rejected/in_progress", "takeover", "success", "lease_lost", "replayed"}
		got := obs.take()
		if d := cmp.Diff(want, kinds(got)); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
		for _, e := range got {
			if e.Kind == keel.EventTakeover && e.Attempt != 2 {
				t.Errorf("takeover event: Attempt %d, want 2 (the second claim)", e.Attempt)
			}
			if e.Kind == keel.EventLeaseLost && !errors.Is(e.Err, idempotency.ErrLeaseLost) {
				t.Errorf("lease_lost event: Err %v, want ErrLeaseLost", e.Err)
			}
		}
		// Keys appear in events only as a hash, the same one in every event
		// about the key, so that log lines about one key can be correlated.
		var hash string
		for _, e := range got {
			if ce, ok := errors.AsType[*idempotency.ConflictError](e.Err); ok {
				hash = ce.KeyHash
			}
		}
		if len(hash) != 16 {
			t.Fatalf("in_progress event: KeyHash %q, want 16 hex digits", hash)
		}
		for _, e := range got {
			switch {
			case e.Err == nil:
			case strings.Contains(e.Err.Error(), key):
				t.Errorf("%v event: error %q reveals the key", e.Kind, e.Err)
			case !strings.Contains(e.Err.Error(), hash):
				t.Errorf("%v event: error %q does not name the key by its hash %s", e.Kind, e.Err, hash)
			}
		}
	})
}

func TestHeartbeatKeepsLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		g := &gated{release: map[int]chan struct{}{1: release}}
		h, st := wrap(t, idempotency.Config{Lease: 10 * time.Second}, g)
		start := time.Now()
		first := async(h, request("POST", "k", "x"))
		for range 6 {
			time.Sleep(10 * time.Second)
			if w := do(h, request("POST", "k", "x")); w.Code != 409 {
				t.Fatalf("%v after the claim: status %d, want 409 (lease renewed by heartbeats)", time.Since(start), w.Code)
			}
		}
		rec, err := st.Get(t.Context(), "anonymous", "k", time.Now())
		if err != nil || rec.Claims != 1 || time.Until(rec.LeaseExpires) < 6*time.Second {
			t.Errorf("record after 60s: %+v, %v; want one claim and a lease renewed within Lease/3", rec, err)
		}
		close(release)
		if w := <-first; w.Code != 201 {
			t.Errorf("owner: status %d, want 201", w.Code)
		}
		synctest.Wait() // no heartbeat goroutine remains
	})
}

func TestMismatchWhileInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		g := &gated{release: map[int]chan struct{}{1: release}}
		h, _ := wrap(t, idempotency.Config{MaxWait: time.Minute}, g)
		first := async(h, request("POST", "k", "a"))
		synctest.Wait()
		// A different payload is refused at once, without waiting.
		if w := do(h, request("POST", "k", "b")); w.Code != 422 {
			t.Errorf("another payload while the first runs: status %d, want 422", w.Code)
		}
		close(release)
		<-first
	})
}

// flakyStore wraps a Store and fails some of its calls.
type flakyStore struct {
	idempotency.Store
	heartbeatErr error
	completeErr  error
	heartbeats   atomic.Int32
}

func (s *flakyStore) Heartbeat(ctx context.Context, scope, key, token string, now time.Time, lease time.Duration) error {
	s.heartbeats.Add(1)
	if s.heartbeatErr != nil {
		return s.heartbeatErr
	}
	return s.Store.Heartbeat(ctx, scope, key, token, now, lease)
}

func (s *flakyStore) Complete(ctx context.Context, scope, key, token string, now time.Time, resp idempotency.Response, retention time.Duration) error {
	if s.completeErr != nil {
		return s.completeErr
	}
	return s.Store.Complete(ctx, scope, key, token, now, resp, retention)
}

func TestStoreFailuresAfterTheClaim(t *testing.T) {
	tests := []struct {
		name           string
		heartbeatErr   error
		completeErr    error
		wantEvents     []string
		wantHeartbeats int32 // during 25s with a 10s lease (renewals every 3.33s)
		wantStored     bool
	}{
		{"heartbeat fails", errStore, nil, []string{"acquired", "failure", "success"}, 7, true},
		{"heartbeat finds the lease lost", idempotency.ErrLeaseLost, nil, []string{"acquired", "lease_lost", "success"}, 1, true},
		{"complete fails", nil, errStore, []string{"acquired", "failure"}, 7, false},
		{"complete finds the lease lost", nil, idempotency.ErrLeaseLost, []string{"acquired", "lease_lost"}, 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := memstore.New()
				st := &flakyStore{Store: mem, heartbeatErr: tt.heartbeatErr, completeErr: tt.completeErr}
				obs := &events{}
				release := make(chan struct{})
				g := &gated{release: map[int]chan struct{}{1: release}}
				h, _ := wrap(t, idempotency.Config{Store: st, Lease: 10 * time.Second, Observer: obs}, g)
				first := async(h, request("POST", "k", "x"))
				time.Sleep(25 * time.Second)
				close(release)
				w := <-first
				if w.Code != 201 || w.Body.String() != "1" {
					t.Errorf("the client's response: %d %q, want the handler's 201 \"1\" whatever the store did", w.Code, w.Body)
				}
				if d := cmp.Diff(tt.wantEvents, kinds(obs.take())); d != "" {
					t.Errorf("events (-want +got):\n%s", d)
				}
				if got := st.heartbeats.Load(); got != tt.wantHeartbeats {
					t.Errorf("heartbeats: got %d, want %d", got, tt.wantHeartbeats)
				}
				rec, err := mem.Get(t.Context(), "anonymous", "k", time.Now())
				if stored := err == nil && rec.Status == idempotency.StatusCompleted; stored != tt.wantStored {
					t.Errorf("record stored: got %v (%+v, %v), want %v", stored, rec, err, tt.wantStored)
				}
			})
		})
	}
}
