package service

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/keelhq/keel/examples/internal/serve"
)

// config holds the command-line flags.
type config struct {
	serve.Flags
	version      string
	delay        time.Duration
	items        int
	chaosHeaders bool
	seed         uint64
}

// ExitCode returns the process exit code for an error of Run: 0 for nil
// (and for -h), 2 for a command line that does not parse, 1 otherwise.
func ExitCode(err error) int { return serve.ExitCode(err) }

// Run runs one recommendations replica with the command-line arguments args
// (the flags listed in the package documentation, without the program
// name): it writes "listening <host:port>" to stdout, logs to stderr, serves
// until ctx ends, then drains and returns. Errors are also logged to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("replica", cfg.Name)
	if err := run(ctx, cfg, stdout, logger); err != nil {
		logger.ErrorContext(ctx, "recommendations failed", "err", err)
		return err
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("recommendations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Register(fs, "recommendations-1", "replica name, reported in every response")
	fs.StringVar(&cfg.version, "version", "v1", "model version: the items are a function of the user and the version")
	fs.DurationVar(&cfg.delay, "delay", 5*time.Millisecond, "time each request takes")
	fs.IntVar(&cfg.items, "items", 5, "items per response, 1 to 100")
	fs.BoolVar(&cfg.chaosHeaders, "chaos-headers", false, "honor the X-Keel-Fault-* request headers (package chaos)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the chaos injector (X-Keel-Fault-Percent draws)")
	if err := serve.Parse(fs, args); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// run serves until ctx ends, then drains.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *slog.Logger) error {
	if cfg.delay < 0 || cfg.DrainDelay < 0 || cfg.DrainTimeout <= 0 || cfg.items < 1 || cfg.items > MaxItems {
		return fmt.Errorf("recommendations: -delay and -drain-delay must not be negative, -drain-timeout must be positive, -items must be in [1, %d]", MaxItems)
	}
	svc, err := newService(cfg, logger)
	if err != nil {
		return err
	}
	srv := &serve.Server{Command: "recommendations", Flags: cfg.Flags, Handler: svc.Handler(), Health: &svc.health, Logger: logger}
	return srv.Run(ctx, stdout, "version", cfg.version, "delay", cfg.delay, "chaos_headers", cfg.chaosHeaders)
}
