package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/keelhq/keel/shed"
)

// criticalityHeader carries a request's class to the server.
const criticalityHeader = "Keel-Criticality"

// classes in report order, with the share of requests tagged with each.
var classes = [...]struct {
	c      shed.Criticality
	header string
	share  float64
}{
	{shed.Critical, "critical", 0.2},
	{shed.Default, "default", 0.5},
	{shed.Sheddable, "sheddable", 0.3},
}

// sample is the fate of one request.
type sample struct {
	class    int // index into classes
	ok       bool
	measured bool // scheduled after the warm-up
	latency  time.Duration
}

// openLoop sends requests to url at rate per second, evenly spaced, for
// warmup+phase, each with its own goroutine and a timeout. Requests start on
// schedule whatever happened to earlier ones. It returns when every request
// has ended. Classes are drawn from a generator seeded with seed.
func openLoop(ctx context.Context, client *http.Client, url string, rate float64, warmup, phase, timeout time.Duration, seed uint64) []sample {
	interval := time.Duration(float64(time.Second) / rate)
	n := int((warmup + phase) / interval)
	rnd := rand.New(rand.NewPCG(seed, seed))
	out := make([]sample, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 && !sleep(ctx, d) {
			break
		}
		out[i].class = pick(rnd.Float64())
		out[i].measured = at.Sub(start) >= warmup
		wg.Go(func() {
			out[i].ok, out[i].latency = call(ctx, client, url, classes[out[i].class].header, at, timeout)
		})
	}
	wg.Wait()
	return out
}

// pick maps a uniform number in [0, 1) to a class index.
func pick(u float64) int {
	for i, c := range classes {
		if u < c.share {
			return i
		}
		u -= c.share
	}
	return len(classes) - 1
}

// call sends one GET and reports whether it got a 200 within timeout, and its
// latency counted from the scheduled start at.
func call(ctx context.Context, client *http.Client, url, class string, at time.Time, timeout time.Duration) (bool, time.Duration) {
	ctx, cancel := context.WithDeadline(ctx, at.Add(timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, 0
	}
	if class != "" {
		req.Header.Set(criticalityHeader, class)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, time.Since(at)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK, time.Since(at)
}

// newClient returns a client with room for every request of a phase on its own
// connection. Close its idle connections when done.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        8192,
		MaxIdleConnsPerHost: 8192,
		IdleConnTimeout:     10 * time.Second,
	}}
}
