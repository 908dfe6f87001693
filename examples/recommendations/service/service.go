package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/keelhq/keel/chaos"
	"github.com/keelhq/keel/examples/internal/serve"
	"github.com/keelhq/keel/keelhttp"
)

const (
	// catalog is the number of items recommendations are drawn from.
	catalog = 1000
	// MaxItems caps -items.
	MaxItems = 100
)

// Item is one recommendation.
type Item struct {
	ID    string `json:"id"`
	Score int    `json:"score"`
}

// Recommendations is the body of a 200 from GET /recommendations.
type Recommendations struct {
	User    string `json:"user"`
	Version string `json:"version"`
	Replica string `json:"replica"`
	Items   []Item `json:"items"`
}

// service is one recommendations replica. It is safe for concurrent use.
type service struct {
	name    string
	version string
	delay   time.Duration
	items   int
	handler http.Handler
	health  serve.Health
}

func newService(cfg config, logger *slog.Logger) (*service, error) {
	s := &service{name: cfg.Name, version: cfg.version, delay: cfg.delay, items: cfg.items}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /recommendations", s.recommend)
	mux.Handle("GET /healthz", &s.health)
	var h http.Handler = mux
	if cfg.chaosHeaders {
		in, err := chaos.New(chaos.Config{Name: cfg.Name, Seed: cfg.seed, Headers: chaos.HeaderConfig{Enabled: true}, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("recommendations: %w", err)
		}
		h = in.Middleware(h)
	}
	var accessLog *slog.Logger
	if cfg.AccessLog {
		accessLog = logger
	}
	mw, err := keelhttp.NewMiddleware(keelhttp.MiddlewareConfig{Logger: accessLog})
	if err != nil {
		return nil, fmt.Errorf("recommendations: %w", err)
	}
	s.handler = mw.Wrap(h)
	return s, nil
}

// Handler returns the service's HTTP handler.
func (s *service) Handler() http.Handler { return s.handler }

func (s *service) recommend(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if !validUser(user) {
		serve.Problem(w, r, http.StatusBadRequest, "the user query parameter must be 1 to 64 printable ASCII characters")
		return
	}
	if err := wait(r.Context(), s.delay); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			serve.Problem(w, r, http.StatusGatewayTimeout, "the request's deadline passed")
			return
		}
		serve.Problem(w, r, http.StatusServiceUnavailable, "the request was canceled")
		return
	}
	serve.WriteJSON(w, http.StatusOK, Recommendations{
		User: user, Version: s.version, Replica: s.name, Items: Pick(user, s.version, s.items),
	})
}

// Pick returns n distinct items for user under version, highest score
// first: the same arguments always give the same items.
func Pick(user, version string, n int) []Item {
	h := fnv.New64a()
	_, _ = io.WriteString(h, version)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, user)
	sum := h.Sum64()
	rng := rand.New(rand.NewPCG(sum, sum^0x9e3779b97f4a7c15))
	seen := make(map[int]bool, n)
	items := make([]Item, 0, n)
	for len(items) < n {
		i := rng.IntN(catalog)
		if seen[i] {
			continue
		}
		seen[i] = true
		items = append(items, Item{ID: fmt.Sprintf("item-%04d", i), Score: 1 + rng.IntN(100)})
	}
	slices.SortFunc(items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.ID, b.ID))
	})
	return items
}

func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// wait waits d, or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
