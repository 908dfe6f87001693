package tcpproxy

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Version is what GET /version answers: the Toxiproxy API version the
// server is compatible with.
const Version = "2.5.0-keel"

// Config configures a [Server]. The zero Config is valid.
type Config struct {
	// Seed seeds the generator behind toxicity draws, latency jitter and
	// slice sizes. Zero picks a random seed. The seed in use is logged when
	// the Server is created and returned by Server.Seed.
	Seed uint64
	// DialTimeout bounds the dial to a proxy's upstream. Zero means 10s.
	DialTimeout time.Duration
	// Logger receives the seed and proxy starts and stops. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Validate reports the first invalid field of c, or nil.
func (c *Config) Validate() error {
	if c.DialTimeout < 0 {
		return fmt.Errorf("tcpproxy: Config.DialTimeout must be >= 0, got %v", c.DialTimeout)
	}
	return nil
}

// Proxy is a named TCP proxy from a listen address to an upstream address,
// with its toxics. It reads and writes as Toxiproxy's JSON.
type Proxy struct {
	// Name identifies the proxy. Required.
	Name string `json:"name"`
	// Listen is the address the proxy listens on, such as
	// "127.0.0.1:26379"; port 0 picks a free port, and Listen then reads
	// back as the address in use.
	Listen string `json:"listen"`
	// Upstream is the address connections are forwarded to. Required.
	Upstream string `json:"upstream"`
	// Enabled is whether the proxy listens. A disabled proxy refuses
	// connections ("down").
	Enabled bool `json:"enabled"`
	// Toxics are the proxy's toxics, in the order they apply. When creating
	// a proxy, toxics listed here are in place before the proxy accepts its
	// first connection.
	Toxics []Toxic `json:"toxics"`
}

// Server is a set of TCP fault proxies and the Toxiproxy-compatible HTTP
// API that controls them: ServeHTTP serves the API. Its methods are the same
// operations for Go callers.
//
// The zero Server is not usable; create one with [New]. A Server is safe
// for concurrent use. Close stops every proxy and waits for their
// connections to end.
type Server struct {
	logger      *slog.Logger
	seed        uint64
	dialTimeout time.Duration
	mux         *http.ServeMux

	rngMu sync.Mutex
	rng   *rand.Rand

	mu      sync.Mutex // serializes control operations; guards proxies and closed
	proxies map[string]*proxy
	closed  bool
}

// New returns a Server configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		logger:      cfg.Logger,
		seed:        seed,
		dialTimeout: cfg.DialTimeout,
		rng:         rand.New(rand.NewPCG(seed, seed)),
		proxies:     make(map[string]*proxy),
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.dialTimeout == 0 {
		s.dialTimeout = 10 * time.Second
	}
	s.mux = s.routes()
	s.logger.Info("tcpproxy: server created", slog.Uint64("seed", seed))
	return s, nil
}

// MustNew is like New but panics if cfg is invalid.
func MustNew(cfg Config) *Server {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Seed returns the seed of the Server's generator.
func (s *Server) Seed() uint64 { return s.seed }

// Close stops every proxy, closes their connections and waits for the
// goroutines serving them to return. Afterwards every method returns
// ErrClosed. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, p := range s.proxies {
		p.stop()
	}
	return nil
}

// Proxies returns every proxy, sorted by name.
func (s *Server) Proxies() ([]Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	out := make([]Proxy, 0, len(s.proxies))
	for _, p := range s.proxies {
		out = append(out, p.info())
	}
	slices.SortFunc(out, func(a, b Proxy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Proxy returns the proxy with the given name.
func (s *Server) Proxy(name string) (Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getLocked(name)
	if err != nil {
		return Proxy{}, err
	}
	return p.info(), nil
}

// CreateProxy creates a proxy with p's toxics in place, and starts it if
// p.Enabled. It returns the proxy as created, with Listen resolved.
func (s *Server) CreateProxy(p Proxy) (Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Proxy{}, ErrClosed
	}
	if _, ok := s.proxies[p.Name]; ok {
		return Proxy{}, fmt.Errorf("%w: %q", ErrProxyExists, p.Name)
	}
	np, err := s.newProxyLocked(p)
	if err != nil {
		return Proxy{}, err
	}
	s.proxies[p.Name] = np
	return np.info(), nil
}

func (s *Server) newProxyLocked(p Proxy) (*proxy, error) {
	if p.Name == "" {
		return nil, fmt.Errorf("%w: missing required field: name", ErrBadRequest)
	}
	if p.Upstream == "" {
		return nil, fmt.Errorf("%w: missing required field: upstream", ErrBadRequest)
	}
	set := &toxicSet{}
	for _, t := range p.Toxics {
		if err := t.normalize(); err != nil {
			return nil, err
		}
		if set.find(t.Name) >= 0 {
			return nil, fmt.Errorf("%w: %q", ErrToxicExists, t.Name)
		}
		set.all = append(set.all, newToxic(t.clone()))
	}
	np := &proxy{s: s, name: p.Name, listen: p.Listen, upstream: p.Upstream}
	np.toxics.Store(set)
	if p.Enabled {
		if err := np.start(); err != nil {
			return nil, err
		}
	}
	return np, nil
}

// UpdateProxy sets the listen address, upstream and enabled state of the
// proxy named name to those of p (p.Name and p.Toxics are ignored). Changing
// Listen or Upstream restarts the proxy and drops its connections; disabling
// it drops them too.
func (s *Server) UpdateProxy(name string, p Proxy) (Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.getLocked(name)
	if err != nil {
		return Proxy{}, err
	}
	if p.Upstream == "" {
		return Proxy{}, fmt.Errorf("%w: missing required field: upstream", ErrBadRequest)
	}
	if p.Listen != cur.listen || p.Upstream != cur.upstream {
		cur.stop()
		cur.listen, cur.upstream = p.Listen, p.Upstream
	}
	switch {
	case p.Enabled && cur.run == nil:
		if err := cur.start(); err != nil {
			return cur.info(), err
		}
	case !p.Enabled && cur.run != nil:
		cur.stop()
	}
	return cur.info(), nil
}

// DeleteProxy stops the proxy named name, drops its connections and
// forgets it.
func (s *Server) DeleteProxy(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getLocked(name)
	if err != nil {
		return err
	}
	p.stop()
	delete(s.proxies, name)
	return nil
}

// Populate creates or replaces the proxies in ps, as POST /populate does: a
// proxy that exists with the same listen and upstream addresses is left as
// it is; one that differs is stopped and replaced. Every proxy is checked
// before any is changed. It returns the proxies, and on error those handled
// before it.
func (s *Server) Populate(ps []Proxy) ([]Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	for i, p := range ps {
		if p.Name == "" {
			return nil, fmt.Errorf("%w: missing required field: name at proxy %d", ErrBadRequest, i+1)
		}
		if p.Upstream == "" {
			return nil, fmt.Errorf("%w: missing required field: upstream at proxy %d", ErrBadRequest, i+1)
		}
	}
	out := make([]Proxy, 0, len(ps))
	for _, p := range ps {
		if cur, ok := s.proxies[p.Name]; ok {
			if cur.listen == p.Listen && cur.upstream == p.Upstream {
				out = append(out, cur.info())
				continue
			}
			cur.stop()
			delete(s.proxies, p.Name)
		}
		np, err := s.newProxyLocked(p)
		if err != nil {
			return out, err
		}
		s.proxies[p.Name] = np
		out = append(out, np.info())
	}
	return out, nil
}

// Toxics returns the toxics of the proxy named proxyName.
func (s *Server) Toxics(proxyName string) ([]Toxic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getLocked(proxyName)
	if err != nil {
		return nil, err
	}
	return p.toxics.Load().list(), nil
}

// Toxic returns the toxic named name of the proxy named proxyName.
func (s *Server) Toxic(proxyName, name string) (Toxic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getLocked(proxyName)
	if err != nil {
		return Toxic{}, err
	}
	set := p.toxics.Load()
	i := set.find(name)
	if i < 0 {
		return Toxic{}, fmt.Errorf("%w: %q", ErrToxicNotFound, name)
	}
	return set.all[i].clone(), nil
}

// AddToxic adds t after the toxics of the proxy named proxyName. It applies
// to the proxy's open connections at once, and to new ones. It returns the
// toxic as added, with defaults filled in.
func (s *Server) AddToxic(proxyName string, t Toxic) (Toxic, error) {
	if err := t.normalize(); err != nil {
		return Toxic{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getLocked(proxyName)
	if err != nil {
		return Toxic{}, err
	}
	set := p.toxics.Load()
	if set.find(t.Name) >= 0 {
		return Toxic{}, fmt.Errorf("%w: %q", ErrToxicExists, t.Name)
	}
	p.setToxics(&toxicSet{all: append(slices.Clip(set.all), newToxic(t.clone()))})
	return t, nil
}

// UpdateToxic replaces the toxicity and attributes of the toxic t.Name of
// the proxy named proxyName with t's (its type and stream do not change).
// Each connection draws again whether the updated toxic applies to it.
func (s *Server) UpdateToxic(proxyName string, t Toxic) (Toxic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getLocked(proxyName)
	if err != nil {
		return Toxic{}, err
	}
	set := p.toxics.Load()
	i := set.find(t.Name)
	if i < 0 {
		return Toxic{}, fmt.Errorf("%w: %q", ErrToxicNotFound, t.Name)
	}
	old := set.all[i]
	t.Type, t.Stream = old.Type, old.Stream
	if err := t.normalize(); err != nil {
		return Toxic{}, err
	}
	all := slices.Clone(set.all)
	all[i] = newToxic(t.clone())
	p.setToxics(&toxicSet{all: all})
	return t, nil
}

// RemoveToxic removes the toxic named name from the proxy named proxyName.
// It does not wait for connections to stop applying it.
func (s *Server) RemoveToxic(proxyName, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getLocked(proxyName)
	if err != nil {
		return err
	}
	set := p.toxics.Load()
	i := set.find(name)
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrToxicNotFound, name)
	}
	p.setToxics(&toxicSet{all: slices.Delete(slices.Clone(set.all), i, i+1)})
	return nil
}

// Reset enables every proxy and removes every toxic.
func (s *Server) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, p := range s.proxies {
		if p.run == nil {
			if err := p.start(); err != nil {
				return err
			}
		}
		if len(p.toxics.Load().all) > 0 {
			p.setToxics(&toxicSet{})
		}
	}
	return nil
}

func (s *Server) getLocked(name string) (*proxy, error) {
	if s.closed {
		return nil, ErrClosed
	}
	p, ok := s.proxies[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrProxyNotFound, name)
	}
	return p, nil
}

// draw reports whether an event of probability prob happens.
func (s *Server) draw(prob float64) bool {
	if prob >= 1 {
		return true
	}
	if prob <= 0 {
		return false
	}
	s.rngMu.Lock()
	v := s.rng.Float64()
	s.rngMu.Unlock()
	return v < prob
}

// intN returns a uniform int in [0, n).
func (s *Server) intN(n int64) int64 {
	if n <= 1 {
		return 0
	}
	s.rngMu.Lock()
	v := s.rng.Int64N(n)
	s.rngMu.Unlock()
	return v
}
