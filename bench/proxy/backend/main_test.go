package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBodyIs100Bytes(t *testing.T) {
	if got, want := len(body), 100; got != want {
		t.Fatalf("len(body) = %d, want %d", got, want)
	}
}

func TestHandler(t *testing.T) {
	tests := []struct {
		method   string
		wantCode int
		wantBody string
	}{
		{http.MethodGet, http.StatusOK, string(body)},
		{http.MethodHead, http.StatusOK, ""},
		{http.MethodPost, http.StatusMethodNotAllowed, "method not allowed\n"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		newHandler().ServeHTTP(rec, httptest.NewRequest(tt.method, "/", nil))
		if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
			t.Errorf("%s /: got %d %q, want %d %q", tt.method, rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
		}
		if tt.wantCode == http.StatusOK {
			if got, want := rec.Header().Get("Content-Length"), "100"; got != want {
				t.Errorf("%s /: Content-Length got %q, want %q", tt.method, got, want)
			}
		}
	}
}

// TestKeepAlive checks that consecutive requests reuse one connection.
func TestKeepAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: got %v, want http.ErrServerClosed", err)
		}
	}()

	var dials int
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	d := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return d.DialContext(ctx, network, addr)
	}
	client := &http.Client{Transport: tr}
	for range 5 {
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != string(body) {
			t.Fatalf("GET: got %q, %v; want the body", b, err)
		}
	}
	if dials != 1 {
		t.Errorf("dials: got %d, want 1 (keep-alive)", dials)
	}
}
