package idempotencytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keelhq/keel/idempotency"
)

// Timeline constants of the suite. Leases are short and retention long, as in
// production; every offset is a whole number of milliseconds.
const (
	lease     = 10 * time.Second
	retention = time.Hour
	ms        = time.Millisecond
)

// runID makes keys, scopes and tokens unique to one process and run, so
// stores may share a server between subtests and runs.
var (
	runID   = fmt.Sprintf("%x", time.Now().UnixNano())
	counter atomic.Uint64
)

// suite is the state of one subtest.
type suite struct {
	t     *testing.T
	s     idempotency.Store
	ctx   context.Context
	t0    time.Time
	scope string
}

func newSuite(t *testing.T, newStore func(t *testing.T) idempotency.Store) *suite {
	t.Helper()
	s := newStore(t)
	if s == nil {
		t.Fatal("newStore returned nil")
	}
	return &suite{
		t:     t,
		s:     s,
		ctx:   t.Context(),
		t0:    time.Now().Truncate(ms),
		scope: unique("scope"),
	}
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, runID, counter.Add(1))
}

// at returns the suite's start time plus d.
func (s *suite) at(d time.Duration) time.Time { return s.t0.Add(d) }

// fp returns a fingerprint distinct for every n.
func fp(n int) idempotency.Fingerprint {
	return sha256.Sum256([]byte(strconv.Itoa(n)))
}

func (s *suite) req(key, token string, f idempotency.Fingerprint, now time.Time) idempotency.ClaimRequest {
	return idempotency.ClaimRequest{
		Scope: s.scope, Key: key, Fingerprint: f, Token: token,
		Now: now, Lease: lease, Retention: retention,
	}
}

// claim claims key and fails the test unless the claim is won (without a
// takeover).
func (s *suite) claim(key, token string, f idempotency.Fingerprint, now time.Time) {
	s.t.Helper()
	res, err := s.s.Claim(s.ctx, s.req(key, token, f, now))
	if err != nil {
		s.t.Fatalf("Claim(%q) at +%v: %v", key, now.Sub(s.t0), err)
	}
	if !res.Claimed || res.TookOver {
		s.t.Fatalf("Claim(%q) at +%v: Claimed=%v TookOver=%v, want true false", key, now.Sub(s.t0), res.Claimed, res.TookOver)
	}
}

func (s *suite) complete(key, token string, now time.Time, resp idempotency.Response, ret time.Duration) {
	s.t.Helper()
	if err := s.s.Complete(s.ctx, s.scope, key, token, now, resp, ret); err != nil {
		s.t.Fatalf("Complete(%q) at +%v: %v", key, now.Sub(s.t0), err)
	}
}

func (s *suite) get(key string, now time.Time) idempotency.Record {
	s.t.Helper()
	rec, err := s.s.Get(s.ctx, s.scope, key, now)
	if err != nil {
		s.t.Fatalf("Get(%q) at +%v: %v", key, now.Sub(s.t0), err)
	}
	return rec
}

func (s *suite) absent(key string, now time.Time) {
	s.t.Helper()
	rec, err := s.s.Get(s.ctx, s.scope, key, now)
	if !errors.Is(err, idempotency.ErrNotFound) {
		s.t.Fatalf("Get(%q) at +%v = %+v, %v; want ErrNotFound", key, now.Sub(s.t0), rec, err)
	}
}

// inProgress is the record a claim at now by the suite should produce.
func (s *suite) inProgress(key string, f idempotency.Fingerprint, created, leaseFrom time.Time, claims int, expires time.Time) idempotency.Record {
	return idempotency.Record{
		Scope: s.scope, Key: key, Fingerprint: f, Status: idempotency.StatusInProgress,
		LeaseExpires: leaseFrom.Add(lease), Claims: claims, CreatedAt: created, ExpiresAt: expires,
	}
}

// recordDiff compares records at millisecond precision. LeaseExpires of a
// completed record is not compared (it applies to in-progress records
// only); nil and empty headers and bodies are equal.
func recordDiff(want, got idempotency.Record) string {
	if want.Status == idempotency.StatusCompleted {
		want.LeaseExpires, got.LeaseExpires = time.Time{}, time.Time{}
	}
	return cmp.Diff(want, got,
		cmp.Comparer(func(a, b time.Time) bool { return a.Truncate(ms).Equal(b.Truncate(ms)) }),
		cmpopts.EquateEmpty())
}

func (s *suite) wantRecord(what string, want, got idempotency.Record) {
	s.t.Helper()
	if d := recordDiff(want, got); d != "" {
		s.t.Errorf("%s: record mismatch (-want +got):\n%s", what, d)
	}
}

func (s *suite) wantLeaseLost(what string, err error) {
	s.t.Helper()
	if !errors.Is(err, idempotency.ErrLeaseLost) {
		s.t.Errorf("%s: got error %v, want ErrLeaseLost", what, err)
	}
}

func okResponse() idempotency.Response {
	return idempotency.Response{
		Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/orders/1"}},
		Body:   []byte(`{"id":1}`),
	}
}

// Run runs the store conformance suite. newStore is called once per subtest
// and returns the store to test; it cleans up after itself with t.Cleanup.
// See the package documentation for the timing assumptions.
func Run(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		f    func(s *suite)
	}{
		{"ClaimAbsent", testClaimAbsent},
		{"ClaimExistingUnchanged", testClaimExisting},
		{"ClaimRace", testClaimRace},
		{"TakeoverRace", testTakeoverRace},
		{"LeaseExpiryTakeover", testTakeover},
		{"FencingAfterTakeover", testFencing},
		{"FencingAfterComplete", testFencingAfterComplete},
		{"WrongToken", testWrongToken},
		{"HeartbeatExtendsLease", testHeartbeat},
		{"ReplayFidelity", testReplayFidelity},
		{"CompleteRestartsRetention", testCompleteRetention},
		{"ExpiredIsAbsentAndClaimable", testExpired},
		{"Reap", testReap},
		{"ScopesIsolated", testScopes},
		{"ReleaseFreesKey", testRelease},
		{"ContextCanceled", testContextCanceled},
		{"UnknownKey", testUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(newSuite(t, newStore)) })
	}
}

func testClaimAbsent(s *suite) {
	k := unique("key")
	res, err := s.s.Claim(s.ctx, s.req(k, unique("tok"), fp(1), s.at(0)))
	if err != nil {
		s.t.Fatalf("Claim: %v", err)
	}
	if !res.Claimed || res.TookOver {
		s.t.Fatalf("Claim on an absent key: Claimed=%v TookOver=%v, want true false", res.Claimed, res.TookOver)
	}
	s.wantRecord("Get after the claim", s.inProgress(k, fp(1), s.at(0), s.at(0), 1, s.at(retention)), s.get(k, s.at(ms)))
}

func testClaimExisting(s *suite) {
	k := unique("key")
	s.claim(k, unique("tok"), fp(1), s.at(0))
	want := s.inProgress(k, fp(1), s.at(0), s.at(0), 1, s.at(retention))
	for _, f := range []idempotency.Fingerprint{fp(1), fp(2)} {
		res, err := s.s.Claim(s.ctx, s.req(k, unique("tok"), f, s.at(lease/2)))
		if err != nil {
			s.t.Fatalf("second Claim: %v", err)
		}
		if res.Claimed || res.TookOver {
			s.t.Errorf("second Claim within the lease: Claimed=%v TookOver=%v, want false false", res.Claimed, res.TookOver)
		}
		s.wantRecord(fmt.Sprintf("record returned by a second in-progress claim with fingerprint %x…", f[:2]), want, res.Record)
	}
	s.wantRecord("Get after refused claims", want, s.get(k, s.at(lease/2)))

	// A completed record comes back whole, response included, in the claim.
	k2 := unique("key")
	tok := unique("tok")
	s.claim(k2, tok, fp(3), s.at(0))
	s.complete(k2, tok, s.at(ms), okResponse(), retention)
	resp := okResponse()
	wantDone := idempotency.Record{
		Scope: s.scope, Key: k2, Fingerprint: fp(3), Status: idempotency.StatusCompleted, Claims: 1,
		Response: &resp, CreatedAt: s.at(0), CompletedAt: s.at(ms), ExpiresAt: s.at(ms + retention),
	}
	for _, f := range []idempotency.Fingerprint{fp(3), fp(4)} {
		// Well past the lease: a completed record is never taken over.
		res, err := s.s.Claim(s.ctx, s.req(k2, unique("tok"), f, s.at(2*lease)))
		if err != nil {
			s.t.Fatalf("Claim of a completed record: %v", err)
		}
		if res.Claimed || res.TookOver {
			s.t.Errorf("Claim of a completed record: Claimed=%v TookOver=%v, want false false", res.Claimed, res.TookOver)
		}
		s.wantRecord("record returned by a claim of a completed record", wantDone, res.Record)
	}
}

// race runs n claims of key at now concurrently and returns their results.
func (s *suite) race(n int, key string, now time.Time) []idempotency.ClaimResult {
	s.t.Helper()
	results := make([]idempotency.ClaimResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.s.Claim(s.ctx, s.req(key, unique("tok"), fp(i), now))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			s.t.Fatalf("concurrent Claim %d: %v", i, err)
		}
	}
	return results
}

func testClaimRace(s *suite) {
	const n = 50
	k := unique("key")
	won, tookOver := 0, 0
	for _, r := range s.race(n, k, s.at(0)) {
		if r.Claimed {
			won++
		}
		if r.TookOver {
			tookOver++
		}
		if !r.Claimed && r.Record.Status != idempotency.StatusInProgress {
			s.t.Errorf("a losing claim returned a record with status %v, want in_progress", r.Record.Status)
		}
	}
	if won != 1 || tookOver != 0 {
		s.t.Errorf("%d concurrent claims of one key: got %d winners and %d takeovers, want 1 and 0", n, won, tookOver)
	}
}

func testTakeoverRace(s *suite) {
	const n = 50
	k := unique("key")
	s.claim(k, unique("tok"), fp(1), s.at(0))
	won, tookOver := 0, 0
	for _, r := range s.race(n, k, s.at(lease+ms)) {
		if r.Claimed {
			won++
		}
		if r.TookOver {
			tookOver++
		}
	}
	if won != 1 || tookOver != 1 {
		s.t.Errorf("%d concurrent claims of an expired lease: got %d winners and %d takeovers, want 1 and 1", n, won, tookOver)
	}
	if got := s.get(k, s.at(lease+2*ms)).Claims; got != 2 {
		s.t.Errorf("Claims after one takeover: got %d, want 2", got)
	}
}

func testTakeover(s *suite) {
	k := unique("key")
	s.claim(k, unique("tok"), fp(1), s.at(0))
	prev := s.inProgress(k, fp(1), s.at(0), s.at(0), 1, s.at(retention))

	// Just before the lease ends: no takeover.
	res, err := s.s.Claim(s.ctx, s.req(k, unique("tok"), fp(1), s.at(lease-ms)))
	if err != nil {
		s.t.Fatalf("Claim: %v", err)
	}
	if res.Claimed || res.TookOver {
		s.t.Errorf("Claim 1ms before the lease ends: Claimed=%v TookOver=%v, want false false", res.Claimed, res.TookOver)
	}

	// Just after: taken over, the previous record returned.
	now := s.at(lease + ms)
	res, err = s.s.Claim(s.ctx, s.req(k, unique("tok"), fp(1), now))
	if err != nil {
		s.t.Fatalf("Claim: %v", err)
	}
	if !res.Claimed || !res.TookOver {
		s.t.Fatalf("Claim 1ms after the lease ended: Claimed=%v TookOver=%v, want true true", res.Claimed, res.TookOver)
	}
	s.wantRecord("previous record returned by the takeover", prev, res.Record)
	rec := s.get(k, now.Add(ms))
	if rec.Claims != 2 || rec.Status != idempotency.StatusInProgress {
		s.t.Errorf("after a takeover: got Claims=%d Status=%v, want 2 in_progress", rec.Claims, rec.Status)
	}
	if !rec.LeaseExpires.Truncate(ms).Equal(now.Add(lease)) {
		s.t.Errorf("lease after a takeover at +%v: got %v, want +%v", now.Sub(s.t0), rec.LeaseExpires.Sub(s.t0), now.Add(lease).Sub(s.t0))
	}
	if !rec.CreatedAt.Truncate(ms).Equal(s.t0) {
		s.t.Errorf("CreatedAt after a takeover: got +%v, want +0s (when first claimed)", rec.CreatedAt.Sub(s.t0))
	}
}

func testFencing(s *suite) {
	k := unique("key")
	stale, owner := unique("tok"), unique("tok")
	s.claim(k, stale, fp(1), s.at(0))
	res, err := s.s.Claim(s.ctx, s.req(k, owner, fp(1), s.at(lease+ms)))
	if err != nil || !res.TookOver {
		s.t.Fatalf("takeover: got %+v, %v; want TookOver", res, err)
	}
	now := s.at(lease + 2*ms)
	s.wantLeaseLost("stale owner's Heartbeat", s.s.Heartbeat(s.ctx, s.scope, k, stale, now, lease))
	s.wantLeaseLost("stale owner's Complete", s.s.Complete(s.ctx, s.scope, k, stale, now, okResponse(), retention))
	s.wantLeaseLost("stale owner's Release", s.s.Release(s.ctx, s.scope, k, stale))
	rec := s.get(k, now)
	if rec.Status != idempotency.StatusInProgress || rec.Claims != 2 || rec.Response != nil {
		s.t.Errorf("after the stale owner's calls: got Status=%v Claims=%d Response=%v, want in_progress 2 nil", rec.Status, rec.Claims, rec.Response)
	}
	// The stale owner's heartbeat must not have moved the new owner's lease.
	if !rec.LeaseExpires.Truncate(ms).Equal(s.at(2*lease + ms)) {
		s.t.Errorf("lease after the stale heartbeat: got +%v, want +%v", rec.LeaseExpires.Sub(s.t0), 2*lease+ms)
	}
	// The new owner still owns it.
	if err := s.s.Heartbeat(s.ctx, s.scope, k, owner, now, lease); err != nil {
		s.t.Errorf("new owner's Heartbeat: %v", err)
	}
	s.complete(k, owner, now, okResponse(), retention)
}

func testFencingAfterComplete(s *suite) {
	k := unique("key")
	tok := unique("tok")
	s.claim(k, tok, fp(1), s.at(0))
	s.complete(k, tok, s.at(ms), okResponse(), retention)
	other := idempotency.Response{Status: 500, Body: []byte("second")}
	s.wantLeaseLost("second Complete by the owner", s.s.Complete(s.ctx, s.scope, k, tok, s.at(2*ms), other, retention))
	s.wantLeaseLost("Release of a completed record", s.s.Release(s.ctx, s.scope, k, tok))
	s.wantLeaseLost("Heartbeat of a completed record", s.s.Heartbeat(s.ctx, s.scope, k, tok, s.at(2*ms), lease))
	rec := s.get(k, s.at(3*ms))
	if rec.Status != idempotency.StatusCompleted || rec.Response == nil || rec.Response.Status != http.StatusCreated {
		s.t.Errorf("after calls on a completed record: got %+v, want the first completion (201)", rec)
	}
}

func testWrongToken(s *suite) {
	k := unique("key")
	s.claim(k, unique("tok"), fp(1), s.at(0))
	bad := unique("tok")
	s.wantLeaseLost("Heartbeat with another token", s.s.Heartbeat(s.ctx, s.scope, k, bad, s.at(ms), lease))
	s.wantLeaseLost("Complete with another token", s.s.Complete(s.ctx, s.scope, k, bad, s.at(ms), okResponse(), retention))
	s.wantLeaseLost("Release with another token", s.s.Release(s.ctx, s.scope, k, bad))
	s.wantRecord("record after calls with another token", s.inProgress(k, fp(1), s.at(0), s.at(0), 1, s.at(retention)), s.get(k, s.at(2*ms)))
}

func testHeartbeat(s *suite) {
	k := unique("key")
	tok := unique("tok")
	s.claim(k, tok, fp(1), s.at(0))
	if err := s.s.Heartbeat(s.ctx, s.scope, k, tok, s.at(lease/2), lease); err != nil {
		s.t.Fatalf("Heartbeat: %v", err)
	}
	// Between the old expiry (+lease) and the new one (+1.5 lease).
	res, err := s.s.Claim(s.ctx, s.req(k, unique("tok"), fp(1), s.at(lease+lease/4)))
	if err != nil {
		s.t.Fatalf("Claim: %v", err)
	}
	if res.Claimed || res.TookOver {
		s.t.Errorf("Claim after the old lease but before the extended one: Claimed=%v TookOver=%v, want false false", res.Claimed, res.TookOver)
	}
	if got, want := res.Record.LeaseExpires.Truncate(ms), s.at(lease/2+lease); !got.Equal(want) {
		s.t.Errorf("extended lease: got +%v, want +%v", got.Sub(s.t0), want.Sub(s.t0))
	}
	// After the extended lease: taken over.
	res, err = s.s.Claim(s.ctx, s.req(k, unique("tok"), fp(1), s.at(lease/2+lease+ms)))
	if err != nil || !res.TookOver {
		s.t.Errorf("Claim after the extended lease: got Claimed=%v TookOver=%v err=%v, want a takeover", res.Claimed, res.TookOver, err)
	}
}

func testReplayFidelity(s *suite) {
	large := make([]byte, 1<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(large) // seeded: the same bytes every run
	tests := []struct {
		name string
		resp idempotency.Response
	}{
		{"json", okResponse()},
		{"multi-value headers", idempotency.Response{
			Status: http.StatusAccepted,
			Header: http.Header{"Link": {"</a>; rel=a", "</b>; rel=b"}, "X-Trace": {"1", "2", "3"}, "Content-Type": {"text/plain; charset=utf-8"}},
			Body:   []byte("accepted\n"),
		}},
		{"binary with zero bytes", idempotency.Response{
			Status: http.StatusOK,
			Header: http.Header{"Content-Type": {"application/octet-stream"}},
			Body:   []byte{0, 1, 0, 0xff, 0xfe, '\r', '\n', 0, '"', '\\', 0x80},
		}},
		{"empty body", idempotency.Response{Status: http.StatusNoContent, Header: http.Header{}, Body: nil}},
		{"error status", idempotency.Response{Status: http.StatusUnprocessableEntity, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: []byte(`{"status":422}`)}},
		{"1 MiB random body", idempotency.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: large}},
	}
	for _, tt := range tests {
		s.t.Run(tt.name, func(t *testing.T) {
			k := unique("key")
			tok := unique("tok")
			s.claim(k, tok, fp(9), s.at(0))
			sent := idempotency.Response{Status: tt.resp.Status, Header: tt.resp.Header.Clone(), Body: bytes.Clone(tt.resp.Body)}
			s.complete(k, tok, s.at(ms), sent, retention)
			// The store must have copied what it keeps: scribble on the
			// caller's buffers.
			for i := range sent.Body {
				sent.Body[i] = 'x'
			}
			for h := range sent.Header {
				sent.Header[h] = []string{"changed"}
			}
			for _, via := range []string{"Get", "Claim"} {
				var rec idempotency.Record
				if via == "Get" {
					rec = s.get(k, s.at(2*ms))
				} else {
					res, err := s.s.Claim(s.ctx, s.req(k, unique("tok"), fp(9), s.at(2*ms)))
					if err != nil {
						t.Fatalf("Claim: %v", err)
					}
					rec = res.Record
				}
				if rec.Response == nil {
					t.Fatalf("%s: completed record has no response", via)
				}
				got := rec.Response
				if got.Status != tt.resp.Status {
					t.Errorf("%s: status: got %d, want %d", via, got.Status, tt.resp.Status)
				}
				if d := cmp.Diff(tt.resp.Header, got.Header, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("%s: header mismatch (-want +got):\n%s", via, d)
				}
				if !bytes.Equal(got.Body, tt.resp.Body) {
					t.Errorf("%s: body: got %d bytes %.32q…, want %d bytes %.32q…", via, len(got.Body), got.Body, len(tt.resp.Body), tt.resp.Body)
				}
			}
		})
	}
}

func testCompleteRetention(s *suite) {
	k := unique("key")
	tok := unique("tok")
	s.claim(k, tok, fp(1), s.at(0))
	done := s.at(30 * time.Minute)
	s.complete(k, tok, done, okResponse(), retention)
	rec := s.get(k, done.Add(retention-ms))
	if !rec.CompletedAt.Truncate(ms).Equal(done) || !rec.ExpiresAt.Truncate(ms).Equal(done.Add(retention)) {
		s.t.Errorf("completed at +30m with retention 1h: got CompletedAt=+%v ExpiresAt=+%v, want +30m0s +1h30m0s",
			rec.CompletedAt.Sub(s.t0), rec.ExpiresAt.Sub(s.t0))
	}
	s.absent(k, done.Add(retention+ms))
}

func testExpired(s *suite) {
	// A completed record past its retention.
	k := unique("key")
	tok := unique("tok")
	s.claim(k, tok, fp(1), s.at(0))
	s.complete(k, tok, s.at(ms), okResponse(), time.Minute)
	s.get(k, s.at(time.Minute))
	after := s.at(time.Minute + 2*ms)
	s.absent(k, after)
	res, err := s.s.Claim(s.ctx, s.req(k, unique("tok"), fp(2), after))
	if err != nil {
		s.t.Fatalf("Claim of an expired record: %v", err)
	}
	if !res.Claimed || res.TookOver {
		s.t.Errorf("Claim of an expired record: Claimed=%v TookOver=%v, want true false (a fresh claim)", res.Claimed, res.TookOver)
	}
	s.wantRecord("record claimed afresh", s.inProgress(k, fp(2), after, after, 1, after.Add(retention)), s.get(k, after.Add(ms)))

	// An in-progress record past its retention.
	k2 := unique("key")
	r := s.req(k2, unique("tok"), fp(1), s.at(0))
	r.Retention = time.Minute
	if res, err := s.s.Claim(s.ctx, r); err != nil || !res.Claimed {
		s.t.Fatalf("Claim: %+v, %v", res, err)
	}
	s.absent(k2, s.at(time.Minute+ms))
	res, err = s.s.Claim(s.ctx, s.req(k2, unique("tok"), fp(1), s.at(time.Minute+ms)))
	if err != nil || !res.Claimed || res.TookOver {
		s.t.Errorf("Claim of an expired in-progress record: got Claimed=%v TookOver=%v err=%v, want true false nil", res.Claimed, res.TookOver, err)
	}
}

func testReap(s *suite) {
	const n = 5
	short := make([]string, n)
	for i := range short {
		short[i] = unique("key")
		tok := unique("tok")
		s.claim(short[i], tok, fp(1), s.at(0))
		s.complete(short[i], tok, s.at(ms), okResponse(), time.Minute)
	}
	longDone, longOpen := unique("key"), unique("key")
	tok := unique("tok")
	s.claim(longDone, tok, fp(1), s.at(0))
	s.complete(longDone, tok, s.at(ms), okResponse(), retention)
	s.claim(longOpen, unique("tok"), fp(1), s.at(0))

	now := s.at(2 * time.Minute)
	total := 0
	for range 2 * n {
		got, err := s.s.Reap(s.ctx, now, 2)
		if err != nil {
			s.t.Fatalf("Reap: %v", err)
		}
		if got < 0 || got > 2 {
			s.t.Fatalf("Reap(limit 2): got %d, want 0..2", got)
		}
		total += got
		if got == 0 {
			break
		}
	}
	for _, k := range short {
		s.absent(k, now)
	}
	// Records still live at now survive reaping, whatever it deleted.
	if rec := s.get(longDone, now); rec.Status != idempotency.StatusCompleted {
		s.t.Errorf("live completed record after Reap: status %v, want completed", rec.Status)
	}
	if rec := s.get(longOpen, now); rec.Status != idempotency.StatusInProgress {
		s.t.Errorf("live in-progress record after Reap: status %v, want in_progress", rec.Status)
	}
	s.t.Logf("Reap deleted %d records (0 is allowed for stores whose server expires keys)", total)
}

func testScopes(s *suite) {
	k := unique("key")
	other := &suite{t: s.t, s: s.s, ctx: s.ctx, t0: s.t0, scope: unique("scope")}
	tokA, tokB := unique("tok"), unique("tok")
	s.claim(k, tokA, fp(1), s.at(0))
	other.claim(k, tokB, fp(2), s.at(0))
	s.complete(k, tokA, s.at(ms), okResponse(), retention)
	s.wantLeaseLost("Complete with scope A's token in scope B", other.s.Complete(s.ctx, other.scope, k, tokA, s.at(ms), okResponse(), retention))
	other.wantRecord("record in scope B", other.inProgress(k, fp(2), s.at(0), s.at(0), 1, s.at(retention)), other.get(k, s.at(2*ms)))
	if rec := s.get(k, s.at(2*ms)); rec.Status != idempotency.StatusCompleted {
		s.t.Errorf("record in scope A: status %v, want completed", rec.Status)
	}
	if err := other.s.Release(s.ctx, other.scope, k, tokB); err != nil {
		s.t.Errorf("Release in scope B: %v", err)
	}
	s.get(k, s.at(3*ms))
}

func testRelease(s *suite) {
	k := unique("key")
	tok := unique("tok")
	s.claim(k, tok, fp(1), s.at(0))
	if err := s.s.Release(s.ctx, s.scope, k, tok); err != nil {
		s.t.Fatalf("Release: %v", err)
	}
	s.absent(k, s.at(ms))
	s.wantLeaseLost("second Release", s.s.Release(s.ctx, s.scope, k, tok))
	s.wantLeaseLost("Complete after Release", s.s.Complete(s.ctx, s.scope, k, tok, s.at(ms), okResponse(), retention))
	s.claim(k, unique("tok"), fp(2), s.at(2*ms))
	s.wantRecord("record claimed after Release", s.inProgress(k, fp(2), s.at(2*ms), s.at(2*ms), 1, s.at(2*ms+retention)), s.get(k, s.at(3*ms)))
}

func testContextCanceled(s *suite) {
	ctx, cancel := context.WithCancel(s.ctx)
	cancel()
	k := unique("key")
	if _, err := s.s.Claim(ctx, s.req(k, unique("tok"), fp(1), s.at(0))); err == nil {
		s.t.Errorf("Claim with a canceled context: got nil error")
	}
	if _, err := s.s.Get(ctx, s.scope, k, s.at(0)); err == nil || errors.Is(err, idempotency.ErrNotFound) {
		s.t.Errorf("Get with a canceled context: got %v, want a context error", err)
	}
	if _, err := s.s.Reap(ctx, s.at(0), 10); err == nil {
		s.t.Errorf("Reap with a canceled context: got nil error")
	}
	// The canceled claim took nothing: a live claim wins.
	tok := unique("tok")
	s.claim(k, tok, fp(1), s.at(ms))
	if err := s.s.Heartbeat(ctx, s.scope, k, tok, s.at(2*ms), time.Hour); err == nil {
		s.t.Errorf("Heartbeat with a canceled context: got nil error")
	}
	if err := s.s.Complete(ctx, s.scope, k, tok, s.at(2*ms), okResponse(), retention); err == nil {
		s.t.Errorf("Complete with a canceled context: got nil error")
	}
	if err := s.s.Release(ctx, s.scope, k, tok); err == nil {
		s.t.Errorf("Release with a canceled context: got nil error")
	}
	// Nothing changed, and the owner carries on.
	s.wantRecord("record after canceled calls", s.inProgress(k, fp(1), s.at(ms), s.at(ms), 1, s.at(ms+retention)), s.get(k, s.at(3*ms)))
	s.complete(k, tok, s.at(3*ms), okResponse(), retention)
}

func testUnknownKey(s *suite) {
	k := unique("key")
	tok := unique("tok")
	s.wantLeaseLost("Heartbeat of an unknown key", s.s.Heartbeat(s.ctx, s.scope, k, tok, s.at(0), lease))
	s.wantLeaseLost("Complete of an unknown key", s.s.Complete(s.ctx, s.scope, k, tok, s.at(0), okResponse(), retention))
	s.wantLeaseLost("Release of an unknown key", s.s.Release(s.ctx, s.scope, k, tok))
	s.absent(k, s.at(0))
}
