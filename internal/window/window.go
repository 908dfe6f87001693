package window

// Counts are the totals over a window.
type Counts struct {
	Calls    int // calls recorded
	Failures int // calls recorded as failed
	Slow     int // calls recorded as slow, failed or not
}

// Outcome bits stored per call in a count window.
const (
	bitCall    uint8 = 1 << iota // the slot holds a call
	bitFailure                   // the call failed
	bitSlow                      // the call was slow
)

// Count is a window over the last Size calls: a ring of outcomes plus running
// totals. The zero Count has size 0 and records nothing; use [NewCount].
type Count struct {
	ring   []uint8
	next   int
	counts Counts
}

// NewCount returns an empty window over the last size calls. size must be
// positive.
func NewCount(size int) *Count {
	if size <= 0 {
		panic("window: count window size must be positive")
	}
	return &Count{ring: make([]uint8, size)}
}

// Size returns the number of calls the window holds when full.
func (w *Count) Size() int { return len(w.ring) }

// Record adds one call, evicting the oldest when the window is full, and
// returns the totals over the window.
func (w *Count) Record(failed, slow bool) Counts {
	if len(w.ring) == 0 {
		return Counts{}
	}
	v := bitCall
	if failed {
		v |= bitFailure
	}
	if slow {
		v |= bitSlow
	}
	old := w.ring[w.next]
	w.ring[w.next] = v
	if w.next++; w.next == len(w.ring) {
		w.next = 0
	}
	w.counts.Calls += int(v&bitCall) - int(old&bitCall)
	w.counts.Failures += int(v&bitFailure>>1) - int(old&bitFailure>>1)
	w.counts.Slow += int(v&bitSlow>>2) - int(old&bitSlow>>2)
	return w.counts
}

// Counts returns the totals over the calls in the window.
func (w *Count) Counts() Counts { return w.counts }

// Reset empties the window.
func (w *Count) Reset() {
	clear(w.ring)
	w.next = 0
	w.counts = Counts{}
}

// bucket holds the totals of one time slice.
type bucket struct {
	calls, failures, slow uint32
}

// Time is a window over the last Size buckets of Width nanoseconds each,
// aligned to multiples of Width since the epoch of the times passed in. A call
// recorded at time t lands in bucket t/Width; the window at time now covers
// buckets now/Width-Size+1 through now/Width. The zero Time records nothing;
// use [NewTime].
//
// Times are int64 nanoseconds on any clock, as long as the caller uses one
// clock consistently. A time earlier than the newest bucket seen is counted in
// the newest bucket: the window never moves backwards. Recording within the
// newest bucket costs one comparison; no division is done until time moves to
// a later bucket.
type Time struct {
	buckets []bucket
	width   int64
	head    int64 // number (t/width) of the newest bucket; valid when started
	headIdx int   // index of the newest bucket in buckets
	headEnd int64 // first time after the newest bucket
	started bool
	counts  Counts
}

// NewTime returns an empty window of size buckets, each width nanoseconds
// long. Both must be positive.
func NewTime(size int, width int64) *Time {
	if size <= 0 || width <= 0 {
		panic("window: time window size and width must be positive")
	}
	return &Time{buckets: make([]bucket, size), width: width}
}

// Size returns the number of buckets.
func (w *Time) Size() int { return len(w.buckets) }

// floorDiv divides rounding towards negative infinity, so that bucket
// boundaries stay aligned for times before the epoch.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// advance moves the window so that its newest bucket contains now, dropping
// the buckets that fall out.
func (w *Time) advance(now int64) {
	if w.started && now < w.headEnd {
		return
	}
	cur := floorDiv(now, w.width)
	n := int64(len(w.buckets))
	switch {
	case !w.started:
		w.started = true
		w.headIdx = int(mod(cur, n))
	case cur-w.head >= n:
		clear(w.buckets)
		w.counts = Counts{}
		w.headIdx = int(mod(cur, n))
	default:
		for i := w.head + 1; i <= cur; i++ {
			if w.headIdx++; w.headIdx == len(w.buckets) {
				w.headIdx = 0
			}
			b := &w.buckets[w.headIdx]
			w.counts.Calls -= int(b.calls)
			w.counts.Failures -= int(b.failures)
			w.counts.Slow -= int(b.slow)
			*b = bucket{}
		}
	}
	w.head = cur
	w.headEnd = satAdd(cur*w.width, w.width)
}

// satAdd returns a+b for b > 0, saturating at the largest int64.
func satAdd(a, b int64) int64 {
	if s := a + b; s > a {
		return s
	}
	return 1<<63 - 1
}

func mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}

// Record adds one call at time now and returns the totals over the window.
func (w *Time) Record(now int64, failed, slow bool) Counts {
	if len(w.buckets) == 0 {
		return Counts{}
	}
	w.advance(now)
	b := &w.buckets[w.headIdx]
	b.calls++
	w.counts.Calls++
	if failed {
		b.failures++
		w.counts.Failures++
	}
	if slow {
		b.slow++
		w.counts.Slow++
	}
	return w.counts
}

// Counts returns the totals over the buckets in the window at time now,
// dropping buckets that have fallen out of it.
func (w *Time) Counts(now int64) Counts {
	if len(w.buckets) == 0 {
		return Counts{}
	}
	w.advance(now)
	return w.counts
}

// Reset empties the window.
func (w *Time) Reset() {
	clear(w.buckets)
	w.started = false
	w.head, w.headIdx, w.headEnd = 0, 0, 0
	w.counts = Counts{}
}
