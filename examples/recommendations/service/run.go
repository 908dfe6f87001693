package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	version      string
	delay        time.Duration
	items        int
	chaosHeaders bool
	seed         uint64
	drainDelay   time.Duration
	drainTimeout time.Duration
	accessLog    bool
}

// errUsage marks a command line that does not parse; ExitCode maps it to 2.
var errUsage = errors.New("recommendations: usage")

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

// Run runs one recommendations replica with the command-line arguments args
// (the flags listed in the package documentation, without the program
// name): it writes "listening <host:port>" to stdout, logs to stderr, serves
// until ctx ends, then drains and returns. Errors are also logged to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("replica", cfg.name)
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
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "`host:port` to listen on")
	fs.StringVar(&cfg.name, "name", "recommendations-1", "replica name, reported in every response")
	fs.StringVar(&cfg.version, "version", "v1", "model version: the items are a function of the user and the version")
	fs.DurationVar(&cfg.delay, "delay", 5*time.Millisecond, "time each request takes")
	fs.IntVar(&cfg.items, "items", 5, "items per response, 1 to 100")
	fs.BoolVar(&cfg.chaosHeaders, "chaos-headers", false, "honor the X-Keel-Fault-* request headers (package chaos)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the chaos injector (X-Keel-Fault-Percent draws)")
	fs.DurationVar(&cfg.drainDelay, "drain-delay", 0, "after SIGTERM, keep accepting requests (with /healthz 503) this long before closing the listener")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 10*time.Second, "longest wait at shutdown for requests in flight")
	fs.BoolVar(&cfg.accessLog, "access-log", false, "log every request to standard error")
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
func run(ctx context.Context, cfg config, stdout io.Writer, logger *slog.Logger) error {
	if cfg.delay < 0 || cfg.drainDelay < 0 || cfg.drainTimeout <= 0 || cfg.items < 1 || cfg.items > MaxItems {
		return fmt.Errorf("recommendations: -delay and -drain-delay must not be negative, -drain-timeout must be positive, -items must be in [1, %d]", MaxItems)
	}
	svc, err := newService(cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("recommendations: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "listening %s\n", ln.Addr()); err != nil {
		_ = ln.Close()
		return fmt.Errorf("recommendations: %w", err)
	}
	logger.InfoContext(ctx, "serving", "addr", ln.Addr().String(), "version", cfg.version, "delay", cfg.delay, "chaos_headers", cfg.chaosHeaders)

	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("recommendations: %w", err)
	case <-ctx.Done():
	}

	svc.draining.Store(true)
	logger.InfoContext(ctx, "draining", "delay", cfg.drainDelay, "timeout", cfg.drainTimeout)
	if cfg.drainDelay > 0 {
		t := time.NewTimer(cfg.drainDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("recommendations: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("recommendations: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("recommendations: drain: %w", shutdownErr)
	}
	logger.InfoContext(ctx, "stopped")
	return nil
}
