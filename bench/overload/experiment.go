package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/hedge"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/shed"
)

// loads are the offered loads, in multiples of the backend's capacity.
var loads = []float64{1, 2, 4}

// results is everything the report and the plot show.
type results struct {
	unloadedP50, unloadedP99 time.Duration
	phases                   []phase // without Keel, then with Keel, per load
	hedge                    [2]hedgeRun
}

// phase is the outcome of one load level under one configuration.
type phase struct {
	keel     bool
	load     float64 // × capacity
	offered  float64 // requests/s
	goodput  float64 // successful requests/s
	p50, p99 time.Duration
	sent, ok [len(classes)]int
}

type hedgeRun struct {
	hedged   bool
	calls    int
	requests int64 // reached the backend
	ok       int
	p50, p99 time.Duration
	hedges   uint64
}

func run(ctx context.Context, cfg config) (results, error) {
	var res results
	// Unloaded: a quarter of capacity, no protection.
	u, err := overloadPhase(ctx, cfg, false, 0.25, cfg.seed)
	if err != nil {
		return res, err
	}
	res.unloadedP50, res.unloadedP99 = u.p50, u.p99
	for _, withKeel := range []bool{false, true} {
		for i, l := range loads {
			p, err := overloadPhase(ctx, cfg, withKeel, l, cfg.seed+uint64(i)+1)
			if err != nil {
				return res, err
			}
			res.phases = append(res.phases, p)
		}
	}
	for i, hedged := range []bool{false, true} {
		h, err := hedgeExperiment(ctx, cfg, hedged)
		if err != nil {
			return res, err
		}
		res.hedge[i] = h
	}
	return res, nil
}

// admission returns the Keel protection of the overload experiment: a
// criticality shedder in front of an adaptive concurrency limit. The limiter
// (Gradient2, tight tolerance) finds how many requests the backend serves
// without queueing and queues the rest, FIFO, for at most two service times.
// The shedder counts the requests admitted or queued: it refuses sheddable
// ones from 1.25× the backend's concurrency, default ones from 1.5× and
// critical ones from 3×, so that under overload the queue holds critical
// requests, and it is short enough that none of them waits out MaxWait.
func admission(cfg config) (keel.Policy, *limit.Limiter) {
	s := shed.MustNew(shed.Config{
		Name:           "overload",
		Capacity:       3 * cfg.conc,
		SheddableShare: 0.42,
		DefaultShare:   0.5,
	})
	l := limit.MustNew(limit.Config{
		Name:       "overload",
		Algorithm:  &limit.Gradient2{Tolerance: 1.1, QueueSize: 1},
		MinLimit:   max(1, cfg.conc/2),
		MaxLimit:   16 * cfg.conc,
		MaxQueue:   3 * cfg.conc,
		MaxWait:    2 * cfg.service,
		QueueOrder: limit.FIFO,
	})
	return keel.Chain(s, l), l
}

// withCriticality puts the class from the criticality header into the
// request's context, where the shedder finds it.
func withCriticality(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(criticalityHeader); v != "" {
			c, _ := shed.ParseCriticality(v) // an unknown value is Default
			r = r.WithContext(shed.WithCriticality(r.Context(), c))
		}
		next.ServeHTTP(w, r)
	})
}

func overloadPhase(ctx context.Context, cfg config, withKeel bool, load float64, seed uint64) (phase, error) {
	b := newCapped(cfg.conc, cfg.service)
	var h http.Handler = b
	if withKeel {
		adm, lim := admission(cfg)
		mw, err := keelhttp.NewMiddleware(keelhttp.MiddlewareConfig{Name: "overload", Admission: adm})
		if err != nil {
			return phase{}, err
		}
		if cfg.verbose {
			stop := trace(lim, load)
			defer stop()
		}
		h = withCriticality(mw.Wrap(b))
	}
	srv, err := serve(h)
	if err != nil {
		return phase{}, err
	}
	client := newClient()
	rate := load * cfg.capacity()
	samples := openLoop(ctx, client, srv.url, rate, cfg.warmup, cfg.phase, cfg.timeout, seed)
	close(b.stop)
	client.CloseIdleConnections()
	if err := srv.close(); err != nil {
		return phase{}, err
	}

	p := phase{keel: withKeel, load: load, offered: rate}
	var lat []time.Duration
	for _, s := range samples {
		if !s.measured {
			continue
		}
		p.sent[s.class]++
		if s.ok {
			p.ok[s.class]++
			lat = append(lat, s.latency)
		}
	}
	p.goodput = float64(len(lat)) / cfg.phase.Seconds()
	p.p50, p.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return p, nil
}

func hedgeExperiment(ctx context.Context, cfg config, hedged bool) (_ hedgeRun, err error) {
	b := newTail(cfg.seed)
	srv, err := serve(b)
	if err != nil {
		return hedgeRun{}, err
	}
	defer func() {
		if cerr := srv.close(); err == nil {
			err = cerr
		}
	}()
	client := newClient()
	defer client.CloseIdleConnections()

	var x keel.Executor = keel.Chain() // no policy
	var hp *hedge.Policy
	if hedged {
		hp, err = hedge.New(hedge.Config{Name: "tail", Delay: cfg.hedgeDelay})
		if err != nil {
			return hedgeRun{}, err
		}
		x = hp
	}
	// Warm the connection pool so that dialing does not count.
	for range 20 {
		call(ctx, client, srv.url, "", time.Now(), cfg.timeout)
	}
	b.requests.Store(0)

	interval := time.Duration(float64(time.Second) / cfg.hedgeRate)
	lat := make([]time.Duration, cfg.hedgeCalls)
	okc := make([]bool, cfg.hedgeCalls)
	done := make(chan int, cfg.hedgeCalls)
	start := time.Now()
	launched := 0
	for i := range cfg.hedgeCalls {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 && !sleep(ctx, d) {
			break
		}
		launched++
		go func() {
			defer func() { done <- i }()
			err := x.Do(ctx, func(ctx context.Context) error {
				if ok, _ := call(ctx, client, srv.url, "", time.Now(), cfg.timeout); !ok {
					return errFailed
				}
				return nil
			})
			okc[i], lat[i] = err == nil, time.Since(at)
		}()
	}
	for range launched {
		<-done
	}
	r := hedgeRun{hedged: hedged, calls: cfg.hedgeCalls, requests: b.requests.Load()}
	var good []time.Duration
	for i, ok := range okc {
		if ok {
			r.ok++
			good = append(good, lat[i])
		}
	}
	r.p50, r.p99 = percentile(good, 0.50), percentile(good, 0.99)
	if hp != nil {
		r.hedges = hp.Hedges()
	}
	return r, nil
}

// errFailed is an attempt that got no 200 in time.
var errFailed = errors.New("overload: request failed")

// percentile returns the nearest-rank q-quantile of d (sorting d), or 0 for
// none.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(q*float64(len(d))+0.999999) - 1
	return d[max(0, min(i, len(d)-1))]
}

// trace prints the limiter's limit and occupancy to stderr every 100 ms until
// the returned function is called; that function also waits for it to stop.
func trace(l *limit.Limiter, load float64) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; i < 1200; i++ { // at most two minutes
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "load %g× t=%.1fs limit %d in flight %d queued %d\n",
					load, float64(i+1)/10, l.Limit(), l.InFlight(), l.Queued())
			}
		}
	}()
	return func() { close(stop); <-done }
}
