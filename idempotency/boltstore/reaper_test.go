package boltstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/boltstore"
)

// TestReaper: the background reaper deletes records once they expire, in
// batches, at its interval, and stops with Close.
func TestReaper(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s, err := boltstore.Open(filepath.Join(dir, "idem.db"), boltstore.WithReaper(time.Minute, 2), boltstore.WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.Close() }() // again after the Close below: a no-op

		start := time.Now()
		for i, ret := range []time.Duration{90 * time.Second, 90 * time.Second, 90 * time.Second, 150 * time.Second, time.Hour} {
			req := idempotency.ClaimRequest{Scope: "s", Key: string(rune('a' + i)), Token: "t",
				Now: start, Lease: time.Second, Retention: ret}
			if _, err := s.Claim(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			at   time.Duration
			want int
		}{
			{time.Minute, 5},     // first tick: nothing has expired
			{2 * time.Minute, 2}, // three expired at 1m30s: deleted in batches of 2 in one tick
			{3 * time.Minute, 1}, // the 2m30s one
			{10 * time.Minute, 1},
		}
		for _, st := range steps {
			time.Sleep(time.Until(start.Add(st.at)))
			synctest.Wait()
			if n, err := s.Len(); n != st.want || err != nil {
				t.Errorf("records in the file at %v: got %d, %v; want %d", st.at, n, err, st.want)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(logs.String(), "reaped expired records"); got != 2 {
			t.Errorf("reap log records: got %d, want 2; log:\n%s", got, logs.String())
		}
	})
}
