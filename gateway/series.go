package gateway

import (
	"math"
	"sync"
	"time"

	"github.com/keelhq/keel/keelhttp"
)

// Point is what the gateway served in one second, for the dashboard and
// the admin API's /series.
type Point struct {
	Time      time.Time `json:"time"`      // start of the second
	Requests  int64     `json:"requests"`  // requests that ended in this second
	Errors    int64     `json:"errors"`    // of which the client got a 5xx
	Stale     int64     `json:"stale"`     // served from the stale-if-error cache (flag SC)
	Fallbacks int64     `json:"fallbacks"` // served by a route's fallback (flags FB, FO)
	Rejected  int64     `json:"rejected"`  // refused by the gateway's own policies (flags UO, RL, UH)
	P50       float64   `json:"p50_ms"`    // latency percentiles, in milliseconds
	P95       float64   `json:"p95_ms"`
	P99       float64   `json:"p99_ms"`
}

// Latency histogram: bucket i holds latencies in [base·g^(i-1), base·g^i),
// g = 2^(1/4), from 50µs to about 2 minutes; the percentile is the bucket's
// geometric middle, within 9% of the true value.
const (
	histBuckets = 88
	histBase    = 50 * time.Microsecond
	histGrowth  = 1.189207115002721 // 2^(1/4)
)

// second is the aggregate of one second.
type second struct {
	unix                                         int64
	requests, errors, stale, fallbacks, rejected int64
	hist                                         [histBuckets]int32
}

// series keeps the last size seconds of requests in a ring.
type series struct {
	mu   sync.Mutex
	ring []second
}

func newSeries(size int) *series { return &series{ring: make([]second, size)} }

// record counts a finished request.
func (s *series) record(now time.Time, info keelhttp.RequestInfo) {
	unix := now.Unix()
	b := histBucket(info.Duration)
	s.mu.Lock()
	sec := &s.ring[s.slot(unix)]
	if sec.unix != unix {
		*sec = second{unix: unix}
	}
	sec.requests++
	if info.Status >= 500 {
		sec.errors++
	}
	switch info.Flag {
	case keelhttp.FlagStale:
		sec.stale++
	case keelhttp.FlagFallback, keelhttp.FlagFeatureOff:
		sec.fallbacks++
	case keelhttp.FlagOverflow, keelhttp.FlagRateLimited, keelhttp.FlagNoHealthyUpstream:
		sec.rejected++
	}
	sec.hist[b]++
	s.mu.Unlock()
}

// slot is the ring index of a Unix second (never negative, also before 1970).
func (s *series) slot(unix int64) int {
	n := int64(len(s.ring))
	return int((unix%n + n) % n)
}

func histBucket(d time.Duration) int {
	if d < histBase {
		return 0
	}
	b := 1 + int(math.Log(float64(d)/float64(histBase))/math.Log(histGrowth))
	return min(b, histBuckets-1)
}

// bucketValue is the representative latency of bucket b, in milliseconds.
func bucketValue(b int) float64 {
	lo := float64(histBase) * math.Pow(histGrowth, float64(b-1))
	if b == 0 {
		lo = float64(histBase) / histGrowth
	}
	return lo * math.Sqrt(histGrowth) / float64(time.Millisecond)
}

// points returns one Point per second from since up to the second before
// now (which is still filling), oldest first; seconds without requests are
// included with zeros.
func (s *series) points(since, now time.Time) []Point {
	end := now.Unix() // exclusive
	start := max(since.Unix(), end-int64(len(s.ring))+1)
	if start >= end {
		return nil
	}
	out := make([]Point, 0, end-start)
	s.mu.Lock()
	defer s.mu.Unlock()
	for u := start; u < end; u++ {
		p := Point{Time: time.Unix(u, 0).UTC()}
		sec := &s.ring[s.slot(u)]
		if sec.unix == u {
			p.Requests, p.Errors, p.Stale, p.Fallbacks, p.Rejected = sec.requests, sec.errors, sec.stale, sec.fallbacks, sec.rejected
			p.P50, p.P95, p.P99 = quantile(&sec.hist, sec.requests, 0.50), quantile(&sec.hist, sec.requests, 0.95), quantile(&sec.hist, sec.requests, 0.99)
		}
		out = append(out, p)
	}
	return out
}

func quantile(h *[histBuckets]int32, n int64, q float64) float64 {
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	var seen int64
	for b, c := range h {
		seen += int64(c)
		if seen >= rank {
			return math.Round(bucketValue(b)*1000) / 1000
		}
	}
	return bucketValue(histBuckets - 1)
}
