package experiment

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/keelhq/keel/chaos"
)

// fakeWorld stands for everything an experiment talks to: a gateway with
// an admin API and an items route, a TCP fault proxy's API, and the
// processes of services. Every HTTP request is served in memory, so that
// runs work inside testing/synctest.
type fakeWorld struct {
	mu       sync.Mutex
	calls    []string // admin calls, in order: "POST /faults", "DELETE /faults/error-1", ...
	events   []string // "kind: detail"
	faults   map[string]int
	nextID   int
	served   int
	down     bool // /items answers 503 to everything
	dupes    int  // /check reports this many duplicates
	proxies  map[string]bool
	starts   []string
	signals  []string
	startErr map[string]error // the first start fails
	againErr map[string]error // a restart fails
	dieAt    map[string]bool  // services whose process exits at once
	stubborn map[string]bool  // services whose process ignores SIGTERM
	procs    []*fakeProc
}

func newFakeWorld() *fakeWorld {
	return &fakeWorld{faults: map[string]int{}, proxies: map[string]bool{}, startErr: map[string]error{}, againErr: map[string]error{}, dieAt: map[string]bool{}, stubborn: map[string]bool{}}
}

func (w *fakeWorld) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	path := r.URL.Path
	call := r.Method + " " + r.URL.Host + path
	switch path {
	case "/items":
		w.served++
		fail := w.down
		for _, pct := range w.faults {
			// Exactly pct of every 100 requests, spread evenly.
			if w.served*pct/100 != (w.served-1)*pct/100 {
				fail = true
			}
		}
		if fail {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(rw, `{"items": []}`)
		return
	case "/healthz":
		return
	case "/check":
		_, _ = fmt.Fprintf(rw, `{"ledger": {"dupes": %d}}`, w.dupes)
		return
	case "/ok":
		w.calls = append(w.calls, call)
		return
	case "/fail":
		w.calls = append(w.calls, call)
		rw.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(rw, "boom")
		return
	}
	if r.Header.Get("Authorization") != "Bearer secret" && !strings.HasPrefix(path, "/proxies/") {
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && path == "/events":
		var e struct{ Kind, Detail string }
		_ = json.Unmarshal(body, &e)
		w.events = append(w.events, e.Kind+": "+e.Detail)
		rw.WriteHeader(http.StatusNoContent)
		return
	case r.Method == http.MethodPost && path == "/faults":
		var f chaos.Fault
		if err := json.Unmarshal(body, &f); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.nextID++
		f.ID = fmt.Sprintf("%s-%d", f.Kind, w.nextID)
		pct := 100
		if f.Percent != nil {
			pct = int(*f.Percent)
		}
		w.faults[f.ID] = pct
		rw.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(rw).Encode(f)
	case r.Method == http.MethodDelete && path == "/faults":
		clear(w.faults)
		rw.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/faults/"):
		id := strings.TrimPrefix(path, "/faults/")
		if _, ok := w.faults[id]; !ok {
			rw.WriteHeader(http.StatusNotFound)
			break
		}
		delete(w.faults, id)
		rw.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/proxies/"):
		var p struct{ Enabled bool }
		_ = json.Unmarshal(body, &p)
		w.proxies[strings.TrimPrefix(path, "/proxies/")] = p.Enabled
		call += fmt.Sprintf(" enabled=%t", p.Enabled)
	default:
		rw.WriteHeader(http.StatusNotFound)
	}
	w.calls = append(w.calls, call)
}

// client returns an http.Client whose requests w serves in memory.
func (w *fakeWorld) client() *http.Client {
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
		if r.Body == nil {
			r.Body = http.NoBody
		}
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// start is the runner's starter: it makes fake processes.
func (w *fakeWorld) start(svc *Service, _ io.Writer) (process, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.startErr[svc.Name]; err != nil {
		return nil, err
	}
	for _, s := range w.starts {
		if err := w.againErr[svc.Name]; s == svc.Name && err != nil {
			return nil, err
		}
	}
	w.starts = append(w.starts, svc.Name)
	p := &fakeProc{w: w, name: svc.Name, pid: 100 + len(w.starts), done: make(chan struct{})}
	w.procs = append(w.procs, p)
	if w.dieAt[svc.Name] {
		p.exit = "exit status 1"
		close(p.done)
	}
	return p, nil
}

// running returns the names of the processes that have not exited.
func (w *fakeWorld) running() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, p := range w.procs {
		select {
		case <-p.done:
		default:
			out = append(out, p.name)
		}
	}
	return out
}

type fakeProc struct {
	w    *fakeWorld
	name string
	pid  int
	once sync.Once
	done chan struct{}
	exit string
}

func (p *fakeProc) PID() int              { return p.pid }
func (p *fakeProc) Done() <-chan struct{} { return p.done }
func (p *fakeProc) Exit() string          { <-p.done; return p.exit }

func (p *fakeProc) Signal(sig syscall.Signal) error {
	p.w.mu.Lock()
	p.w.signals = append(p.w.signals, fmt.Sprintf("%s %s", p.name, signalName(sig)))
	stubborn := p.w.stubborn[p.name]
	p.w.mu.Unlock()
	switch {
	case sig == syscall.SIGKILL, !stubborn && (sig == syscall.SIGTERM || sig == syscall.SIGINT):
		p.once.Do(func() {
			p.exit = "signal: " + signalName(sig)
			close(p.done)
		})
	}
	return nil
}

// newTestRunner returns a runner of x wired to w.
func newTestRunner(t *testing.T, w *fakeWorld, x Experiment) *Runner {
	t.Helper()
	r, err := New(Config{Experiment: &x, Client: w.client(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r.start = w.start
	return r
}
