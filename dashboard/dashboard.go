package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/keelhq/keel/gateway"
)

// Source is what the dashboard reads. *gateway.Gateway implements it. Its
// methods are called from request goroutines, concurrently.
type Source interface {
	// Status returns a snapshot of routes, upstream hosts, flags and
	// admission.
	Status() gateway.Status
	// Events returns the kept events with a sequence number above since,
	// oldest first, and a channel closed when a newer one is added.
	Events(since uint64) ([]gateway.Event, <-chan struct{})
	// Series returns one point per second from since on, oldest first.
	Series(since time.Time) []gateway.Point
}

// Defaults of Config's zero values.
const (
	DefaultInterval   = time.Second
	DefaultHistory    = 5 * time.Minute
	DefaultTitle      = "Keel"
	DefaultMaxStreams = 16
)

// heartbeat is how often an idle stream sends a comment line, so that
// proxies and browsers keep the connection open and a client that went away
// is noticed.
const heartbeat = 15 * time.Second

// writeTimeout bounds one write to a stream: a client that stops reading
// loses its stream instead of holding a slot.
const writeTimeout = 10 * time.Second

// Config configures a Dashboard. The zero value is ready to use.
type Config struct {
	// Interval is how often a stream sends a snapshot. Zero means
	// DefaultInterval (1s); otherwise at least 100ms.
	Interval time.Duration
	// History is how far back the charts reach: the span of points
	// /api/snapshot returns and a new stream starts with. Zero means
	// DefaultHistory (5m); otherwise at least Interval and at most 1h (the
	// gateway keeps 15 minutes).
	History time.Duration
	// Title is the page's title. Empty means DefaultTitle ("Keel").
	Title string
	// MaxStreams caps the /api/stream connections open at once; more are
	// refused with 503. Zero means DefaultMaxStreams (16).
	MaxStreams int
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < 100*time.Millisecond) {
		return fmt.Errorf("dashboard: Interval %v: want 0 (1s) or at least 100ms", c.Interval)
	}
	if c.History < 0 || c.History > time.Hour {
		return fmt.Errorf("dashboard: History %v: want 0 (5m) or up to 1h", c.History)
	}
	if c.History > 0 && c.History < c.withDefaults().Interval {
		return fmt.Errorf("dashboard: History %v is shorter than Interval %v", c.History, c.withDefaults().Interval)
	}
	if c.MaxStreams < 0 {
		return fmt.Errorf("dashboard: MaxStreams %d: want 0 (16) or more", c.MaxStreams)
	}
	if len(c.Title) > 200 {
		return fmt.Errorf("dashboard: Title is %d bytes long: want at most 200", len(c.Title))
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.Title == "" {
		c.Title = DefaultTitle
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	return c
}

// Refusals of /api/stream, sent to the client with 503.
var (
	errClosed = errors.New("dashboard: shutting down")
	errBusy   = errors.New("dashboard: too many open streams")
)

// Dashboard serves the page, its assets and its feed. It is an
// http.Handler, safe for concurrent use; build it with New. Its zero value
// is not usable.
type Dashboard struct {
	src    Source
	cfg    Config
	mux    *http.ServeMux
	assets *assets

	mu      sync.Mutex
	streams int           // open streams
	closing bool          // Shutdown was called
	done    chan struct{} // closed by Shutdown: streams end
	idle    chan struct{} // closed once closing and no stream is open
}

// New returns a Dashboard reading src, or the error of cfg.Validate.
func New(src Source, cfg Config) (*Dashboard, error) {
	if src == nil {
		return nil, errors.New("dashboard: nil Source")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a, err := loadAssets(cfg.Title)
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		src:    src,
		cfg:    cfg,
		assets: a,
		done:   make(chan struct{}),
		idle:   make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.assets.serveIndex)
	mux.HandleFunc("GET /assets/", d.assets.serveAsset)
	mux.HandleFunc("GET /api/snapshot", d.serveSnapshot)
	mux.HandleFunc("GET /api/stream", d.serveStream)
	d.mux = mux
	return d, nil
}

// MustNew is New that panics on an invalid Config or a nil Source.
func MustNew(src Source, cfg Config) *Dashboard {
	d, err := New(src, cfg)
	if err != nil {
		panic(err)
	}
	return d
}

// ServeHTTP serves GET / (the page), GET /assets/..., GET /api/snapshot and
// GET /api/stream; anything else is 404 (405 for other methods).
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	d.mux.ServeHTTP(w, r)
}

// Shutdown ends the open streams, refuses new ones with 503, and waits until
// every stream handler has returned or ctx is done, whichever comes first.
// The page, assets and snapshot keep being served. Call it before (or from
// http.Server.RegisterOnShutdown of) the server's Shutdown: a server waits
// for streams, which never go idle on their own. Calling it again is safe.
func (d *Dashboard) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if !d.closing {
		d.closing = true
		close(d.done)
		if d.streams == 0 {
			close(d.idle)
		}
	}
	d.mu.Unlock()
	select {
	case <-d.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire takes a stream slot.
func (d *Dashboard) acquire() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return errClosed
	}
	if d.streams >= d.cfg.MaxStreams {
		return errBusy
	}
	d.streams++
	return nil
}

// release gives a stream slot back.
func (d *Dashboard) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.streams--
	if d.closing && d.streams == 0 {
		close(d.idle)
	}
}

// Snapshot is the body of GET /api/snapshot.
type Snapshot struct {
	Title      string          `json:"title"`
	Time       time.Time       `json:"time"`
	IntervalMS int64           `json:"interval_ms"`
	HistoryMS  int64           `json:"history_ms"`
	Status     gateway.Status  `json:"status"`
	Series     []gateway.Point `json:"series"`
	Events     []gateway.Event `json:"events"`
}

// snapshot reads the source.
func (d *Dashboard) snapshot() Snapshot {
	now := time.Now()
	evs, _ := d.src.Events(0)
	s := Snapshot{
		Title:      d.cfg.Title,
		Time:       now,
		IntervalMS: d.cfg.Interval.Milliseconds(),
		HistoryMS:  d.cfg.History.Milliseconds(),
		Status:     d.src.Status(),
		Series:     d.src.Series(now.Add(-d.cfg.History)),
		Events:     evs,
	}
	if s.Series == nil {
		s.Series = []gateway.Point{}
	}
	if s.Events == nil {
		s.Events = []gateway.Event{}
	}
	return s
}

func (d *Dashboard) serveSnapshot(w http.ResponseWriter, _ *http.Request) {
	body, err := json.Marshal(d.snapshot())
	if err != nil {
		http.Error(w, "dashboard: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}
