package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// config holds the command-line flags.
type config struct {
	addr         string
	name         string
	data         string
	ledger       string
	applyOnce    bool
	work         time.Duration
	lease        time.Duration
	maxWait      time.Duration
	drainDelay   time.Duration
	drainTimeout time.Duration
	seed         uint64
	accessLog    bool
	noIdem       bool
}

// errUsage marks a command line that does not parse; ExitCode maps it to 2.
var errUsage = errors.New("payments: usage")

// ExitCode returns the process exit code for an error of Run: 0 for nil
// (and for -h), 2 for a command line that does not parse, 1 otherwise.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		return 1
	}
}

// Run runs one payments replica with the command-line arguments args (the
// flags listed in the package documentation, without the program name): it
// writes "listening <host:port>" to stdout, logs to stderr, serves until ctx
// ends, then drains and returns. Errors are also logged to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("replica", cfg.name)
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
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "`host:port` to listen on")
	fs.StringVar(&cfg.name, "name", "payments-1", "replica name, recorded in every charge")
	fs.StringVar(&cfg.data, "data", "", "`directory` for the ledger and idempotency files (required; created if missing)")
	fs.StringVar(&cfg.ledger, "ledger", "", "shared ledger `file`, written by every replica given the same path (instead of a ledger in -data)")
	fs.BoolVar(&cfg.applyOnce, "apply-once", false, "apply a charge only if its key is not in the ledger yet, else answer with the first application (business-level idempotency)")
	fs.DurationVar(&cfg.work, "work", 10*time.Millisecond, "mean simulated processing time of a charge, drawn from [work/2, 2*work]; 0 for none")
	fs.DurationVar(&cfg.lease, "lease", 10*time.Second, "idempotency lease: how long a charge's key stays claimed after its replica died")
	fs.DurationVar(&cfg.maxWait, "max-wait", 2*time.Second, "how long a request waits for another one with the same key before 409")
	fs.DurationVar(&cfg.drainDelay, "drain-delay", 0, "after SIGTERM, keep accepting requests (with /healthz 503) this long before closing the listener")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 10*time.Second, "longest wait at shutdown for requests in flight")
	fs.Uint64Var(&cfg.seed, "seed", 0, "seed of the processing-time draws; 0 derives it from -name")
	fs.BoolVar(&cfg.accessLog, "access-log", false, "log every request to standard error")
	fs.BoolVar(&cfg.noIdem, "no-idempotency", false, "do not deduplicate keys with the idempotency middleware (the key is still required and recorded); leave it to the gateway")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return cfg, nil
}

// run serves until ctx ends, then drains.
func run(ctx context.Context, cfg config, stdout io.Writer, logger *slog.Logger) (err error) {
	if cfg.data == "" {
		return errors.New("payments: -data is required")
	}
	if cfg.work < 0 || cfg.drainDelay < 0 || cfg.drainTimeout <= 0 || cfg.lease <= 0 || cfg.maxWait < 0 {
		return errors.New("payments: -work, -drain-delay and -max-wait must not be negative; -lease and -drain-timeout must be positive")
	}
	if cfg.seed == 0 {
		h := fnv.New64a()
		_, _ = io.WriteString(h, cfg.name)
		cfg.seed = h.Sum64()
	}
	svc, err := newService(cfg, logger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, svc.Close()) }()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "listening %s\n", ln.Addr()); err != nil {
		_ = ln.Close()
		return fmt.Errorf("payments: %w", err)
	}
	logger.InfoContext(ctx, "serving", "addr", ln.Addr().String(), "data", cfg.data, "work", cfg.work)

	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("payments: %w", err)
	case <-ctx.Done():
	}
	return drain(srv, errc, svc, cfg, logger)
}

// drain shuts the server down: health checks fail at once, the listener
// closes after cfg.drainDelay, and requests in flight get cfg.drainTimeout
// to finish.
func drain(srv *http.Server, errc <-chan error, svc *service, cfg config, logger *slog.Logger) error {
	svc.draining.Store(true)
	logger.Info("draining", "delay", cfg.drainDelay, "timeout", cfg.drainTimeout)
	if cfg.drainDelay > 0 {
		t := time.NewTimer(cfg.drainDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("payments: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(ctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("payments: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("payments: drain: %w", shutdownErr)
	}
	logger.Info("stopped")
	return nil
}
