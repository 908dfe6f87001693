package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/fallback"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/timeout"
)

func main() {
	phase := flag.Duration("phase", 1500*time.Millisecond, "length of each of the service's four phases")
	rate := flag.Int("rate", 200, "calls per second")
	seed := flag.Uint64("seed", 1, "random seed for the service's failures")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, *phase, *rate, *seed)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// service is the misbehaving dependency.
type service struct {
	start   time.Time
	phase   time.Duration
	mu      sync.Mutex
	rng     *rand.Rand
	handled atomic.Int64
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handled.Add(1)
	s.mu.Lock()
	roll := s.rng.Float64()
	s.mu.Unlock()
	switch p := int(time.Since(s.start) / s.phase); {
	case p == 1 && roll < 0.3: // flaky: 30% fail
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	case p == 1 && roll < 0.35: // and 5% hang past the client's timeout
		select {
		case <-r.Context().Done():
		case <-time.NewTimer(time.Second).C:
		}
		return
	case p == 2: // down
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "42")
}

// counter is a keel.Observer that counts events by policy and kind.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) Observe(_ context.Context, e keel.Event) {
	key := e.Policy + " " + e.Kind.String()
	if e.Kind == keel.EventStateChange {
		key = "breaker → " + e.To
	}
	if e.Kind == keel.EventRejected {
		key += " (" + e.Reason.String() + ")"
	}
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

func run(ctx context.Context, phase time.Duration, rate int, seed uint64) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	svc := &service{start: time.Now(), phase: phase, rng: rand.New(rand.NewPCG(seed, seed))}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	url := "http://" + ln.Addr().String() + "/price"

	obs := &counter{counts: map[string]int{}}
	stale := atomic.Int64{} // the last good price, served when everything else fails
	stale.Store(-1)

	policies := keel.Chain(
		fallback.MustNew(fallback.Config{Observer: obs, Func: func(_ context.Context, err error) error {
			if stale.Load() < 0 {
				return err
			}
			return nil // the caller reads the last good price
		}}),
		retry.MustNew(retry.Config{MaxAttempts: 3, Observer: obs}),
		breaker.MustNew(breaker.Config{
			Name: "prices", MinimumCalls: 20, WindowSize: 50,
			OpenDuration: 300 * time.Millisecond, Observer: obs,
		}),
		bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 16, MaxQueue: 32, MaxWait: 50 * time.Millisecond, Observer: obs}),
		timeout.MustNew(timeout.Config{Timeout: 100 * time.Millisecond, Observer: obs}),
	)

	client := &http.Client{}
	fetch := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return keel.Permanent(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("price service: %s", resp.Status)
		}
		v, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return keel.Permanent(err)
		}
		stale.Store(v)
		return nil
	}

	fmt.Printf("calling %s at %d/s through fallback → retry → breaker → bulkhead → timeout\n", url, rate)
	fmt.Printf("the service is healthy, then flaky (30%% errors, 5%% hangs), then down, then healthy; %s each\n\n", phase)

	var calls, failed atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	deadline := time.NewTimer(4 * phase)
	defer deadline.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline.C:
			break loop
		case <-tick.C:
			calls.Add(1)
			wg.Go(func() {
				if err := policies.Do(ctx, fetch); err != nil && !errors.Is(err, context.Canceled) {
					failed.Add(1)
				}
			})
		}
	}
	wg.Wait()

	rows := [][2]string{
		{"calls made by the caller", fmt.Sprint(calls.Load())},
		{"calls that failed for the caller", fmt.Sprint(failed.Load())},
		{"requests the service received", fmt.Sprint(svc.handled.Load())},
	}
	obs.mu.Lock()
	for _, k := range sortedKeys(obs.counts) {
		rows = append(rows, [2]string{k, fmt.Sprint(obs.counts[k])})
	}
	obs.mu.Unlock()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, r := range rows {
		if _, err := fmt.Fprintf(tw, "%s\t%s\t\n", r[0], r[1]); err != nil {
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := calls.Load(); n > 0 {
		fmt.Printf("\nsuccess rate seen by the caller: %.2f%%\n", 100*float64(n-failed.Load())/float64(n))
	}
	return nil
}
