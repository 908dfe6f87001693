package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19113", "address to listen on")
	backends := flag.String("backends", "127.0.0.1:19101,127.0.0.1:19102,127.0.0.1:19103", "comma-separated host:port of the backends")
	flag.Parse()
	if err := run(*addr, *backends); err != nil {
		fmt.Fprintln(os.Stderr, "reverseproxy:", err)
		os.Exit(1)
	}
}

// run serves the proxy on addr until SIGINT or SIGTERM.
func run(addr, backends string) error {
	targets, err := parseBackends(backends)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newProxy(targets),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
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

// parseBackends parses a comma-separated list of host:port.
func parseBackends(s string) ([]*url.URL, error) {
	var out []*url.URL
	for b := range strings.SplitSeq(s, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			return nil, fmt.Errorf("backend %q: %w", b, err)
		}
		out = append(out, &url.URL{Scheme: "http", Host: b})
	}
	if len(out) == 0 {
		return nil, errors.New("no backends")
	}
	return out, nil
}

// newProxy returns a reverse proxy that sends each request to the next of
// targets in turn.
func newProxy(targets []*url.URL) *httputil.ReverseProxy {
	var next atomic.Uint64
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			t := targets[(next.Add(1)-1)%uint64(len(targets))]
			r.SetURL(t)
			r.SetXForwarded()
		},
		Transport: newTransport(),
	}
}

// newTransport is http.DefaultTransport's setup, without a proxy from the
// environment, and with enough idle connections per host that every
// connection the load opens stays alive between requests (the default keeps
// only 2 per host, so a proxy under 64 concurrent requests would dial and
// close connections all the time).
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
