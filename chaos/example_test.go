package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/chaos"
)

var logger = slog.New(slog.DiscardHandler)

// An Injector in a chain fails operations before they run.
func ExampleInjector_Do() {
	errDown := errors.New("database down")
	in := chaos.MustNew(chaos.Config{
		Seed:   1,
		Logger: logger,
		Faults: []chaos.Fault{{ID: "db", Kind: chaos.KindError, Err: errDown}},
	})
	err := keel.Chain(in).Do(context.Background(), func(context.Context) error {
		fmt.Println("not reached")
		return nil
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, errDown), errors.Is(err, chaos.ErrInjected))
	// Output:
	// chaos: injected error fault "db": database down
	// true true
}

// The middleware answers matching requests with an error.
func ExampleInjector_Middleware() {
	in := chaos.MustNew(chaos.Config{Seed: 1, Logger: logger})
	if _, err := in.Add(chaos.Fault{Kind: chaos.KindError, Status: 503, PathPrefix: "/api/"}); err != nil {
		panic(err)
	}
	h := in.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	for _, path := range []string{"/api/orders", "/health"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Print(path, " ", w.Code, " ", w.Body.String())
	}
	// Output:
	// /api/orders 503 503 Service Unavailable
	// /health 200 ok
}

// The transport makes a client see connection resets.
func ExampleInjector_Transport() {
	in := chaos.MustNew(chaos.Config{
		Seed:   1,
		Logger: logger,
		Faults: []chaos.Fault{{ID: "reset", Kind: chaos.KindAbort}},
	})
	client := &http.Client{Transport: in.Transport(nil)}
	resp, err := client.Get("http://127.0.0.1:1/") // never dialed
	if err == nil {
		resp.Body.Close()
	}
	fmt.Println(errors.Is(err, syscall.ECONNRESET))
	// Output:
	// true
}

// Faults read and write as JSON, with durations as strings.
func ExampleFault_json() {
	var f chaos.Fault
	err := json.Unmarshal([]byte(`{"kind":"latency","latency":"250ms","jitter":"50ms","percent":10}`), &f)
	fmt.Println(err, f.Validate(), f.Latency, *f.Percent)
	// Output:
	// <nil> <nil> 250ms 10
}

// With header-driven faults enabled, a client asks for its own fault.
func ExampleHeaderConfig() {
	in := chaos.MustNew(chaos.Config{Seed: 1, Logger: logger, Headers: chaos.HeaderConfig{Enabled: true}, MaxActive: 10})
	h := in.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(chaos.HeaderAbortStatus, "429")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, in.Stats().ErrorsInjected)
	// Output:
	// 429 1
}
