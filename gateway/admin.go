package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel/flags"
	"github.com/keelhq/keel/gateway/config"
	"github.com/keelhq/keel/gateway/upstream"
)

// maxAdminBody bounds the body of an admin request.
const maxAdminBody = 64 << 10

// adminHandler serves the admin API. Reads are open to whoever reaches the
// listener (127.0.0.1 by default); mutations need the bearer token, and are
// refused with 403 when none is configured.
func (g *Gateway) adminHandler(a config.Admin) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.readyz)
	if g.prom != nil {
		mux.Handle("GET /metrics", g.prom)
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, g.Status()) })
	mux.HandleFunc("GET /events", g.listEvents)
	mux.HandleFunc("GET /flags", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, g.flagStatus()) })

	auth := bearer(a.Token)
	mux.Handle("POST /flags/{name}", auth(http.HandlerFunc(g.postFlag)))
	mux.Handle("DELETE /flags/{name}", auth(http.HandlerFunc(g.deleteFlag)))
	mux.Handle("POST /upstreams/{upstream}/hosts/{host}/drain", auth(http.HandlerFunc(g.postDrain)))
	mux.Handle("POST /upstreams/{upstream}/hosts/{host}/breaker", auth(http.HandlerFunc(g.postBreaker)))
	mux.Handle("POST /reload", auth(http.HandlerFunc(g.postReload)))
	mux.Handle("POST /events", auth(http.HandlerFunc(g.postEvent)))
	mux.HandleFunc("GET /series", g.getSeries)
	mux.HandleFunc("GET /faults", g.getFaults)
	mux.Handle("POST /faults", auth(http.HandlerFunc(g.postFault)))
	mux.Handle("DELETE /faults/{id}", auth(http.HandlerFunc(g.deleteFault)))
	mux.Handle("DELETE /faults", auth(http.HandlerFunc(g.deleteFaults)))
	if a.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	for _, x := range g.extra {
		mux.Handle(x.pattern, x.handler)
	}
	return mux
}

// adminRoute is a handler added to the admin API.
type adminRoute struct {
	pattern string
	handler http.Handler
}

// HandleAdmin adds a handler to the admin API (a dashboard, say), with the
// patterns of http.ServeMux. It must be called before Start; the gateway's
// own routes take precedence where patterns overlap equally. A handler with
// a Shutdown(context.Context) error method is shut down with the gateway,
// before the admin listener closes.
func (g *Gateway) HandleAdmin(pattern string, h http.Handler) {
	g.extra = append(g.extra, adminRoute{pattern: pattern, handler: h})
}

// Series returns the gateway's per-second request statistics from since to
// the last complete second, oldest first, for at most the last 15 minutes.
func (g *Gateway) Series(since time.Time) []Point { return g.series.points(since, time.Now()) }

// AddEvent records an event that happened outside the gateway — a replica
// killed, a fault window opened — so that it shows in /events and on the
// dashboard's timeline next to the gateway's own.
func (g *Gateway) AddEvent(e Event) { g.events.add(e) }

func (g *Gateway) getSeries(w http.ResponseWriter, r *http.Request) {
	since := time.Now().Add(-5 * time.Minute)
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, "since: want an RFC 3339 time")
			return
		}
		since = t
	}
	pts := g.Series(since)
	if pts == nil {
		pts = []Point{}
	}
	writeJSON(w, http.StatusOK, pts)
}

// postEvent records an external event: {"kind": "replica_killed", "detail": "payments-2 (SIGKILL)"}.
func (g *Gateway) postEvent(w http.ResponseWriter, r *http.Request) {
	var e Event
	if !decodeJSON(w, r, &e) {
		return
	}
	if e.Kind == "" || len(e.Kind) > 64 || len(e.Detail) > 1024 {
		writeAdminError(w, http.StatusBadRequest, "kind is required (at most 64 bytes), detail at most 1024 bytes")
		return
	}
	e.Seq = 0
	if e.Time.IsZero() || e.Time.After(time.Now().Add(time.Minute)) {
		e.Time = time.Now()
	}
	g.events.add(e)
	w.WriteHeader(http.StatusNoContent)
}

// bearer guards mutations with the admin token.
func bearer(token string) func(http.Handler) http.Handler {
	want := []byte(token)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(want) == 0 {
				writeAdminError(w, http.StatusForbidden, "admin mutations are disabled: set admin.token (or admin.token_file)")
				return
			}
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="keel-admin"`)
				writeAdminError(w, http.StatusUnauthorized, "a valid bearer token is required")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
			next.ServeHTTP(w, r)
		})
	}
}

func (g *Gateway) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if g.draining.Load() {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Status is the gateway's state as the admin API's /status shows it.
type Status struct {
	Started         time.Time         `json:"started"`
	Draining        bool              `json:"draining"`
	Reloads         int64             `json:"reloads"`
	LastReloadError string            `json:"last_reload_error,omitempty"`
	Routes          []RouteStatus     `json:"routes"`
	Upstreams       []upstream.Status `json:"upstreams"`
	Flags           []flags.Flag      `json:"flags"`
	Admission       *AdmissionStatus  `json:"admission,omitempty"`
}

// RouteStatus is one route in Status.
type RouteStatus struct {
	Name     string          `json:"name"`
	Upstream string          `json:"upstream"`
	Flag     string          `json:"flag,omitempty"`
	Bulkhead *BulkheadStatus `json:"bulkhead,omitempty"`
	Cache    *CacheStatus    `json:"cache,omitempty"`
}

// BulkheadStatus is a bulkhead's use.
type BulkheadStatus struct {
	InFlight int `json:"in_flight"`
	Queued   int `json:"queued"`
	Max      int `json:"max"`
}

// CacheStatus is a route cache's size and counters.
type CacheStatus struct {
	Entries int `json:"entries"`
	Stats   any `json:"stats"`
}

// AdmissionStatus is the gateway-wide admission's use.
type AdmissionStatus struct {
	ShedInFlight  int `json:"shed_in_flight,omitempty"`
	ShedCapacity  int `json:"shed_capacity,omitempty"`
	Limit         int `json:"limit,omitempty"`
	LimitInFlight int `json:"limit_in_flight,omitempty"`
	LimitQueued   int `json:"limit_queued,omitempty"`
}

// Status returns a snapshot of the gateway's routes, upstream hosts, flags
// and admission.
func (g *Gateway) Status() Status {
	rt := g.current.Load()
	g.mu.Lock()
	st := Status{Started: g.started, Draining: g.draining.Load(), Reloads: g.reloads, LastReloadError: g.lastErr}
	g.mu.Unlock()
	for _, r := range rt.routes {
		rs := RouteStatus{Name: r.name, Upstream: r.upstream, Flag: r.flag}
		if r.bulkhead != nil {
			rs.Bulkhead = &BulkheadStatus{InFlight: r.bulkhead.InFlight(), Queued: r.bulkhead.Queued(), Max: rt.cfgRoute(r.name).Bulkhead.MaxConcurrent}
		}
		if r.cache != nil {
			rs.Cache = &CacheStatus{Entries: r.cache.Len(), Stats: r.cache.Stats()}
		}
		st.Routes = append(st.Routes, rs)
	}
	names := make([]string, 0, len(rt.pools))
	for name := range rt.pools {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st.Upstreams = append(st.Upstreams, rt.pools[name].Status())
	}
	st.Flags = g.flags.List()
	if a := rt.admission; a != nil {
		as := &AdmissionStatus{}
		if a.shedder != nil {
			as.ShedInFlight, as.ShedCapacity = a.shedder.InFlight(), a.shedder.Capacity()
		}
		if a.limiter != nil {
			as.Limit, as.LimitInFlight, as.LimitQueued = a.limiter.Limit(), a.limiter.InFlight(), a.limiter.Queued()
		}
		st.Admission = as
	}
	return st
}

// cfgRoute returns the configuration of the route called name.
func (rt *runtime) cfgRoute(name string) *config.Route {
	for i := range rt.cfg.Routes {
		if rt.cfg.Routes[i].Name == name {
			return &rt.cfg.Routes[i]
		}
	}
	return &config.Route{}
}

func (g *Gateway) flagStatus() []flags.Flag { return g.flags.List() }

// Events returns the kept events with a sequence number above since,
// oldest first, and a channel closed when a newer one is added.
func (g *Gateway) Events(since uint64) ([]Event, <-chan struct{}) { return g.events.since(since) }

func (g *Gateway) listEvents(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, "since: not a sequence number")
			return
		}
		since = n
	}
	evs, _ := g.events.since(since)
	if evs == nil {
		evs = []Event{}
	}
	writeJSON(w, http.StatusOK, evs)
}

// flagRequest is the body of POST /flags/{name}.
type flagRequest struct {
	Enabled     *bool   `json:"enabled"`
	Percent     *string `json:"percent"` // "25%"
	Description *string `json:"description"`
}

func (g *Gateway) postFlag(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req flagRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	f, ok := g.flags.Get(name)
	if !ok {
		f = flags.Flag{Name: name, Enabled: true, Percent: 1}
	}
	if req.Enabled != nil {
		f.Enabled = *req.Enabled
	}
	if req.Percent != nil {
		p, err := config.ParsePercent(*req.Percent)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, "percent: "+err.Error())
			return
		}
		f.Percent = p.Fraction()
	}
	if req.Description != nil {
		f.Description = *req.Description
	}
	if err := g.SetFlag(f); err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	got, _ := g.flags.Get(name)
	writeJSON(w, http.StatusOK, got)
}

func (g *Gateway) deleteFlag(w http.ResponseWriter, r *http.Request) {
	if err := g.ResetFlag(r.PathValue("name")); err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// poolFor returns the current pool of the upstream named in the path.
func (g *Gateway) poolFor(w http.ResponseWriter, r *http.Request) (*upstream.Pool, bool) {
	name := r.PathValue("upstream")
	p, ok := g.current.Load().pools[name]
	if !ok {
		writeAdminError(w, http.StatusNotFound, fmt.Sprintf("no upstream %q", name))
		return nil, false
	}
	return p.Pool, true
}

func (g *Gateway) postDrain(w http.ResponseWriter, r *http.Request) {
	p, ok := g.poolFor(w, r)
	if !ok {
		return
	}
	var req struct {
		Drain *bool `json:"drain"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	on := req.Drain == nil || *req.Drain
	host := r.PathValue("host")
	if err := p.Drain(host, on); err != nil {
		writeAdminError(w, http.StatusNotFound, err.Error())
		return
	}
	g.logger.InfoContext(r.Context(), "host drain changed by admin", slog.String("upstream", r.PathValue("upstream")), slog.String("host", host), slog.Bool("drain", on))
	writeJSON(w, http.StatusOK, map[string]any{"upstream": r.PathValue("upstream"), "host": host, "drained": on})
}

func (g *Gateway) postBreaker(w http.ResponseWriter, r *http.Request) {
	p, ok := g.poolFor(w, r)
	if !ok {
		return
	}
	host := r.PathValue("host")
	b, ok := p.Breaker(host)
	if !ok {
		writeAdminError(w, http.StatusNotFound, fmt.Sprintf("no breaker for host %q", host))
		return
	}
	var req struct {
		State string `json:"state"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	switch req.State {
	case "open", "forced_open":
		b.ForceOpen()
	case "closed", "reset":
		b.Reset()
	case "disabled":
		b.Disable()
	default:
		writeAdminError(w, http.StatusBadRequest, `state: want "open", "closed" or "disabled"`)
		return
	}
	g.events.add(Event{Kind: "breaker_admin", Upstream: r.PathValue("upstream"), Host: host, Detail: "set to " + req.State + " by admin"})
	g.logger.InfoContext(r.Context(), "breaker set by admin", slog.String("upstream", r.PathValue("upstream")), slog.String("host", host), slog.String("state", req.State))
	writeJSON(w, http.StatusOK, map[string]any{"upstream": r.PathValue("upstream"), "host": host, "breaker": b.State().String()})
}

func (g *Gateway) postReload(w http.ResponseWriter, _ *http.Request) {
	if err := g.ReloadFile(); err != nil {
		writeAdminError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reloaded": true})
}

// decodeJSON reads a JSON body into v; an empty body leaves v as it is.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		writeAdminError(w, status, "body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeAdminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
