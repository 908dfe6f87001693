package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keelhq/keel/chaos/tcpproxy"
)

func chaosProxyCommand() *command {
	return &command{
		name:    "proxy",
		summary: "TCP fault proxy with a Toxiproxy-compatible control API",
		run:     runChaosProxy,
	}
}

const chaosProxyHelp = `
Run a TCP fault proxy controlled by an HTTP API compatible with Toxiproxy's,
so that the Toxiproxy clients drive it unchanged. Proxies forward TCP
connections to an upstream through toxics: latency, bandwidth, slow_close,
timeout, reset_peer, slicer and limit_data; a disabled proxy refuses
connections.

-config names a JSON file in Toxiproxy's format, a list of proxies created at
start:

  [{"name": "redis", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379"}]

Toxicity draws, jitter and slice sizes come from a generator seeded with
-seed; the seed is logged so that a run can be repeated. The control API has
no authentication: keep it on a loopback or otherwise private address.

  keel chaos proxy -listen 127.0.0.1:8474 -config proxies.json -seed 42

It runs until SIGINT or SIGTERM.`

// chaosProxyShutdown bounds how long the control API may take to finish its
// requests at exit.
const chaosProxyShutdown = 5 * time.Second

func runChaosProxy(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "chaos proxy", "[flags]", chaosProxyHelp)
	listen := fs.String("listen", "127.0.0.1:8474", "`address` of the control API")
	config := fs.String("config", "", "create the proxies listed in this JSON `file` at start")
	seed := fs.Uint64("seed", 0, "`seed` of the random choices; 0 picks one (it is logged)")
	jsonLogs := fs.Bool("json", false, "log JSON lines instead of text")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		say(e.stderr, "keel chaos proxy: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var proxies []tcpproxy.Proxy
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err == nil {
			err = json.Unmarshal(b, &proxies)
		}
		if err != nil {
			say(e.stderr, "keel chaos proxy: -config: %v\n", err)
			return exitUsage
		}
	}

	var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
	if *jsonLogs {
		h = slog.NewJSONHandler(e.stderr, nil)
	}
	log := slog.New(h)

	s, err := tcpproxy.New(tcpproxy.Config{Seed: *seed, Logger: log})
	if err != nil {
		say(e.stderr, "keel chaos proxy: %v\n", err)
		return exitUsage
	}
	defer func() { _ = s.Close() }() // Close never fails
	if _, err := s.Populate(proxies); err != nil {
		say(e.stderr, "keel chaos proxy: -config: %v\n", err)
		return exitUsage
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		say(e.stderr, "keel chaos proxy: %v\n", err)
		return exitFailure
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.InfoContext(ctx, "chaos proxy: control API listening", slog.String("addr", ln.Addr().String()),
		slog.Uint64("seed", s.Seed()), slog.Int("proxies", len(proxies)))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := exitOK
	var serveErr error
	select {
	case <-ctx.Done():
		log.InfoContext(ctx, "chaos proxy: stopping")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), chaosProxyShutdown)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			say(e.stderr, "keel chaos proxy: %v\n", err)
			code = exitFailure
		}
		serveErr = <-served
	case serveErr = <-served:
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		say(e.stderr, "keel chaos proxy: %v\n", serveErr)
		code = exitFailure
	}
	return code
}
