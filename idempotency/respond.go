package idempotency

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// replay writes a stored response.
func (m *Middleware) replay(w http.ResponseWriter, r *http.Request, resp *Response) {
	h := w.Header()
	for k, v := range resp.Header {
		if !neverReplayed[k] {
			h[k] = v[:len(v):len(v)]
		}
	}
	h["Idempotent-Replayed"] = valTrue
	h["Idempotency-Retention"] = m.retentionVal
	if bodyAllowed(resp.Status) {
		h["Content-Length"] = []string{strconv.Itoa(len(resp.Body))}
	}
	w.WriteHeader(resp.Status)
	if len(resp.Body) > 0 && bodyAllowed(resp.Status) {
		_, _ = w.Write(resp.Body)
	}
	m.emit(r.Context(), keel.Event{Kind: keel.EventReplayed})
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// storeFailed answers a request whose claim failed.
func (m *Middleware) storeFailed(w http.ResponseWriter, r *http.Request, next http.Handler, op string, err error) {
	if r.Context().Err() == nil {
		m.emit(r.Context(), keel.Event{Kind: keel.EventFailure, Outcome: keel.OutcomeFailure, Err: &StoreError{Op: op, Err: err}})
	}
	if m.failOpen {
		next.ServeHTTP(w, r)
		return
	}
	m.writeProblem(w, probUnavailable, m.storeRetry)
}

func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, k problemKind, err error, retryAfter time.Duration) {
	m.rejectWaited(w, r, k, err, retryAfter, 0)
}

func (m *Middleware) rejectWaited(w http.ResponseWriter, r *http.Request, k problemKind, err error, retryAfter, waited time.Duration) {
	if m.obs != nil {
		reason := keel.ReasonInvalid
		switch k {
		case probKeyReused:
			reason = keel.ReasonKeyReused
		case probInProgress:
			reason = keel.ReasonInProgress
		}
		m.emit(r.Context(), keel.Event{Kind: keel.EventRejected, Reason: reason, Err: err, Duration: waited})
	}
	m.writeProblem(w, k, retryAfter)
}

// emit sends e to the observer, if any.
func (m *Middleware) emit(ctx context.Context, e keel.Event) {
	if m.obs == nil {
		return
	}
	e.Policy = "idempotency"
	e.Name = m.name
	e.Time = time.Now()
	m.obs.Observe(ctx, e)
}
