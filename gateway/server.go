package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel/gateway/config"
	"github.com/keelhq/keel/gateway/internal/h1"
	"github.com/keelhq/keel/telemetry"
)

// NewLogger returns the logger a gateway configured by t writes to w: JSON
// or text at the configured level, with trace_id and span_id added from
// each record's context.
func NewLogger(t config.Telemetry, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(t.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if t.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	name := t.ServiceName
	if name == "" {
		name = "keel-gateway"
	}
	return slog.New(telemetry.NewLogHandler(h)).With(slog.String("service", name))
}

// server is the proxy listener's server: Keel's HTTP/1.x server
// (h1.Server) or net/http's.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// tlsServer serves HTTPS with the certificate in its TLSConfig.
type tlsServer struct{ *http.Server }

func (s tlsServer) Serve(ln net.Listener) error { return s.ServeTLS(ln, "", "") }

// newServer builds the proxy listener's server from the listen section:
// Keel's own HTTP/1.x server on a plain listener unless server: net/http,
// net/http's with TLS or h2c.
func newServer(l config.Listen, h http.Handler, logger *slog.Logger) (server, error) {
	// Both servers take the same limits; h1.Server's fields mirror
	// http.Server's.
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(l.ReadHeaderTimeout.Std(), 10*time.Second),
		ReadTimeout:       orDefault(l.ReadTimeout.Std(), 60*time.Second),
		WriteTimeout:      l.WriteTimeout.Std(),
		IdleTimeout:       orDefault(l.IdleTimeout.Std(), 120*time.Second),
		MaxHeaderBytes:    maxHeaderBytes(l),
		ErrorLog:          slogErrorLog(logger),
	}
	if l.TLS == nil && !l.H2C && l.Server != "net/http" {
		return &h1.Server{
			Handler:           srv.Handler,
			ReadHeaderTimeout: srv.ReadHeaderTimeout,
			ReadTimeout:       srv.ReadTimeout,
			WriteTimeout:      srv.WriteTimeout,
			IdleTimeout:       srv.IdleTimeout,
			MaxHeaderBytes:    srv.MaxHeaderBytes,
			ErrorLog:          srv.ErrorLog,
		}, nil
	}
	if l.TLS == nil {
		if l.H2C {
			p := new(http.Protocols)
			p.SetHTTP1(true)
			p.SetUnencryptedHTTP2(true)
			srv.Protocols = p
		}
		return srv, nil
	}
	cert, err := tls.LoadX509KeyPair(l.TLS.CertFile, l.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("listen.tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if l.TLS.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if l.HTTP2 == nil || *l.HTTP2 {
		tc.NextProtos = []string{"h2", "http/1.1"}
	} else {
		tc.NextProtos = []string{"http/1.1"}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // no HTTP/2
	}
	srv.TLSConfig = tc
	return tlsServer{srv}, nil
}

func maxHeaderBytes(l config.Listen) int {
	if n := int(l.MaxHeaderBytes.Bytes()); n > 0 {
		return n
	}
	return 64 << 10
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// slogErrorLog routes net/http's own error log (TLS handshake errors,
// hijack failures) to logger at debug level: they are the clients' faults.
func slogErrorLog(logger *slog.Logger) *log.Logger {
	return slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
}
