package main

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
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config holds the command-line flags.
type config struct {
	addr         string
	name         string
	data         string
	work         time.Duration
	lease        time.Duration
	maxWait      time.Duration
	drainDelay   time.Duration
	drainTimeout time.Duration
	seed         uint64
	accessLog    bool
	noIdem       bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "`host:port` to listen on")
	flag.StringVar(&cfg.name, "name", "payments-1", "replica name, recorded in every charge")
	flag.StringVar(&cfg.data, "data", "", "`directory` for the ledger and idempotency files (required; created if missing)")
	flag.DurationVar(&cfg.work, "work", 10*time.Millisecond, "mean simulated processing time of a charge, drawn from [work/2, 2*work]; 0 for none")
	flag.DurationVar(&cfg.lease, "lease", 10*time.Second, "idempotency lease: how long a charge's key stays claimed after its replica died")
	flag.DurationVar(&cfg.maxWait, "max-wait", 2*time.Second, "how long a request waits for another one with the same key before 409")
	flag.DurationVar(&cfg.drainDelay, "drain-delay", 0, "after SIGTERM, keep accepting requests (with /healthz 503) this long before closing the listener")
	flag.DurationVar(&cfg.drainTimeout, "drain-timeout", 10*time.Second, "longest wait at shutdown for requests in flight")
	flag.Uint64Var(&cfg.seed, "seed", 0, "seed of the processing-time draws; 0 derives it from -name")
	flag.BoolVar(&cfg.accessLog, "access-log", false, "log every request to standard error")
	flag.BoolVar(&cfg.noIdem, "no-idempotency", false, "do not deduplicate keys in this replica (the key is still required and recorded); leave it to the gateway")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("replica", cfg.name)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, stop, cfg, os.Stdout, logger)
	stop()
	if err != nil {
		logger.Error("payments failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then drains. stop is called once draining
// starts, so that a second signal kills the process the default way.
func run(ctx context.Context, stop func(), cfg config, stdout io.Writer, logger *slog.Logger) (err error) {
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
	stop()
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
