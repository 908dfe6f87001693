package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// behavior is what /_control sets.
type behavior struct {
	Status      int `json:"status"`
	DelayMS     int `json:"delay_ms"`
	FailPercent int `json:"fail_percent"`
}

// backend is the server's state. It is safe for concurrent use.
type backend struct {
	name     string
	requests atomic.Int64

	mu      sync.Mutex
	b       behavior
	applied map[string]int
	charges int
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "`host:port` to listen on")
	name := flag.String("name", "backend", "name reported in response bodies")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("testbackend " + *name + ": ")
	if err := run(*addr, *name); err != nil {
		log.Fatal(err)
	}
}

func run(addr, name string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	be := &backend{name: name, applied: map[string]int{}}
	srv := &http.Server{Handler: be.handler(), ReadHeaderTimeout: 5 * time.Second}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-sigs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (be *backend) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /_control", func(w http.ResponseWriter, _ *http.Request) {
		be.mu.Lock()
		b := be.b
		be.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"behavior": b, "requests": be.requests.Load()})
	})
	mux.HandleFunc("POST /_control", func(w http.ResponseWriter, r *http.Request) {
		var b behavior
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if b.Status != 0 && (b.Status < 100 || b.Status > 599) || b.DelayMS < 0 || b.FailPercent < 0 || b.FailPercent > 100 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "status 100-599, delay_ms >= 0, fail_percent 0-100"})
			return
		}
		be.mu.Lock()
		be.b = b
		be.mu.Unlock()
		writeJSON(w, http.StatusOK, b)
	})
	mux.HandleFunc("GET /_applied", func(w http.ResponseWriter, _ *http.Request) {
		be.mu.Lock()
		m := make(map[string]int, len(be.applied))
		for k, v := range be.applied {
			m[k] = v
		}
		be.mu.Unlock()
		writeJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("POST /charges", func(w http.ResponseWriter, r *http.Request) {
		status, ok := be.behave(r)
		if !ok {
			return
		}
		if status != http.StatusOK {
			writeJSON(w, status, map[string]string{"backend": be.name, "error": "failing on purpose"})
			return
		}
		key := r.Header.Get("Idempotency-Key")
		be.mu.Lock()
		be.applied[key]++
		be.charges++
		n := be.charges
		be.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]any{"backend": be.name, "key": key, "charge": n})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		status, ok := be.behave(r)
		if !ok {
			return
		}
		writeJSON(w, status, map[string]string{"backend": be.name, "path": r.URL.Path})
	})
	return mux
}

// behave counts a request, waits its delay and returns the status to answer
// with; ok is false when the client went away during the delay.
func (be *backend) behave(r *http.Request) (status int, ok bool) {
	be.requests.Add(1)
	be.mu.Lock()
	b := be.b
	be.mu.Unlock()
	if b.DelayMS > 0 {
		t := time.NewTimer(time.Duration(b.DelayMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return 0, false
		}
	}
	if b.FailPercent > 0 && rand.IntN(100) < b.FailPercent {
		return http.StatusInternalServerError, true
	}
	if b.Status == 0 {
		return http.StatusOK, true
	}
	return b.Status, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
