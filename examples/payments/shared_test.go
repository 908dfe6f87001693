package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/keelhq/keel/examples/payments/ledger"
)

// TestSharedLedger runs two replicas on one ledger file, as the demo does:
// with -apply-once a charge retried on the other replica is answered with
// the first application instead of being applied again, and the same key
// with another body is refused; without it, the retry is a second charge.
func TestSharedLedger(t *testing.T) {
	for _, once := range []bool{true, false} {
		dir := t.TempDir()
		path := filepath.Join(dir, "shared.db")
		flags := []string{"-work", "1ms", "-no-idempotency", "-ledger", path}
		if once {
			flags = append(flags, "-apply-once")
		}
		a := start(t, filepath.Join(dir, "a"), flags...)
		b := start(t, filepath.Join(dir, "b"), flags...)
		first, err := a.charge("shared-1", body1234)
		if err != nil || first.Status != http.StatusCreated {
			t.Fatalf("apply-once=%v: first charge: %v %d %s", once, err, first.Status, first.Body)
		}
		retry, err := b.charge("shared-1", body1234)
		if err != nil || retry.Status != http.StatusCreated {
			t.Fatalf("apply-once=%v: retry on the other replica: %v %d %s", once, err, retry.Status, retry.Body)
		}
		c1, c2 := decodeCharge(t, first), decodeCharge(t, retry)
		if once && (c1 != c2 || retry.Header.Get("Idempotent-Replayed") != "true") {
			t.Errorf("apply-once: the retry got %+v (replayed %q), want the first charge %+v replayed", c2, retry.Header.Get("Idempotent-Replayed"), c1)
		}
		if !once && c1.ID == c2.ID {
			t.Errorf("without -apply-once: the retry got the first charge's id %s, want a second charge", c1.ID)
		}
		if once {
			other, err := b.charge("shared-1", `{"amount":9999,"currency":"EUR","customer":"c1"}`)
			if err != nil || other.Status != http.StatusUnprocessableEntity {
				t.Errorf("apply-once: same key, other body: %v %d, want 422", err, other.Status)
			}
		}
		// Both replicas read the same ledger.
		entries := ledgerOf(t, a)
		wantEntries := 1
		if !once {
			wantEntries = 2
		}
		if len(entries) != wantEntries || len(ledgerOf(t, b)) != wantEntries {
			t.Errorf("apply-once=%v: the shared ledger has %d entries (through a) and %d (through b), want %d", once, len(entries), len(ledgerOf(t, b)), wantEntries)
		}
		if r := ledger.Audit(entries, []string{"shared-1"}); (len(r.Duplicates) == 0) != once || len(r.Lost) != 0 {
			t.Errorf("apply-once=%v: audit %d duplicates, %d lost", once, len(r.Duplicates), len(r.Lost))
		}
	}
}
