package cache_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keelhq/keel/cache"
)

var benchBody = strings.Repeat("b", 512)

func benchOrigin(status int, err error) roundTripFunc {
	return func(req *http.Request) (*http.Response, error) {
		if err != nil {
			return nil, err
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"text/plain"}},
			Body: io.NopCloser(strings.NewReader(benchBody)), ContentLength: int64(len(benchBody)), Request: req}, nil
	}
}

func roundTrip(b *testing.B, rt http.RoundTripper, req *http.Request) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

// BenchmarkFreshHit: a fresh entry answers without calling the origin.
func BenchmarkFreshHit(b *testing.B) {
	c := cache.MustNew(cache.Config{ServeFresh: true})
	rt := c.Transport(benchOrigin(200, nil))
	req, _ := http.NewRequest("GET", "http://api.test/items?b=2&a=1", nil)
	roundTrip(b, rt, req)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, rt, req)
	}
}

// BenchmarkFreshHitParallel: the same, from every P, on 64 URLs.
func BenchmarkFreshHitParallel(b *testing.B) {
	c := cache.MustNew(cache.Config{ServeFresh: true})
	rt := c.Transport(benchOrigin(200, nil))
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		reqs[i], _ = http.NewRequest("GET", "http://api.test/items/"+strings.Repeat("x", i), nil)
		roundTrip(b, rt, reqs[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			roundTrip(b, rt, reqs[i%len(reqs)])
			i++
		}
	})
}

// BenchmarkStaleServe: the origin fails and a stale entry answers.
func BenchmarkStaleServe(b *testing.B) {
	c := cache.MustNew(cache.Config{})
	req, _ := http.NewRequest("GET", "http://api.test/items?b=2&a=1", nil)
	roundTrip(b, c.Transport(benchOrigin(200, nil)), req)
	rt := c.Transport(benchOrigin(0, errRefused))
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, rt, req)
	}
}

// BenchmarkStore: every request goes to the origin and its 512-byte response
// is stored (replacing the previous one). Allocations include the fake
// origin's response.
func BenchmarkStore(b *testing.B) {
	c := cache.MustNew(cache.Config{})
	rt := c.Transport(benchOrigin(200, nil))
	req, _ := http.NewRequest("GET", "http://api.test/items?b=2&a=1", nil)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, rt, req)
	}
}

// BenchmarkPassThrough: the origin alone, for comparison with BenchmarkStore.
func BenchmarkPassThrough(b *testing.B) {
	rt := benchOrigin(200, nil)
	req, _ := http.NewRequest("GET", "http://api.test/items?b=2&a=1", nil)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, rt, req)
	}
}

// TestFreshHitAllocs guards the cost of a hit: the key, the response, its
// header (map and two value arrays) and its body reader.
func TestFreshHitAllocs(t *testing.T) {
	c := cache.MustNew(cache.Config{ServeFresh: true})
	rt := c.Transport(benchOrigin(200, nil))
	req, _ := http.NewRequest("GET", "http://api.test/items?b=2&a=1", nil)
	resp, _ := rt.RoundTrip(req)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	allocs := testing.AllocsPerRun(100, func() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	if allocs > 8 {
		t.Errorf("allocs per fresh hit = %v, want <= 8", allocs)
	}
}
