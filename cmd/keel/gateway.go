package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/keelhq/keel/dashboard"
	"github.com/keelhq/keel/gateway"
	"github.com/keelhq/keel/gateway/config"
)

// gatewayGCPercent is the gateway's GOGC unless the environment sets one.
const gatewayGCPercent = 400

func gatewayCommand() *command {
	return &command{
		name:    "gateway",
		summary: "run the resilient reverse proxy described by a YAML file",
		run:     runGateway,
	}
}

const gatewayHelp = `
Run Keel's gateway: a reverse proxy that load-balances each route over an
upstream's replicas and applies the route's policies — timeouts, retries on
another host within a budget, per-host circuit breakers, outlier ejection,
bulkheads, rate limits, idempotency keys, a stale-if-error cache, fallbacks
and feature flags. See docs/gateway.md.

Signals:
  SIGHUP           reload the configuration file (an invalid file is refused
                   and the running configuration keeps serving)
  SIGTERM, SIGINT  drain: /readyz answers 503, then in-flight requests finish
                   (up to listen.drain_timeout) and the process exits

The file is also reloaded when it changes on disk, unless -watch=false.
The Go garbage collector runs at GOGC=400 unless GOGC is set.
The admin API (admin.address, 127.0.0.1:9901 by default) serves the live
dashboard at /, and /status, /metrics, /healthz, /readyz, /events, /series
and /faults; changes (flags, breakers, drains, faults, reload) need
admin.token.`

func runGateway(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "gateway", "-c keel.yaml [flags]", gatewayHelp)
	path := fs.String("c", "keel.yaml", "configuration `file`")
	watch := fs.Bool("watch", true, "reload the configuration when the file changes")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		say(e.stderr, "keel gateway: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := config.Load(*path, e.getenv)
	if err != nil {
		printConfigErrors(e, err)
		return exitUsage
	}
	logger := gateway.NewLogger(cfg.Telemetry, e.stderr)
	if e.getenv("GOGC") == "" {
		// A proxy's live heap is small and its garbage proportional to its
		// traffic: collecting at 4× the live heap instead of 2× costs a
		// few megabytes and saves about a tenth of the CPU per request
		// (docs/performance.md). GOGC in the environment overrides it.
		debug.SetGCPercent(gatewayGCPercent)
	}
	gw, err := gateway.New(cfg, gateway.Options{Logger: logger, ConfigPath: *path, Getenv: e.getenv, Watch: *watch})
	if err != nil {
		logger.ErrorContext(ctx, "gateway not started", slog.Any("error", err))
		return exitFailure
	}
	if d := cfg.Admin.Dashboard; d == nil || *d {
		dash, err := dashboard.New(gw, dashboard.Config{})
		if err != nil {
			logger.ErrorContext(ctx, "dashboard not started", slog.Any("error", err))
			return exitFailure
		}
		gw.HandleAdmin("GET /", dash)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := gw.Start(); err != nil {
		logger.ErrorContext(ctx, "gateway not started", slog.Any("error", err))
		_ = gw.Shutdown(context.Background())
		return exitFailure
	}
	code := exitOK
	for {
		select {
		case <-ctx.Done():
			return drain(gw, cfg, logger, code)
		case err := <-gw.Err():
			logger.ErrorContext(ctx, "listener failed", slog.Any("error", err))
			return drain(gw, cfg, logger, exitFailure)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				logger.InfoContext(ctx, "SIGHUP: reloading the configuration")
				_ = gw.ReloadFile() // the gateway logs a refusal
				continue
			}
			logger.InfoContext(ctx, "signal received: draining", slog.String("signal", sig.String()))
			return drain(gw, cfg, logger, code)
		}
	}
}

// drain shuts the gateway down within the configured drain timeout; a
// second SIGTERM or SIGINT is not waited for: the deadline bounds it.
func drain(gw *gateway.Gateway, cfg *config.Config, logger *slog.Logger, code int) int {
	timeout := cfg.Listen.DrainTimeout.Std() + cfg.Listen.DrainDelay.Std()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			logger.WarnContext(ctx, "drain timeout: requests still running were cut off")
		} else {
			logger.ErrorContext(ctx, "shutdown", slog.Any("error", err))
		}
		return exitFailure
	}
	return code
}

// printConfigErrors prints each configuration error on a line of its own.
func printConfigErrors(e *env, err error) {
	if errs := config.Errors(err); len(errs) > 0 {
		for _, ce := range errs {
			say(e.stderr, "%v\n", ce.Error())
		}
		return
	}
	say(e.stderr, "%v\n", err)
}
