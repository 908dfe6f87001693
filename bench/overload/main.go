package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.conc, "conc", 8, "requests the overload backend serves at once")
	flag.DurationVar(&cfg.service, "service", 20*time.Millisecond, "service time of each request of the overload backend")
	flag.DurationVar(&cfg.phase, "phase", 3*time.Second, "measured length of each load phase")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "unmeasured start of each load phase")
	flag.DurationVar(&cfg.timeout, "timeout", time.Second, "client timeout of each request")
	flag.IntVar(&cfg.hedgeCalls, "hedge-calls", 1500, "calls of each hedging run")
	flag.Float64Var(&cfg.hedgeRate, "hedge-rate", 300, "calls per second of each hedging run")
	flag.DurationVar(&cfg.hedgeDelay, "hedge-delay", 10*time.Millisecond, "hedge delay")
	flag.Uint64Var(&cfg.seed, "seed", 6, "seed of every random choice")
	flag.BoolVar(&cfg.verbose, "v", false, "trace the limiter to stderr")
	out := flag.String("out", "", "write the SVG plot to this file")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(2)
	}

	// Everything the experiment does is bounded by the phases' lengths; this
	// is a last resort against a bug.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	res, err := run(ctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
	if err := writeReport(os.Stdout, cfg, res); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(plot(cfg, res)), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "overload:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "overload: wrote %s\n", *out)
	}
}

// config is the experiment's parameters.
type config struct {
	conc       int
	service    time.Duration
	phase      time.Duration
	warmup     time.Duration
	timeout    time.Duration
	hedgeCalls int
	hedgeRate  float64
	hedgeDelay time.Duration
	seed       uint64
	verbose    bool
}

func (c config) validate() error {
	switch {
	case c.conc < 1:
		return fmt.Errorf("-conc is %d, must be at least 1", c.conc)
	case c.service <= 0:
		return fmt.Errorf("-service is %v, must be positive", c.service)
	case c.phase <= 0 || c.phase > time.Minute:
		return fmt.Errorf("-phase is %v, must be in (0, 1m]", c.phase)
	case c.warmup < 0 || c.warmup > time.Minute:
		return fmt.Errorf("-warmup is %v, must be in [0, 1m]", c.warmup)
	case c.timeout <= 0 || c.timeout > time.Minute:
		return fmt.Errorf("-timeout is %v, must be in (0, 1m]", c.timeout)
	case c.hedgeCalls < 1 || c.hedgeCalls > 100000:
		return fmt.Errorf("-hedge-calls is %d, must be in [1, 100000]", c.hedgeCalls)
	case c.hedgeRate <= 0 || c.hedgeRate > 10000:
		return fmt.Errorf("-hedge-rate is %v, must be in (0, 10000]", c.hedgeRate)
	case c.hedgeDelay <= 0:
		return fmt.Errorf("-hedge-delay is %v, must be positive", c.hedgeDelay)
	}
	return nil
}

// capacity is the overload backend's capacity in requests per second.
func (c config) capacity() float64 { return float64(c.conc) / c.service.Seconds() }
