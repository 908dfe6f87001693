package idempotency

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keelhq/keel"
)

// execute runs next under the lease token holds, then stores or releases
// its outcome and writes the response.
func (m *Middleware) execute(w http.ResponseWriter, r *http.Request, next http.Handler, st *state, scope, key, token string, res ClaimResult) {
	ctx := r.Context()
	if res.TookOver {
		m.emit(ctx, keel.Event{Kind: keel.EventTakeover, Attempt: res.Record.Claims + 1, Err: errTakeover(scope, key)})
	} else {
		m.emit(ctx, keel.Event{Kind: keel.EventAcquired, Attempt: 1})
	}
	// Store calls after the claim outlive the client: an owner that gives
	// up when its client leaves would leave the record in progress.
	bg := context.WithoutCancel(ctx)
	hb := m.startHeartbeat(bg, scope, key, token)
	st.rec.reset(w, m.maxResp)
	claim := m.newClaim(ctx, scope, key, token, &st.rec)
	start := time.Now()
	finished := false
	defer func() {
		if finished {
			return
		}
		// next panicked; the panic continues once the record is settled.
		claim.rec = nil
		hbErr := hb.stop()
		if claim.completed {
			// The handler completed the record before it panicked.
			m.reportHeartbeat(ctx, scope, key, ignoreLeaseLost(hbErr))
			m.emit(ctx, keel.Event{Kind: keel.EventSuccess, Duration: time.Since(start)})
			return
		}
		m.reportHeartbeat(ctx, scope, key, hbErr)
		if m.persistence.Stores(0) {
			m.complete(ctx, bg, scope, key, token, Response{Status: http.StatusInternalServerError,
				Header: http.Header{"Content-Type": valProblemJSON}, Body: panicBody}, time.Since(start))
		} else {
			m.release(ctx, bg, scope, key, token)
		}
	}()
	next.ServeHTTP(&st.rec, r.WithContext(claim))
	finished = true
	claim.rec = nil
	hbErr := hb.stop()
	rw := &st.rec
	if claim.completed {
		// A heartbeat that ran after the handler's transaction completed
		// the record finds it completed: its lease is gone, as it should be.
		m.reportHeartbeat(ctx, scope, key, ignoreLeaseLost(hbErr))
		m.emit(ctx, keel.Event{Kind: keel.EventSuccess, Duration: time.Since(start)})
		if !rw.spilled {
			m.writeRecorded(w, rw, claim.snapCode, rw.body.Bytes()[:claim.snapLen], true)
		}
		return
	}
	m.reportHeartbeat(ctx, scope, key, hbErr)

	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	stored := false
	switch {
	case rw.spilled:
		m.release(ctx, bg, scope, key, token)
	case m.persistence.Stores(status):
		for _, name := range m.replayHeaders {
			if v, ok := rw.header[name]; ok {
				st.stored[name] = v
			}
		}
		stored = m.complete(ctx, bg, scope, key, token, Response{Status: status, Header: st.stored, Body: rw.body.Bytes()}, time.Since(start))
	default:
		m.release(ctx, bg, scope, key, token)
	}
	if rw.spilled {
		return
	}
	m.writeRecorded(w, rw, status, rw.body.Bytes(), stored)
}

// writeRecorded sends the buffered response to the client.
func (m *Middleware) writeRecorded(w http.ResponseWriter, rw *recorder, status int, body []byte, stored bool) {
	dst := w.Header()
	for k, v := range rw.header {
		dst[k] = v
	}
	if stored {
		dst["Idempotency-Retention"] = m.retentionVal
	}
	w.WriteHeader(status)
	if len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// ignoreLeaseLost drops ErrLeaseLost from a heartbeat's error.
func ignoreLeaseLost(err error) error {
	if errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return err
}

var panicBody = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}` + "\n")

func errTakeover(scope, key string) error {
	return errors.New("idempotency: took over an expired lease (key " + keyHash(scope, key) + ")")
}

// complete stores resp and reports whether it was stored.
func (m *Middleware) complete(ctx, bg context.Context, scope, key, token string, resp Response, d time.Duration) bool {
	err := m.store.Complete(bg, scope, key, token, time.Now(), resp, m.retention)
	switch {
	case err == nil:
		m.emit(ctx, keel.Event{Kind: keel.EventSuccess, Duration: d})
		return true
	case errors.Is(err, ErrLeaseLost):
		m.emit(ctx, keel.Event{Kind: keel.EventLeaseLost, Duration: d, Err: leaseLost(scope, key, "Complete")})
	default:
		m.emit(ctx, keel.Event{Kind: keel.EventFailure, Outcome: keel.OutcomeFailure, Err: &StoreError{Op: "Complete", Err: err}})
	}
	return false
}

func (m *Middleware) release(ctx, bg context.Context, scope, key, token string) {
	err := m.store.Release(bg, scope, key, token)
	switch {
	case err == nil:
		m.emit(ctx, keel.Event{Kind: keel.EventReleased})
	case errors.Is(err, ErrLeaseLost):
		m.emit(ctx, keel.Event{Kind: keel.EventLeaseLost, Err: leaseLost(scope, key, "Release")})
	default:
		m.emit(ctx, keel.Event{Kind: keel.EventFailure, Outcome: keel.OutcomeFailure, Err: &StoreError{Op: "Release", Err: err}})
	}
}

func leaseLost(scope, key, op string) error {
	return &leaseLostError{op: op, keyHash: keyHash(scope, key)}
}

type leaseLostError struct{ op, keyHash string }

func (e *leaseLostError) Error() string {
	return "idempotency: " + e.op + ": lease lost (key " + e.keyHash + ")"
}
func (e *leaseLostError) Unwrap() error { return ErrLeaseLost }

func (m *Middleware) reportHeartbeat(ctx context.Context, scope, key string, err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrLeaseLost):
		m.emit(ctx, keel.Event{Kind: keel.EventLeaseLost, Err: leaseLost(scope, key, "Heartbeat")})
	default:
		m.emit(ctx, keel.Event{Kind: keel.EventFailure, Outcome: keel.OutcomeFailure, Err: &StoreError{Op: "Heartbeat", Err: err}})
	}
}
