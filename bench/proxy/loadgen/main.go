package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"
)

// maxRequests bounds a run, whatever its rate and duration.
const maxRequests = 1_000_000

// config is a run's parameters; see the flags in main.
type config struct {
	url         string
	rate        float64
	duration    time.Duration
	connections int
	timeout     time.Duration
}

func (c config) validate() error {
	switch {
	case c.url == "":
		return errors.New("-url is required")
	case !(c.rate > 0):
		return fmt.Errorf("-rate %v: must be > 0", c.rate)
	case c.duration <= 0:
		return fmt.Errorf("-duration %v: must be > 0", c.duration)
	case c.connections < 1:
		return fmt.Errorf("-connections %d: must be >= 1", c.connections)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout %v: must be > 0", c.timeout)
	}
	if n := c.requests(); n < 1 || n > maxRequests {
		return fmt.Errorf("-rate × -duration = %d requests: must be in [1, %d]", n, maxRequests)
	}
	return nil
}

// requests is the number of requests of the run.
func (c config) requests() int {
	return int(c.rate * c.duration.Seconds())
}

// interval is the time between two scheduled requests.
func (c config) interval() time.Duration {
	return time.Duration(float64(time.Second) / c.rate)
}

// result is what loadgen prints. Latencies are in microseconds and cover the
// successful requests only.
type result struct {
	URL          string  `json:"url"`
	Rate         float64 `json:"rate"`
	DurationS    float64 `json:"duration_s"`
	Connections  int     `json:"connections"`
	Requests     int     `json:"requests"`      // scheduled
	OK           int     `json:"ok"`            // 200 with the body read
	Errors       int     `json:"errors"`        // transport errors, timeouts, non-200
	Unsent       int     `json:"unsent"`        // never sent: the run's hard deadline passed
	AchievedRate float64 `json:"achieved_rate"` // completed requests / wall time
	MeanUS       float64 `json:"mean_us"`
	P50US        float64 `json:"p50_us"`
	P90US        float64 `json:"p90_us"`
	P99US        float64 `json:"p99_us"`
	P999US       float64 `json:"p999_us"`
	MaxUS        float64 `json:"max_us"`
	// Send lag: from the scheduled time to the send, of every sent request.
	// Large values mean every connection was busy, or loadgen itself could
	// not keep up (its CPU is busy).
	LagP50US float64 `json:"send_lag_p50_us"`
	LagP99US float64 `json:"send_lag_p99_us"`
	LagMaxUS float64 `json:"send_lag_max_us"`
	// FirstError is the text of the first failure. It stays the last field:
	// run.sh reads it off the end of the line.
	FirstError string `json:"first_error,omitempty"`
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "", "URL to GET")
	flag.Float64Var(&cfg.rate, "rate", 2000, "requests per second")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the run")
	flag.IntVar(&cfg.connections, "connections", 32, "keep-alive connections (workers)")
	flag.DurationVar(&cfg.timeout, "timeout", 2*time.Second, "timeout of each request, from its send")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	// The scheduler sleeps in nanosleep, a system call that holds its P:
	// with a single P the workers would wait for the call to return or for
	// the runtime to take the P back.
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	res := run(context.Background(), cfg)
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// outcome is the fate of one scheduled request.
type outcome struct {
	sent    bool
	ok      bool
	latency time.Duration // from the scheduled time to the end of the body
	lag     time.Duration // from the scheduled time to the send
	err     error
}

// run sends cfg.requests() GETs on schedule and summarizes them.
func run(ctx context.Context, cfg config) result {
	n := cfg.requests()
	interval := cfg.interval()
	ctx, cancel := context.WithTimeout(ctx, cfg.duration+cfg.timeout+5*time.Second)
	defer cancel()

	// The channel holds every ticket, so the scheduler never blocks and a
	// late worker never delays the schedule.
	tickets := make(chan int, n)
	out := make([]outcome, n)
	// Each worker opens its connection with one unmeasured GET before the
	// schedule starts, so no measured request pays for a dial.
	var ready sync.WaitGroup
	ready.Add(cfg.connections)
	gate := make(chan struct{})
	var start time.Time // written before gate is closed
	var wg sync.WaitGroup
	for range cfg.connections {
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.timeout}).DialContext,
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
		}
		client := &http.Client{Transport: tr, Timeout: cfg.timeout}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			_ = get(ctx, client, cfg.url) // a failure shows again in the run
			ready.Done()
			<-gate
			for i := range tickets {
				if ctx.Err() != nil {
					continue // drain: the hard deadline passed
				}
				at := start.Add(time.Duration(i) * interval)
				lag := time.Since(at)
				out[i] = get(ctx, client, cfg.url)
				out[i].latency = time.Since(at)
				out[i].lag = lag
			}
		})
	}

	ready.Wait()
	start = time.Now()
	close(gate)
	for i := range n {
		if !sleepUntil(ctx, start.Add(time.Duration(i)*interval)) {
			break
		}
		tickets <- i
	}
	close(tickets)
	wg.Wait()
	return summarize(cfg, out, time.Since(start))
}

// get sends one GET and reads the whole body.
func get(ctx context.Context, client *http.Client, url string) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return outcome{sent: true, err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return outcome{sent: true, err: err}
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return outcome{sent: true, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return outcome{sent: true, err: fmt.Errorf("status %d", resp.StatusCode)}
	}
	return outcome{sent: true, ok: true}
}

// summarize counts the outcomes and computes the latency percentiles of the
// successful ones.
func summarize(cfg config, out []outcome, wall time.Duration) result {
	r := result{
		URL:         cfg.url,
		Rate:        cfg.rate,
		DurationS:   cfg.duration.Seconds(),
		Connections: cfg.connections,
		Requests:    len(out),
	}
	lat := make([]time.Duration, 0, len(out))
	lags := make([]time.Duration, 0, len(out))
	var sum time.Duration
	for _, o := range out {
		switch {
		case !o.sent:
			r.Unsent++
		case o.ok:
			lags = append(lags, o.lag)
			r.OK++
			lat = append(lat, o.latency)
			sum += o.latency
		default:
			lags = append(lags, o.lag)
			r.Errors++
			if r.FirstError == "" && o.err != nil {
				r.FirstError = o.err.Error()
			}
		}
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		r.LagP50US = us(percentile(lags, 50))
		r.LagP99US = us(percentile(lags, 99))
		r.LagMaxUS = us(lags[len(lags)-1])
	}
	if wall > 0 {
		r.AchievedRate = round1(float64(r.OK+r.Errors) / wall.Seconds())
	}
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	r.MeanUS = us(sum / time.Duration(len(lat)))
	r.P50US = us(percentile(lat, 50))
	r.P90US = us(percentile(lat, 90))
	r.P99US = us(percentile(lat, 99))
	r.P999US = us(percentile(lat, 99.9))
	r.MaxUS = us(lat[len(lat)-1])
	return r
}

// percentile returns the nearest-rank p-th percentile of sorted, which must
// not be empty: the smallest value that at least p% of the values are at or
// below.
func percentile(sorted []time.Duration, p float64) time.Duration {
	permille := int(math.Round(p * 10))
	rank := (permille*len(sorted) + 999) / 1000
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func us(d time.Duration) float64 { return round1(float64(d) / float64(time.Microsecond)) }

func round1(f float64) float64 { return math.Round(f*10) / 10 }
