package hedge

import (
	"math"
	"slices"
	"sync"
	"time"
)

// window keeps the latencies of the last len(ring) successful calls, both in
// arrival order (to know which to drop) and sorted (to read a percentile in
// constant time). Adding a sample is O(len) with no allocation.
type window struct {
	mu     sync.Mutex
	ring   []time.Duration // arrival order; ring[next] is the oldest once full
	next   int
	n      int
	sorted []time.Duration // the n samples, ascending
}

func newWindow(size int) *window {
	return &window{ring: make([]time.Duration, size), sorted: make([]time.Duration, 0, size)}
}

// add records d, evicting the oldest sample when the window is full.
func (w *window) add(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == len(w.ring) {
		old := w.ring[w.next]
		i, _ := slices.BinarySearch(w.sorted, old)
		w.sorted = slices.Delete(w.sorted, i, i+1)
	} else {
		w.n++
	}
	w.ring[w.next] = d
	w.next = (w.next + 1) % len(w.ring)
	i, _ := slices.BinarySearch(w.sorted, d)
	w.sorted = slices.Insert(w.sorted, i, d)
}

// percentile returns the nearest-rank q-quantile (0 < q ≤ 1) of the samples
// and how many there are; it returns 0, 0 for an empty window.
func (w *window) percentile(q float64) (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return 0, 0
	}
	i := int(math.Ceil(q*float64(w.n))) - 1
	i = max(0, min(i, w.n-1))
	return w.sorted[i], w.n
}
