package breaker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGroupGetSameBreaker(t *testing.T) {
	g := MustNewGroup(GroupConfig{Breaker: Config{Name: "up"}})
	a, b := g.Get("a"), g.Get("b")
	if a == b || g.Get("a") != a {
		t.Fatal("Get must return one breaker per key")
	}
	if a.Name() != "up/a" || b.Name() != "up/b" {
		t.Errorf("names got %q %q, want up/a up/b", a.Name(), b.Name())
	}
	g2 := MustNewGroup(GroupConfig{})
	if got := g2.Get("h1").Name(); got != "h1" {
		t.Errorf("name without Config.Name got %q, want h1", got)
	}
	if got := testing.AllocsPerRun(100, func() { g.Get("a") }); got != 0 {
		t.Errorf("Get of an existing key allocs got %v, want 0", got)
	}
	if !g.Delete("a") || g.Delete("a") || g.Len() != 1 {
		t.Errorf("Delete: got len %d, want 1", g.Len())
	}
}

// evictions records OnEvict calls.
type evictions struct {
	mu   sync.Mutex
	keys []string
}

func (e *evictions) add(key string, _ *Breaker) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys = append(e.keys, key)
}

func TestGroupEvictsLeastRecentlyUsedClosed(t *testing.T) {
	ev := &evictions{}
	g := MustNewGroup(GroupConfig{Breaker: Config{MinimumCalls: 1}, MaxKeys: 3, OnEvict: ev.add})
	g.Get("a")
	trip(t, g.Get("b"), time.Now()) // b is open
	g.Get("c")
	g.Get("a") // a is now more recently used than c
	g.Get("d") // must evict c: b is older but open
	g.Get("e") // must evict a: b is still open
	want := []string{"c", "a"}
	if diff := cmp.Diff(want, ev.keys); diff != "" {
		t.Errorf("evicted (-want +got):\n%s", diff)
	}
	if got := g.Get("b").State(); got != Open {
		t.Errorf("the open breaker survived? state got %v, want open", got)
	}

	// When every breaker is open, the least recently used goes, and OnEvict
	// reports it.
	ev2 := &evictions{}
	g2 := MustNewGroup(GroupConfig{Breaker: Config{MinimumCalls: 1}, MaxKeys: 2, OnEvict: ev2.add})
	trip(t, g2.Get("x"), time.Now())
	trip(t, g2.Get("y"), time.Now())
	g2.Get("x")
	g2.Get("z")
	if diff := cmp.Diff([]string{"y"}, ev2.keys); diff != "" {
		t.Errorf("all open: evicted (-want +got):\n%s", diff)
	}
	if g2.Len() != 2 {
		t.Errorf("len got %d, want 2", g2.Len())
	}
}

func TestGroupBoundUnderConcurrentGet(t *testing.T) {
	const maxKeys = 16
	var (
		mu      sync.Mutex
		evicted = map[string]int{}
	)
	g := MustNewGroup(GroupConfig{
		Breaker: Config{MinimumCalls: 1, OpenJitter: 0.1, Rand: rand.New(rand.NewPCG(3, 4))},
		MaxKeys: maxKeys,
		OnEvict: func(key string, _ *Breaker) {
			mu.Lock()
			evicted[key]++
			mu.Unlock()
		},
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 3000 {
				key := fmt.Sprint("host-", r.IntN(64))
				b := g.Get(key)
				if r.IntN(10) == 0 {
					p, err := b.Allow()
					if err == nil {
						p.Done(F) // trips it: MinimumCalls is 1
					}
				}
				if n := g.Len(); n > maxKeys {
					t.Errorf("len got %d, want ≤ %d", n, maxKeys)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := g.Len(); n != maxKeys {
		t.Errorf("final len got %d, want %d", n, maxKeys)
	}
	// The LRU list and the map hold the same keys.
	g.mu.Lock()
	var listed []string
	for e := g.head.next; e != &g.head; e = e.next {
		listed = append(listed, e.key)
	}
	mapped := make([]string, 0, len(g.keys))
	for k := range g.keys {
		mapped = append(mapped, k)
	}
	g.mu.Unlock()
	slices.Sort(listed)
	slices.Sort(mapped)
	if diff := cmp.Diff(mapped, listed); diff != "" {
		t.Errorf("LRU list and map disagree (-map +list):\n%s", diff)
	}
}

func TestGroupValidate(t *testing.T) {
	if _, err := NewGroup(GroupConfig{MaxKeys: -1}); err == nil || err.Error() != "breaker: GroupConfig.MaxKeys -1 is negative" {
		t.Errorf("MaxKeys -1: got %v", err)
	}
	if _, err := NewGroup(GroupConfig{Breaker: Config{OpenJitter: -1}}); err == nil {
		t.Error("invalid Breaker config: got nil error")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNewGroup with an invalid config did not panic")
		}
	}()
	MustNewGroup(GroupConfig{MaxKeys: -1})
}
