package experiment

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxResults bounds the results a load keeps; past it, no request is sent.
const maxResults = 1 << 20

// result is the outcome of one load request.
type result struct {
	sent    time.Time
	done    time.Time
	latency time.Duration
	status  int  // 0 when no response came
	ok      bool // answered 2xx or 3xx
}

// load sends open-loop traffic at a fixed rate. Start it with run; it
// returns once every request it sent has ended.
type load struct {
	cfg    Load
	client *http.Client
	keys   *rand.Rand // guarded by mu

	mu      sync.Mutex
	results []result
	dropped int // requests not sent because MaxInFlight was reached
}

func newLoad(cfg Load, client *http.Client, seed uint64) *load {
	return &load{cfg: cfg, client: client, keys: rand.New(rand.NewPCG(seed, seed^0x6c6f6164))}
}

// run sends requests until ctx ends, then waits for those in flight (each is
// bounded by the load's timeout).
func (l *load) run(ctx context.Context) {
	interval := time.Duration(float64(time.Second) / l.cfg.Rate)
	slots := make(chan struct{}, or(l.cfg.MaxInFlight, DefaultMaxInFlight))
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !l.room() {
			return
		}
		select {
		case slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				l.one()
			}()
		default:
			now := time.Now()
			l.record(result{sent: now, done: now})
			l.mu.Lock()
			l.dropped++
			l.mu.Unlock()
		}
		// The schedule is fixed: a late tick does not push the next ones.
		t.Reset(time.Until(start.Add(time.Duration(i) * interval)))
	}
}

func (l *load) room() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results) < maxResults
}

// one sends one request and records its result. It does not take the run's
// context: a request that has left runs to its answer or its timeout, so
// the last window is measured as fully as the others.
func (l *load) one() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(or(l.cfg.Timeout, DefaultLoadTimeout)))
	defer cancel()
	var body io.Reader
	if l.cfg.Body != "" {
		body = strings.NewReader(l.cfg.Body)
	}
	sent := time.Now()
	r := result{sent: sent}
	req, err := http.NewRequestWithContext(ctx, or(l.cfg.Method, http.MethodGet), l.cfg.URL, body)
	if err == nil {
		for _, k := range sortedKeys(l.cfg.Headers) {
			req.Header.Set(k, l.cfg.Headers[k])
		}
		if l.cfg.IdempotencyKeys {
			req.Header.Set("Idempotency-Key", l.key())
		}
		var resp *http.Response
		if resp, err = l.client.Do(req); err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			r.status = resp.StatusCode
			r.ok = err == nil && resp.StatusCode >= 200 && resp.StatusCode < 400
		}
	}
	r.done = time.Now()
	r.latency = r.done.Sub(sent)
	l.record(r)
}

// key returns a fresh idempotency key from the seeded generator.
func (l *load) key() string {
	var b [16]byte
	l.mu.Lock()
	binary.LittleEndian.PutUint64(b[:8], l.keys.Uint64())
	binary.LittleEndian.PutUint64(b[8:], l.keys.Uint64())
	l.mu.Unlock()
	return hex.EncodeToString(b[:])
}

func (l *load) record(r result) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

// snapshot returns a copy of the results so far.
func (l *load) snapshot() []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]result(nil), l.results...)
}
