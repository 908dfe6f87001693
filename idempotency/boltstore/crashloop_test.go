package boltstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/boltstore"
	"github.com/keelhq/keel/internal/crashtest"
)

// TestCrashLoop SIGKILLs the server at seeded random moments while many
// keyed requests run (so kills land inside group commits), several times
// over, retrying unfinished keys in each new process. After every kill: each
// acknowledged key is completed in the file, and a key completed at one kill
// is never applied again. At the end every key completes, and every
// acknowledged charge is in the ledger.
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	const (
		cycles       = 5
		keysPerCycle = 40
	)
	dir := t.TempDir()
	c := &crashRig{
		t: t, db: filepath.Join(dir, "idem.db"), ledger: filepath.Join(dir, "ledger"),
		client: &http.Client{Timeout: 20 * time.Second},
	}
	defer c.client.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(7, 7))

	var keys []string           // every key sent so far
	acked := map[string]reply{} // first 2xx per key
	frozen := map[string]int{}  // ledger count of keys completed at some kill
	var mu sync.Mutex
	for cycle := range cycles + 1 {
		last := cycle == cycles
		for i := range keysPerCycle {
			if !last {
				keys = append(keys, fmt.Sprintf("c%d-%02d", cycle, i))
			}
		}
		var todo []string
		for _, k := range keys {
			if _, ok := acked[k]; !ok {
				todo = append(todo, k)
			}
		}
		delays := make([]time.Duration, len(todo))
		for i := range delays {
			delays[i] = time.Duration(rng.IntN(80)) * time.Millisecond
		}
		killAfter := time.Duration(30+rng.IntN(150)) * time.Millisecond

		p := c.start(fmt.Sprintf("g%d", cycle))
		var wg sync.WaitGroup
		for i, k := range todo {
			wg.Go(func() {
				// The last process is never killed: retry until done.
				for attempt := 0; attempt < 200; attempt++ {
					r := c.post(p.Addr, k, len(k), delays[i])
					if r.ok() {
						mu.Lock()
						if _, ok := acked[k]; !ok {
							acked[k] = r
						}
						mu.Unlock()
						return
					}
					if r.err != nil || !last {
						return // killed, or retried by the next process
					}
					if r.status != http.StatusConflict {
						t.Errorf("key %s: status %d %q", k, r.status, r.body)
						return
					}
					time.Sleep(25 * time.Millisecond)
				}
				t.Errorf("key %s: not done after 200 attempts", k)
			})
		}
		if last {
			wg.Wait()
			c.kill(p)
			break
		}
		time.Sleep(killAfter)
		c.kill(p)
		wg.Wait()

		// The file and ledger as this kill left them.
		ledger, _, err := crashtest.ReadLedger(c.ledger)
		if err != nil {
			t.Fatal(err)
		}
		count := crashtest.Count(ledger)
		s, err := boltstore.Open(c.db)
		if err != nil {
			t.Fatal(err)
		}
		completed := 0
		for _, k := range keys {
			rec, err := s.Get(context.Background(), crashScope, k, time.Now())
			done := err == nil && rec.Status == idempotency.StatusCompleted
			if _, ok := acked[k]; ok && !done {
				t.Errorf("kill %d: acknowledged key %s is not completed in the file (%v, %v)", cycle, k, rec.Status, err)
			}
			if n, ok := frozen[k]; ok && count[k] != n {
				t.Errorf("kill %d: key %s, completed before, applied again: %d ledger lines, was %d", cycle, k, count[k], n)
			}
			if done {
				completed++
				frozen[k] = count[k]
				if count[k] == 0 {
					t.Errorf("kill %d: key %s completed but never applied", cycle, k)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d after %v: %d keys, %d acknowledged, %d completed, %d ledger lines",
			cycle, killAfter, len(keys), len(acked), completed, len(ledger))
	}

	ledger, _, err := crashtest.ReadLedger(c.ledger)
	if err != nil {
		t.Fatal(err)
	}
	count := crashtest.Count(ledger)
	execs := map[string]bool{}
	for _, e := range ledger {
		execs[e.Key+" "+e.Exec] = true
	}
	twice := 0
	for _, k := range keys {
		r, ok := acked[k]
		switch {
		case !ok:
			t.Errorf("key %s never completed", k)
		case !execs[k+" "+r.exec()]:
			t.Errorf("key %s: acknowledged charge %s is not in the ledger", k, r.exec())
		}
		if n, ok := frozen[k]; ok && count[k] != n {
			t.Errorf("key %s, completed at a kill, applied again after it: %d lines, was %d", k, count[k], n)
		}
		if count[k] > 1 {
			twice++
		}
	}
	t.Logf("%d keys over %d kills: %d ledger lines; %d keys applied more than once, each inside the kill window",
		len(keys), cycles, len(ledger), twice)
	if len(acked) != len(keys) {
		t.Errorf("acknowledged %d of %d keys", len(acked), len(keys))
	}
}
