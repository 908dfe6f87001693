package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	version      string
	delay        time.Duration
	items        int
	chaosHeaders bool
	seed         uint64
	drainDelay   time.Duration
	drainTimeout time.Duration
	accessLog    bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "`host:port` to listen on")
	flag.StringVar(&cfg.name, "name", "recommendations-1", "replica name, reported in every response")
	flag.StringVar(&cfg.version, "version", "v1", "model version: the items are a function of the user and the version")
	flag.DurationVar(&cfg.delay, "delay", 5*time.Millisecond, "time each request takes")
	flag.IntVar(&cfg.items, "items", 5, "items per response, 1 to 100")
	flag.BoolVar(&cfg.chaosHeaders, "chaos-headers", false, "honor the X-Keel-Fault-* request headers (package chaos)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the chaos injector (X-Keel-Fault-Percent draws)")
	flag.DurationVar(&cfg.drainDelay, "drain-delay", 0, "after SIGTERM, keep accepting requests (with /healthz 503) this long before closing the listener")
	flag.DurationVar(&cfg.drainTimeout, "drain-timeout", 10*time.Second, "longest wait at shutdown for requests in flight")
	flag.BoolVar(&cfg.accessLog, "access-log", false, "log every request to standard error")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("replica", cfg.name)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, stop, cfg, os.Stdout, logger)
	stop()
	if err != nil {
		logger.Error("recommendations failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then drains. stop is called once draining
// starts, so that a second signal kills the process the default way.
func run(ctx context.Context, stop func(), cfg config, stdout io.Writer, logger *slog.Logger) error {
	if cfg.delay < 0 || cfg.drainDelay < 0 || cfg.drainTimeout <= 0 || cfg.items < 1 || cfg.items > maxItems {
		return fmt.Errorf("recommendations: -delay and -drain-delay must not be negative, -drain-timeout must be positive, -items must be in [1, %d]", maxItems)
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
	stop()

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
