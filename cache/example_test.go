package cache_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keelhq/keel/cache"
)

// flaky is an origin that answers once and then fails.
type flaky struct{ calls int }

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls++
	if f.calls > 1 {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Request: req,
		Body: io.NopCloser(strings.NewReader(`{"price":42}`)), ContentLength: 12}, nil
}

// The cache answers with the last good response when the origin fails.
func ExampleCache_Transport() {
	c := cache.MustNew(cache.Config{MaxStale: time.Hour})
	client := &http.Client{Transport: c.Transport(&flaky{})}
	for range 2 {
		resp, err := client.Get("http://pricing.internal/items/7")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body) // read to the end: now it is stored
		resp.Body.Close()
		fmt.Printf("%d %s cache=%q warning=%q\n", resp.StatusCode, body,
			resp.Header.Get("Keel-Cache"), resp.Header.Get("Warning"))
	}
	fmt.Printf("%+v\n", c.Stats())
	// Output:
	// 200 {"price":42} cache="" warning=""
	// 200 {"price":42} cache="stale" warning="110 - \"Response is Stale\""
	// {Hits:0 StaleServes:1 Misses:2 Stores:1 Evictions:0}
}

// With ServeFresh the cache is also a normal cache: fresh entries answer
// without calling the handler.
func ExampleCache_Middleware() {
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		_, _ = fmt.Fprintf(w, "catalog v%d", calls)
	})
	c := cache.MustNew(cache.Config{ServeFresh: true, TTL: time.Minute})
	mw := c.Middleware(h)
	for range 2 {
		rec := httptest.NewRecorder()
		mw.ServeHTTP(rec, httptest.NewRequest("GET", "/catalog", nil))
		fmt.Printf("%s cache=%q age=%q\n", rec.Body, rec.Header().Get("Keel-Cache"), rec.Header().Get("Age"))
	}
	fmt.Println("handler calls:", calls, "entries:", c.Len())
	// Output:
	// catalog v1 cache="" age=""
	// catalog v1 cache="hit" age="0"
	// handler calls: 1 entries: 1
}

// New validates the Config; every zero field is a documented default.
func ExampleNew() {
	_, err := cache.New(cache.Config{StaleStatuses: []int{503, 999}})
	fmt.Println(err)
	c, err := cache.New(cache.Config{Vary: []string{"Accept-Language"}, StaleStatuses: []int{502, 503, 504, 429}})
	fmt.Println(c.Len(), err)
	// Output:
	// cache: Config.StaleStatuses[1] is 999, want 100..599
	// 0 <nil>
}
