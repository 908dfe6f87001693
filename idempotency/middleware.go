package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel"
)

// Middleware makes protected requests carrying an idempotency key run at most
// once per (scope, key) while their record lives, replaying the stored
// response to every repeat. Build it with [New]; apply it with [Middleware.Wrap].
// A Middleware is immutable and safe for concurrent use; the zero Middleware
// is not usable.
type Middleware struct {
	name          string
	obs           keel.Observer
	store         Store
	methods       []string
	header        string
	requireKey    bool
	minKey        int
	route         func(*http.Request) string
	fpHeaders     []string
	maxBody       int64
	scope         func(*http.Request) (string, error)
	unscoped      bool
	lease         time.Duration
	heartbeat     time.Duration
	retention     time.Duration
	maxWait       time.Duration
	persistence   Persistence
	replayHeaders []string // canonical names
	maxResp       int64
	failOpen      bool
	storeRetry    time.Duration

	retentionVal []string
	problems     [numProblems]problem
	pool         sync.Pool // *state
}

// New validates cfg and returns a Middleware.
func New(cfg Config) (*Middleware, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Middleware{
		name:        cfg.Name,
		obs:         cfg.Observer,
		store:       cfg.Store,
		methods:     cfg.Methods,
		header:      http.CanonicalHeaderKey(cmpOr(cfg.Header, DefaultHeader)),
		requireKey:  cfg.RequireKey,
		minKey:      max(cfg.MinKeyLength, 1),
		route:       cfg.Route,
		maxBody:     cmpOr(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		scope:       cfg.Scope,
		unscoped:    cfg.Unscoped,
		lease:       cmpOr(cfg.Lease, DefaultLease),
		retention:   cmpOr(cfg.Retention, DefaultRetention),
		maxWait:     cfg.MaxWait,
		persistence: cfg.Persistence,
		maxResp:     cmpOr(cfg.MaxResponseBytes, DefaultMaxResponse),
		failOpen:    cfg.FailOpen,
		storeRetry:  cmpOr(cfg.StoreRetryAfter, time.Second),
	}
	if m.methods == nil {
		m.methods = DefaultMethods
	}
	m.methods = append([]string(nil), m.methods...)
	for _, h := range cfg.FingerprintHeaders {
		m.fpHeaders = append(m.fpHeaders, http.CanonicalHeaderKey(h))
	}
	replay := cfg.ReplayHeaders
	if replay == nil {
		replay = DefaultReplayHeaders
	}
	for _, h := range replay {
		m.replayHeaders = append(m.replayHeaders, http.CanonicalHeaderKey(h))
	}
	switch {
	case cfg.HeartbeatInterval > 0:
		m.heartbeat = cfg.HeartbeatInterval
	case cfg.HeartbeatInterval == 0:
		m.heartbeat = m.lease / 3
	}
	if m.scope == nil && !m.unscoped {
		m.scope = CredentialScope
	}
	m.retentionVal = []string{strconv.FormatInt(int64(m.retention/time.Second), 10)}
	m.problems = buildProblems(cmpOr(cfg.MismatchStatus, http.StatusUnprocessableEntity), m.retention)
	m.pool.New = func() any {
		return &state{hash: sha256.New(), rec: recorder{header: make(http.Header)}, stored: make(http.Header)}
	}
	return m, nil
}

// MustNew is like New but panics on an invalid cfg.
func MustNew(cfg Config) *Middleware {
	m, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// Wrap returns next guarded by the middleware.
func (m *Middleware) Wrap(next http.Handler) http.Handler { return &handler{m: m, next: next} }

// state is the per-request scratch space, pooled.
type state struct {
	hash   hash.Hash
	canon  []byte
	sum    [sha256.Size]byte
	body   bytes.Buffer
	reader bodyReader
	rec    recorder
	stored http.Header
}

type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

func (m *Middleware) getState() *state { return m.pool.Get().(*state) }

func (m *Middleware) putState(st *state) {
	if st.body.Cap() > 64<<10 || st.rec.body.Cap() > 64<<10 {
		return // let large buffers go
	}
	st.body.Reset()
	st.reader.Reset(nil)
	st.rec.reset(nil, 0)
	clear(st.stored)
	m.pool.Put(st)
}

type handler struct {
	m    *Middleware
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	if !m.protects(r.Method) {
		h.next.ServeHTTP(w, r)
		return
	}
	vals := r.Header[m.header]
	if len(vals) == 0 {
		if m.requireKey {
			m.reject(w, r, probKeyMissing, ErrKeyMissing, 0)
			return
		}
		h.next.ServeHTTP(w, r)
		return
	}
	key, err := ParseKey(vals)
	if err == nil && len(key) < m.minKey {
		err = &KeyError{reason: errKeyShort}
	}
	if err != nil {
		m.reject(w, r, probKeyInvalid, err, 0)
		return
	}
	scope := ""
	if !m.unscoped {
		if scope, err = m.scope(r); err != nil {
			m.reject(w, r, probRequestInvalid, errors.Join(ErrRequestInvalid, err), 0)
			return
		}
	}
	st := m.getState()
	defer m.putState(st)
	fp, kind, err := m.fingerprint(st, r)
	if err != nil {
		m.reject(w, r, kind, err, 0)
		return
	}
	m.serveKeyed(w, r, h.next, st, scope, key, fp)
}

var errKeyShort = errors.New("shorter than the minimum length")

func (m *Middleware) protects(method string) bool {
	for _, p := range m.methods {
		if p == method {
			return true
		}
	}
	return false
}

// fingerprint reads the body into st and returns the request's fingerprint;
// r.Body is replaced by a reader over the buffered body.
func (m *Middleware) fingerprint(st *state, r *http.Request) (Fingerprint, problemKind, error) {
	var fp Fingerprint
	if r.ContentLength > m.maxBody {
		return fp, probTooLarge, m.tooLarge()
	}
	if r.Body != nil && r.Body != http.NoBody {
		_, err := st.body.ReadFrom(io.LimitReader(r.Body, m.maxBody+1))
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok || int64(st.body.Len()) > m.maxBody {
			return fp, probTooLarge, m.tooLarge()
		}
		if err != nil {
			return fp, probRequestInvalid, errors.Join(ErrRequestInvalid, err)
		}
		st.reader.Reset(st.body.Bytes())
		r.Body = &st.reader
	}
	route := r.URL.Path
	if m.route != nil {
		route = m.route(r)
	}
	st.canon = AppendCanonical(st.canon[:0], r.Method, route, r.URL.RawQuery, r.Header, m.fpHeaders)
	st.hash.Reset()
	st.hash.Write(st.canon)
	st.hash.Write(st.body.Bytes())
	copy(fp[:], st.hash.Sum(st.sum[:0]))
	return fp, 0, nil
}

// tooLarge is the error of a body over the limit: ErrRequestInvalid joined
// with an *http.MaxBytesError, so that callers can tell it from the other
// invalid requests (keelhttp.StatusOf answers it with 413). It is built only
// for the observer.
func (m *Middleware) tooLarge() error {
	if m.obs == nil {
		return ErrRequestInvalid
	}
	return errors.Join(ErrRequestInvalid, &http.MaxBytesError{Limit: m.maxBody})
}

// Polling backoff while waiting for a request in progress.
const (
	pollFirst = 10 * time.Millisecond
	pollMax   = 250 * time.Millisecond
)

func (m *Middleware) serveKeyed(w http.ResponseWriter, r *http.Request, next http.Handler, st *state, scope, key string, fp Fingerprint) {
	ctx := r.Context()
	token := newToken()
	start := time.Now()
	delay := pollFirst
	for {
		now := time.Now()
		res, err := m.store.Claim(ctx, ClaimRequest{
			Scope: scope, Key: key, Fingerprint: fp, Token: token,
			Now: now, Lease: m.lease, Retention: m.retention,
		})
		if err != nil {
			m.storeFailed(w, r, next, "Claim", err)
			return
		}
		if res.Claimed {
			m.execute(w, r, next, st, scope, key, token, res)
			return
		}
		rec := &res.Record
		switch {
		case rec.Fingerprint != fp:
			m.reject(w, r, probKeyReused, ErrKeyReused, 0)
			return
		case rec.Status == StatusCompleted && rec.Response != nil:
			m.replay(w, r, rec.Response)
			return
		}
		remaining := rec.LeaseExpires.Sub(now)
		waited := now.Sub(start)
		if waited >= m.maxWait || ctx.Err() != nil {
			err := ErrInProgress
			if m.obs != nil {
				err = &ConflictError{KeyHash: keyHash(scope, key), Remaining: remaining}
			}
			m.rejectWaited(w, r, probInProgress, err, roundUpSeconds(remaining), waited)
			return
		}
		d := min(delay, m.maxWait-waited, max(remaining, time.Millisecond))
		if !sleep(ctx, d) { // the client left
			m.rejectWaited(w, r, probInProgress, ErrInProgress, roundUpSeconds(remaining), time.Since(start))
			return
		}
		delay = min(2*delay, pollMax)
	}
}

// sleep waits for d or until ctx is done, and reports whether it slept the
// whole d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// newToken returns 128 random bits in hex. Tokens fence owners apart; they
// must be unique, not secret, so the runtime's per-thread ChaCha8 generator
// (math/rand/v2) serves and costs no system call.
func newToken() string {
	var b [32]byte
	hex.Encode(b[:16], binary.LittleEndian.AppendUint64(nil, rand.Uint64()))
	hex.Encode(b[16:], binary.LittleEndian.AppendUint64(nil, rand.Uint64()))
	return string(b[:])
}

// keyHash identifies (scope, key) in events and logs without revealing it.
func keyHash(scope, key string) string {
	h := sha256.New()
	_, _ = io.WriteString(h, scope)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}
