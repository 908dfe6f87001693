package service

import (
	"context"
	"errors"
	"flag"
	"hash/fnv"
	"io"
	"log/slog"
	"time"

	"github.com/keelhq/keel/examples/internal/serve"
)

// config holds the command-line flags.
type config struct {
	serve.Flags
	data      string
	ledger    string
	applyOnce bool
	work      time.Duration
	lease     time.Duration
	maxWait   time.Duration
	seed      uint64
	noIdem    bool
}

// ExitCode returns the process exit code for an error of Run: 0 for nil
// (and for -h), 2 for a command line that does not parse, 1 otherwise.
func ExitCode(err error) int { return serve.ExitCode(err) }

// Run runs one payments replica with the command-line arguments args (the
// flags listed in the package documentation, without the program name): it
// writes "listening <host:port>" to stdout, logs to stderr, serves until ctx
// ends, then drains and returns. Errors are also logged to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("replica", cfg.Name)
	if err := run(ctx, cfg, stdout, logger); err != nil {
		logger.ErrorContext(ctx, "payments failed", "err", err)
		return err
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("payments", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs, "payments-1", "replica name, recorded in every charge")
	fs.StringVar(&cfg.data, "data", "", "`directory` for the ledger and idempotency files (required; created if missing)")
	fs.StringVar(&cfg.ledger, "ledger", "", "shared ledger `file`, written by every replica given the same path (instead of a ledger in -data)")
	fs.BoolVar(&cfg.applyOnce, "apply-once", false, "apply a charge only if its key is not in the ledger yet, else answer with the first application (business-level idempotency)")
	fs.DurationVar(&cfg.work, "work", 10*time.Millisecond, "mean simulated processing time of a charge, drawn from [work/2, 2*work]; 0 for none")
	fs.DurationVar(&cfg.lease, "lease", 10*time.Second, "idempotency lease: how long a charge's key stays claimed after its replica died")
	fs.DurationVar(&cfg.maxWait, "max-wait", 2*time.Second, "how long a request waits for another one with the same key before 409")
	fs.Uint64Var(&cfg.seed, "seed", 0, "seed of the processing-time draws; 0 derives it from -name")
	fs.BoolVar(&cfg.noIdem, "no-idempotency", false, "do not deduplicate keys with the idempotency middleware (the key is still required and recorded); leave it to the gateway")
	if err := serve.Parse(fs, args); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// run serves until ctx ends, then drains.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *slog.Logger) (err error) {
	if cfg.data == "" {
		return errors.New("payments: -data is required")
	}
	if cfg.work < 0 || cfg.DrainDelay < 0 || cfg.DrainTimeout <= 0 || cfg.lease <= 0 || cfg.maxWait < 0 {
		return errors.New("payments: -work, -drain-delay and -max-wait must not be negative; -lease and -drain-timeout must be positive")
	}
	if cfg.seed == 0 {
		h := fnv.New64a()
		_, _ = io.WriteString(h, cfg.Name)
		cfg.seed = h.Sum64()
	}
	svc, err := newService(cfg, logger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, svc.Close()) }()
	srv := &serve.Server{Command: "payments", Flags: cfg.Flags, Handler: svc.Handler(), Health: &svc.health, Logger: logger}
	return srv.Run(ctx, stdout, "data", cfg.data, "work", cfg.work)
}
