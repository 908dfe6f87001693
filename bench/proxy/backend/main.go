package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// body is the fixed response body: 100 bytes, ending in a newline.
var body = []byte("keel proxy benchmark backend: a fixed body of one hundred bytes, the same for every request........\n")

// handler answers GET and HEAD with body; other methods get 405.
type handler struct {
	contentLength string
}

func newHandler() *handler {
	return &handler{contentLength: strconv.Itoa(len(body))}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	// Setting the headers as slices directly avoids the canonicalization
	// work of Header.Set on every request.
	hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	hdr["Content-Length"] = []string{h.contentLength}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body) // a failed write means the client went away
}

// newServer returns the backend's server: HTTP/1.1 keep-alive, generous idle
// timeout so that proxies keep their upstream connections.
func newServer() *http.Server {
	return &http.Server{
		Handler:           newHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:19101", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

// run serves on addr until SIGINT or SIGTERM.
func run(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := newServer()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	select {
	case err = <-done:
		return err
	case <-ctx.Done():
	}
	err = srv.Close()
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
