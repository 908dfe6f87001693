package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keelhq/keel/examples/internal/serve"
	"github.com/keelhq/keel/examples/payments/ledger"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/idempotency/boltstore"
	"github.com/keelhq/keel/keelhttp"
)

// idempotencyFile is the boltstore file in the data directory.
const idempotencyFile = "idempotency.db"

// maxBody caps the body of POST /charges.
const maxBody = 64 << 10

// service is one payments replica. It is safe for concurrent use.
type service struct {
	name    string
	work    time.Duration
	logger  *slog.Logger
	ledger  *ledger.Ledger // nil with a shared ledger
	shared  *ledger.Shared // nil without
	once    bool           // -apply-once
	store   *boltstore.Store
	handler http.Handler
	health  serve.Health

	mu  sync.Mutex
	rng *rand.Rand
}

// newService opens the files in cfg.data (creating the directory) and builds
// the handler.
func newService(cfg config, logger *slog.Logger) (*service, error) {
	if err := os.MkdirAll(cfg.data, 0o750); err != nil {
		return nil, err
	}
	s := &service{
		name: cfg.Name, work: cfg.work, logger: logger, once: cfg.applyOnce,
		rng: rand.New(rand.NewPCG(cfg.seed, cfg.seed)),
	}
	if cfg.ledger != "" {
		s.shared = ledger.NewShared(cfg.ledger)
	} else {
		l, err := ledger.Open(filepath.Join(cfg.data, ledger.FileName))
		if err != nil {
			return nil, err
		}
		s.ledger = l
	}
	store, err := boltstore.Open(filepath.Join(cfg.data, idempotencyFile), boltstore.WithReaper(time.Minute, 0))
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.store = store
	idem, err := idempotency.New(idempotency.Config{
		Name:       cfg.Name,
		Store:      store,
		RequireKey: true,
		Lease:      cfg.lease,
		MaxWait:    cfg.maxWait,
		Route:      func(r *http.Request) string { return r.Pattern },
	})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	var accessLog *slog.Logger
	if cfg.AccessLog {
		accessLog = logger
	}
	mw, err := keelhttp.NewMiddleware(keelhttp.MiddlewareConfig{Logger: accessLog})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	var post http.Handler = http.HandlerFunc(s.postCharge)
	if !cfg.noIdem {
		post = idem.Wrap(post)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /charges", post)
	mux.HandleFunc("GET /charges/{id}", s.getCharge)
	mux.HandleFunc("GET /ledger", s.getLedger)
	mux.Handle("GET /healthz", &s.health)
	s.handler = mw.Wrap(mux)
	return s, nil
}

// Handler returns the service's HTTP handler.
func (s *service) Handler() http.Handler { return s.handler }

// Close closes the idempotency store and the ledger.
func (s *service) Close() error {
	var errs []error
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.ledger != nil {
		errs = append(errs, s.ledger.Close())
	}
	return errors.Join(errs...)
}

// apply records the charge e in the ledger: with -apply-once, only if its key
// is not there yet (applied is then false and the first application is
// returned).
func (s *service) apply(ctx context.Context, e ledger.Entry) (ledger.Entry, bool, error) {
	switch {
	case s.shared != nil && s.once:
		return s.shared.ApplyOnce(ctx, e)
	case s.shared != nil:
		e, err := s.shared.Append(ctx, e)
		return e, err == nil, err
	case s.once:
		return s.ledger.ApplyOnce(e)
	default:
		e, err := s.ledger.Append(e)
		return e, err == nil, err
	}
}

func (s *service) byID(ctx context.Context, id string) (ledger.Entry, bool, error) {
	if s.shared != nil {
		return s.shared.ByID(ctx, id)
	}
	return s.ledger.ByID(id)
}

func (s *service) all(ctx context.Context) ([]ledger.Entry, error) {
	if s.shared != nil {
		return s.shared.All(ctx)
	}
	return s.ledger.All()
}

func (s *service) postCharge(w http.ResponseWriter, r *http.Request) {
	key, ok := keyOf(r)
	if !ok {
		serve.Problem(w, r, http.StatusBadRequest, "a valid Idempotency-Key header is required")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		serve.Problem(w, r, http.StatusRequestEntityTooLarge, "the body is over 64 KiB")
		return
	}
	req, err := parseCharge(body)
	if err != nil {
		status := http.StatusUnprocessableEntity
		if errors.Is(err, errMalformed) {
			status = http.StatusBadRequest
		}
		serve.Problem(w, r, status, err.Error())
		return
	}
	if err := s.process(r.Context()); err != nil {
		// Not applied. 503 and 504 are not stored: a retry runs again.
		if errors.Is(err, context.DeadlineExceeded) {
			serve.Problem(w, r, http.StatusGatewayTimeout, "the request's deadline passed before the charge was applied")
			return
		}
		serve.Problem(w, r, http.StatusServiceUnavailable, "the request was canceled before the charge was applied")
		return
	}
	e, applied, err := s.apply(r.Context(), ledger.Entry{
		Key: key, Amount: req.Amount, Currency: req.Currency, Customer: req.Customer, Replica: s.name,
	})
	if err != nil {
		if r.Context().Err() != nil {
			// Waiting for a shared ledger's lock: not applied.
			serve.Problem(w, r, http.StatusServiceUnavailable, "the request was canceled before the charge was applied")
			return
		}
		s.logger.ErrorContext(r.Context(), "ledger append failed", "err", err)
		serve.Problem(w, r, http.StatusInternalServerError, "the charge could not be recorded")
		return
	}
	if !applied {
		// -apply-once: the key was applied before (by this replica or
		// another); answer with that charge.
		if e.Amount != req.Amount || e.Currency != req.Currency || e.Customer != req.Customer {
			serve.Problem(w, r, http.StatusUnprocessableEntity, "the Idempotency-Key was used for another charge")
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if e.Repeat {
		s.logger.WarnContext(r.Context(), "charge applied again", "id", e.ID, "seq", e.Seq)
	}
	w.Header().Set("Location", "/charges/"+e.ID)
	serve.WriteJSON(w, http.StatusCreated, chargeOf(e))
}

// keyOf returns the request's idempotency key: the claim's when the
// middleware runs, else the parsed header.
func keyOf(r *http.Request) (string, bool) {
	if claim, ok := idempotency.ClaimFromContext(r.Context()); ok {
		return claim.Key(), true
	}
	key, err := idempotency.ParseKey(r.Header.Values("Idempotency-Key"))
	return key, err == nil
}

// process waits the simulated processing time, or until ctx ends. It
// returns ctx's error if ctx ended, so that nothing is applied for a caller
// that is no longer waiting.
func (s *service) process(ctx context.Context) error {
	if s.work <= 0 {
		return ctx.Err()
	}
	s.mu.Lock()
	d := s.work/2 + time.Duration(s.rng.Int64N(int64(s.work*3/2)+1))
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		// The caller may have given up just as the work ended: then the
		// charge is not applied, so a caller that timed out and retries
		// elsewhere does not cause a second application.
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *service) getCharge(w http.ResponseWriter, r *http.Request) {
	e, ok, err := s.byID(r.Context(), r.PathValue("id"))
	switch {
	case err != nil:
		s.logger.ErrorContext(r.Context(), "ledger read failed", "err", err)
		serve.Problem(w, r, http.StatusInternalServerError, "the ledger could not be read")
	case !ok:
		serve.Problem(w, r, http.StatusNotFound, "no charge with this id on this replica")
	default:
		serve.WriteJSON(w, http.StatusOK, chargeOf(e))
	}
}

func (s *service) getLedger(w http.ResponseWriter, r *http.Request) {
	all, err := s.all(r.Context())
	if err != nil {
		s.logger.ErrorContext(r.Context(), "ledger read failed", "err", err)
		serve.Problem(w, r, http.StatusInternalServerError, "the ledger could not be read")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, e := range all {
		if err := enc.Encode(e); err != nil {
			return // the client went away
		}
	}
}
