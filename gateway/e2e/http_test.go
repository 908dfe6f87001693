package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newClient returns a client with its own connections, closed when the
// test ends.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// result is what a client saw of one request.
type result struct {
	status int
	body   string
	header http.Header
	err    error
}

// send makes one request; a transport error is returned in result.err.
func send(ctx context.Context, c *http.Client, method, url, body string, header map[string]string) result {
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rb)
	if err != nil {
		return result{err: err}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(b), header: resp.Header, err: err}
}

// doReq makes one request and fails the test on a transport error.
func doReq(t *testing.T, c *http.Client, method, url, body string, header map[string]string) result {
	t.Helper()
	r := send(t.Context(), c, method, url, body, header)
	if r.err != nil {
		t.Fatalf("%s %s: %v", method, url, r.err)
	}
	return r
}

// getJSON GETs url and decodes its 200 JSON body into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	r := doReq(t, newClient(t), http.MethodGet, url, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.status, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, r.body)
	}
}

// backendOf is the backend name in a testbackend response body ("" when it
// is not one).
func backendOf(body string) string {
	var v struct {
		Backend string `json:"backend"`
	}
	_ = json.Unmarshal([]byte(body), &v)
	return v.Backend
}

// isRefused reports whether err is a failure to connect: the request never
// reached the server.
func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// tally counts the outcomes of a load run. It is safe for concurrent use.
type tally struct {
	mu        sync.Mutex
	total     int
	ok        int
	byBackend map[string]int
	failures  []string // the first few, for the report
	nFailed   int
}

func (l *tally) add(r result, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if r.err == nil && r.status == http.StatusOK {
		l.ok++
		if l.byBackend == nil {
			l.byBackend = map[string]int{}
		}
		l.byBackend[backendOf(r.body)]++
		return
	}
	l.nFailed++
	if len(l.failures) < 10 {
		if r.err != nil {
			l.failures = append(l.failures, fmt.Sprintf("%s: %v", what, r.err))
		} else {
			l.failures = append(l.failures, fmt.Sprintf("%s: %d %s", what, r.status, strings.TrimSpace(r.body)))
		}
	}
}

func (l *tally) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d requests, %d ok, %d failed %q, by backend %v", l.total, l.ok, l.nFailed, l.failures, l.byBackend)
}

func (l *tally) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nFailed
}

// openLoop sends GET url at rate per second until ctx ends or max
// requests were sent, each in its own goroutine (at most 64 at once), and
// waits for them all.
func openLoop(ctx context.Context, c *http.Client, url string, rate, maxRequests int, l *tally) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; i < maxRequests; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			l.add(send(rctx, c, http.MethodGet, url, "", nil), "GET "+url)
		}()
	}
}

// closedLoop runs workers that each send GET url(i) back to back until
// stop is set, ctx ends or max requests were sent in all, and waits for
// them.
func closedLoop(ctx context.Context, c *http.Client, url func(i int) string, workers, maxRequests int, stop *atomic.Bool, l *tally) {
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && (stop == nil || !stop.Load()) {
				n := sent.Add(1)
				if n > int64(maxRequests) {
					return
				}
				u := url(int(n))
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				l.add(send(rctx, c, http.MethodGet, u, "", nil), "GET "+u)
				cancel()
			}
		})
	}
	wg.Wait()
}

// waitFor polls cond every 20ms for up to d; it fails the test with the
// last explanation cond gave if cond never holds.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, d, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
