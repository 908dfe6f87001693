package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Health is a health check handler: it answers 200 "ok" until Drain is
// called, and 503 "draining" after. The zero value is healthy. It is safe
// for concurrent use.
type Health struct {
	draining atomic.Bool
}

// Drain makes the health check fail from now on.
func (h *Health) Drain() { h.draining.Store(true) }

// ServeHTTP answers the health check, never from a cache.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "draining\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// Server is a service replica's HTTP server. Its fields must be set before
// Run.
type Server struct {
	// Command names the service in error messages: "payments".
	Command string
	// Flags gives the address and the drain delay and timeout.
	Flags Flags
	// Handler serves the requests.
	Handler http.Handler
	// Health is drained when the server starts draining. Required.
	Health *Health
	// Logger receives the server's own messages and errors. Required.
	Logger *slog.Logger
}

// Run listens on s.Flags.Addr, writes "listening <host:port>" to stdout,
// logs "serving" with attrs, and serves until ctx ends. Then it drains: the
// health check fails at once, the listener closes after DrainDelay, and
// requests in flight get DrainTimeout to finish. It returns nil after a
// complete drain; its errors start with s.Command.
func (s *Server) Run(ctx context.Context, stdout io.Writer, attrs ...any) error {
	ln, err := net.Listen("tcp", s.Flags.Addr)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Command, err)
	}
	if _, err := fmt.Fprintf(stdout, "listening %s\n", ln.Addr()); err != nil {
		_ = ln.Close()
		return fmt.Errorf("%s: %w", s.Command, err)
	}
	s.Logger.InfoContext(ctx, "serving", append([]any{"addr", ln.Addr().String()}, attrs...)...)

	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", s.Command, err)
	case <-ctx.Done():
	}
	return s.drain(srv, errc)
}

// drain shuts srv down; errc receives Serve's result.
func (s *Server) drain(srv *http.Server, errc <-chan error) error {
	s.Health.Drain()
	s.Logger.Info("draining", "delay", s.Flags.DrainDelay, "timeout", s.Flags.DrainTimeout)
	if s.Flags.DrainDelay > 0 {
		t := time.NewTimer(s.Flags.DrainDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("%s: %w", s.Command, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Flags.DrainTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(ctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", s.Command, err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("%s: drain: %w", s.Command, shutdownErr)
	}
	s.Logger.Info("stopped")
	return nil
}
