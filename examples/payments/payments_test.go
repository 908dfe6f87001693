package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/examples/internal/proctest"
	"github.com/keelhq/keel/examples/payments/ledger"
	"github.com/keelhq/keel/examples/payments/service"
)

const body1234 = `{"amount":1234,"currency":"EUR","customer":"c1"}`

func decodeCharge(t *testing.T, r proctest.Response) service.Charge {
	t.Helper()
	var c service.Charge
	if err := json.Unmarshal([]byte(r.Body), &c); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return c
}

// ledgerOf reads GET /ledger.
func ledgerOf(t *testing.T, p *proc) []ledger.Entry {
	t.Helper()
	r := p.Must(http.MethodGet, "/ledger", nil, "")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("GET /ledger: %d %q, want 200 application/x-ndjson", r.Status, r.Header.Get("Content-Type"))
	}
	var out []ledger.Entry
	dec := json.NewDecoder(strings.NewReader(r.Body))
	for dec.More() {
		var e ledger.Entry
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("GET /ledger line: %v", err)
		}
		out = append(out, e)
	}
	return out
}

func TestChargeAppliedOnceAndReplayed(t *testing.T) {
	p := start(t, t.TempDir(), "-work", "5ms")

	first, err := p.charge("key-1", body1234)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != http.StatusCreated {
		t.Fatalf("first POST: got %d %s, want 201", first.Status, first.Body)
	}
	c := decodeCharge(t, first)
	want := service.Charge{ID: c.ID, Status: "succeeded", Replica: "payments-test", Amount: 1234, Currency: "EUR", Customer: "c1", Created: c.Created}
	if diff := cmp.Diff(want, c); diff != "" || !strings.HasPrefix(c.ID, "ch_") {
		t.Errorf("first POST body (-want +got):\n%s\nid %q", diff, c.ID)
	}
	if got := first.Header.Get("Location"); got != "/charges/"+c.ID {
		t.Errorf("Location = %q, want /charges/%s", got, c.ID)
	}

	again, err := p.charge(`"key-1"`, body1234) // the quoted form is the same key
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != http.StatusCreated || again.Body != first.Body || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: got %d replayed=%q %s; want 201 replayed=true and the first body %s",
			again.Status, again.Header.Get("Idempotent-Replayed"), again.Body, first.Body)
	}

	reused, err := p.charge("key-1", `{"amount":9999,"currency":"EUR","customer":"c1"}`)
	if err != nil {
		t.Fatal(err)
	}
	if reused.Status != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body: got %d, want 422", reused.Status)
	}

	got := p.Must(http.MethodGet, "/charges/"+c.ID, nil, "")
	if got.Status != http.StatusOK || got.Body != first.Body {
		t.Errorf("GET /charges/%s: got %d %s, want 200 %s", c.ID, got.Status, got.Body, first.Body)
	}
	if r := p.Must(http.MethodGet, "/charges/ch_0000000000000000", nil, ""); r.Status != http.StatusNotFound {
		t.Errorf("GET of an unknown charge: got %d, want 404", r.Status)
	}

	entries := ledgerOf(t, p)
	if len(entries) != 1 {
		t.Fatalf("ledger has %d entries, want 1: %+v", len(entries), entries)
	}
	e := entries[0]
	wantEntry := ledger.Entry{Key: "key-1", ID: c.ID, Amount: 1234, Currency: "EUR", Customer: "c1", Replica: "payments-test", Time: c.Created, Seq: 1}
	if diff := cmp.Diff(wantEntry, e); diff != "" {
		t.Errorf("ledger entry (-want +got):\n%s", diff)
	}
	if r := p.Must(http.MethodGet, "/healthz", nil, ""); r.Status != http.StatusOK || r.Body != "ok\n" {
		t.Errorf("GET /healthz: got %d %q, want 200 \"ok\\n\"", r.Status, r.Body)
	}
}

func TestChargeRejected(t *testing.T) {
	p := start(t, t.TempDir(), "-work", "0")
	for _, tc := range []struct {
		name string
		key  string
		body string
		want int
	}{
		{"no key", "", body1234, http.StatusBadRequest},
		{"malformed key", "a b", body1234, http.StatusBadRequest},
		{"not JSON", "k-json", `amount=1`, http.StatusBadRequest},
		{"unknown field", "k-field", `{"amount":1,"currency":"EUR","customer":"c","tip":2}`, http.StatusBadRequest},
		{"trailing data", "k-trail", body1234 + `{}`, http.StatusBadRequest},
		{"zero amount", "k-zero", `{"amount":0,"currency":"EUR","customer":"c1"}`, http.StatusUnprocessableEntity},
		{"huge amount", "k-huge", `{"amount":100000000001,"currency":"EUR","customer":"c1"}`, http.StatusUnprocessableEntity},
		{"lower-case currency", "k-cur", `{"amount":1,"currency":"eur","customer":"c1"}`, http.StatusUnprocessableEntity},
		{"no customer", "k-cust", `{"amount":1,"currency":"EUR"}`, http.StatusUnprocessableEntity},
	} {
		h := map[string]string{}
		if tc.key != "" {
			h["Idempotency-Key"] = tc.key
		}
		r := p.Must(http.MethodPost, "/charges", h, tc.body)
		if r.Status != tc.want || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: got %d %q %s, want %d problem+json", tc.name, r.Status, r.Header.Get("Content-Type"), r.Body, tc.want)
		}
	}
	if entries := ledgerOf(t, p); len(entries) != 0 {
		t.Errorf("rejected requests left %d ledger entries: %+v", len(entries), entries)
	}
}

// TestConcurrentSameKey sends one key from many clients at once while other
// keys are charged too: the key is applied once and every client gets the
// same charge.
func TestConcurrentSameKey(t *testing.T) {
	p := start(t, t.TempDir(), "-work", "50ms")
	const clients, others = 16, 8
	var wg sync.WaitGroup
	same := make([]proctest.Response, clients)
	errs := make([]error, clients+others)
	for i := range clients {
		wg.Go(func() { same[i], errs[i] = p.charge("shared-key", body1234) })
	}
	for i := range others {
		wg.Go(func() {
			var r proctest.Response
			r, errs[clients+i] = p.charge(fmt.Sprintf("other-%d", i), body1234)
			if errs[clients+i] == nil && r.Status != http.StatusCreated {
				errs[clients+i] = fmt.Errorf("other-%d: status %d %s", i, r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	replayed := 0
	for i, r := range same {
		if r.Status != http.StatusCreated || r.Body != same[0].Body {
			t.Errorf("client %d: got %d %s, want 201 with the body of client 0 %s", i, r.Status, r.Body, same[0].Body)
		}
		if r.Header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if replayed != clients-1 {
		t.Errorf("%d of %d responses were replays, want %d", replayed, clients, clients-1)
	}
	r := ledger.Audit(ledgerOf(t, p), nil)
	if !r.OK() || r.Keys != 1+others || r.Entries != 1+others {
		t.Errorf("ledger: %d entries, %d keys, duplicates %+v; want %d entries, one per key", r.Entries, r.Keys, r.Duplicates, 1+others)
	}
}

// TestKillAfterAck kills the process with SIGKILL right after it answered
// 201: the charge is in the ledger file, and after a restart on the same
// directory the key replays the same response and is not applied again.
func TestKillAfterAck(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "-work", "1ms")
	var bodies []string
	for i := range 5 {
		r, err := p.charge(fmt.Sprintf("kill-%d", i), body1234)
		if err != nil || r.Status != http.StatusCreated {
			t.Fatalf("charge %d: %v %d %s", i, err, r.Status, r.Body)
		}
		bodies = append(bodies, r.Body)
	}
	p.Kill()

	entries, err := ledger.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	if diff := cmp.Diff([]string{"kill-0", "kill-1", "kill-2", "kill-3", "kill-4"}, keys); diff != "" {
		t.Errorf("ledger keys after SIGKILL (-want +got):\n%s", diff)
	}

	p2 := start(t, dir, "-work", "1ms")
	for i, want := range bodies {
		r, err := p2.charge(fmt.Sprintf("kill-%d", i), body1234)
		if err != nil || r.Status != http.StatusCreated || r.Body != want || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry of kill-%d after restart: %v %d replayed=%q %s; want the replay of %s",
				i, err, r.Status, r.Header.Get("Idempotent-Replayed"), r.Body, want)
		}
	}
	if n := len(ledgerOf(t, p2)); n != 5 {
		t.Errorf("after restart and retries the ledger has %d entries, want 5", n)
	}
}

// TestKillUnderLoad kills the process with SIGKILL while clients charge
// concurrently: every acknowledged key is in the ledger, none twice, and
// after a restart every acknowledged key replays its response. It logs how
// many charges were applied but never acknowledged: each is one a retry on
// another replica would apply a second time.
func TestKillUnderLoad(t *testing.T) {
	t.Run("idempotency", func(t *testing.T) { testKillUnderLoad(t) })
	t.Run("no-idempotency", func(t *testing.T) { testKillUnderLoad(t, "-no-idempotency") })
}

func testKillUnderLoad(t *testing.T, flags ...string) {
	dir := t.TempDir()
	p := start(t, dir, append([]string{"-work", "10ms"}, flags...)...)
	const workers = 6
	var (
		mu     sync.Mutex
		acked  = map[string]string{}
		failed int
		wg     sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < 500; i++ { // bounded; SIGKILL ends it far sooner
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("load-%d-%d", w, i)
				r, err := p.charge(key, body1234)
				mu.Lock()
				switch {
				case err != nil:
					failed++
				case r.Status == http.StatusCreated:
					acked[key] = r.Body
				default:
					t.Errorf("%s: status %d %s", key, r.Status, r.Body)
				}
				mu.Unlock()
				if err != nil {
					return // the process is gone
				}
			}
		})
	}
	// Kill once some charges were acknowledged (bounded: 5s at most).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 30 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no charge was acknowledged before the kill")
	}

	entries, err := ledger.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	r := ledger.Audit(entries, keys)
	if !r.OK() {
		t.Errorf("after SIGKILL: lost %v, duplicates %+v", r.Lost, r.Duplicates)
	}
	t.Logf("acknowledged %d, applied %d (%d never acknowledged), %d requests cut off", len(acked), r.Keys, r.Unacknowledged, failed)

	if len(flags) > 0 {
		return // without the replica's idempotency there is nothing to replay
	}
	p2 := start(t, dir, "-work", "1ms")
	for k, want := range acked {
		got, err := p2.charge(k, body1234)
		if err != nil || got.Body != want || got.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry of acknowledged %s after restart: %v %d %s; want the replay of %s", k, err, got.Status, got.Body, want)
		}
	}
}

// TestDrain sends SIGTERM while a charge is in flight: /healthz turns 503
// during the drain delay, the charge completes, and the process exits 0.
func TestDrain(t *testing.T) {
	p := start(t, t.TempDir(), "-work", "400ms", "-drain-delay", "1s")
	type result struct {
		r   proctest.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := p.charge("drain-1", body1234)
		done <- result{r, err}
	}()
	time.Sleep(100 * time.Millisecond) // let the charge start; the drain delay covers a late one
	p.Signal(syscall.SIGTERM)
	// The drain delay is 1s: /healthz must turn 503 within it.
	if health := p.Poll("/healthz", http.StatusServiceUnavailable, 900*time.Millisecond); health != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz after SIGTERM: got %d, want 503", health)
	}
	res := <-done
	if res.err != nil || res.r.Status != http.StatusCreated {
		t.Errorf("charge in flight at SIGTERM: %v %d %s, want 201", res.err, res.r.Status, res.r.Body)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	entries, err := ledger.ReadDir(p.dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("ledger after drain: %+v, %v; want one entry", entries, err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{}, // no -data
		{"-data", t.TempDir(), "-work", "-1s"},
	} {
		out, err := command.Output(t, args...)
		if err == nil || !strings.Contains(out, "payments:") {
			t.Errorf("payments %v: %v, output %q; want exit status 1 and a message", args, err, out)
		}
	}
}

// TestDeadlineNotApplied sends a charge whose deadline (Keel-Deadline-Ms, as
// the gateway sends it) ends during the processing time: it is answered 504
// and not applied, and the key is released, so a retry applies it once.
func TestDeadlineNotApplied(t *testing.T) {
	p := start(t, t.TempDir(), "-work", "200ms")
	h := map[string]string{"Idempotency-Key": "late-1", "Keel-Deadline-Ms": "30"}
	if r := p.Must(http.MethodPost, "/charges", h, body1234); r.Status != http.StatusGatewayTimeout {
		t.Errorf("charge past its deadline: got %d %s, want 504", r.Status, r.Body)
	}
	if entries := ledgerOf(t, p); len(entries) != 0 {
		t.Fatalf("a charge answered 504 was applied: %+v", entries)
	}
	r, err := p.charge("late-1", body1234)
	if err != nil || r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("retry without a deadline: %v %d replayed=%q, want a fresh 201", err, r.Status, r.Header.Get("Idempotent-Replayed"))
	}
	if entries := ledgerOf(t, p); len(entries) != 1 {
		t.Errorf("after the retry the ledger has %d entries, want 1", len(entries))
	}
}

// TestNoIdempotency runs a replica with -no-idempotency: a key is still
// required, but a retry applies the charge again, and the ledger shows it.
func TestNoIdempotency(t *testing.T) {
	p := start(t, t.TempDir(), "-work", "1ms", "-no-idempotency")
	if r := p.Must(http.MethodPost, "/charges", nil, body1234); r.Status != http.StatusBadRequest {
		t.Errorf("no key: got %d, want 400", r.Status)
	}
	for range 2 {
		if r, err := p.charge(`"twice"`, body1234); err != nil || r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("charge: %v %d replayed=%q, want a fresh 201", err, r.Status, r.Header.Get("Idempotent-Replayed"))
		}
	}
	entries := ledgerOf(t, p)
	r := ledger.Audit(entries, []string{"twice"})
	if len(r.Duplicates) != 1 || r.Duplicates[0].Key != "twice" || !entries[1].Repeat {
		t.Errorf("ledger %+v: want key \"twice\" applied twice, the second marked Repeat", entries)
	}
}
