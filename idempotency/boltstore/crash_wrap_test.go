package boltstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel/idempotency"
)

// protect puts h behind a minimal store-direct idempotency layer: claim,
// replay, 409 in flight, heartbeat, complete before responding.
func protect(s idempotency.Store, scope string, lease time.Duration, h http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		key := r.Header.Get("Idempotency-Key")
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fp := idempotency.Fingerprint(sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...)))
		var tb [16]byte
		_, _ = rand.Read(tb[:])
		token := hex.EncodeToString(tb[:])
		res, err := s.Claim(ctx, idempotency.ClaimRequest{Scope: scope, Key: key, Fingerprint: fp, Token: token,
			Now: time.Now(), Lease: lease, Retention: time.Hour})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !res.Claimed {
			rec := res.Record
			switch {
			case rec.Fingerprint != fp:
				http.Error(w, "key reused", http.StatusUnprocessableEntity)
			case rec.Status == idempotency.StatusCompleted:
				for k, v := range rec.Response.Header {
					w.Header()[k] = v
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(rec.Response.Status)
				_, _ = w.Write(rec.Response.Body)
			default:
				w.Header().Set("Retry-After", "1")
				http.Error(w, "in progress", http.StatusConflict)
			}
			return
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(lease / 3)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					_ = s.Heartbeat(context.WithoutCancel(ctx), scope, key, token, time.Now(), lease)
				}
			}
		})
		rec := httptest.NewRecorder()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(rec, r)
		close(stop)
		wg.Wait()
		if rec.Code >= 500 {
			_ = s.Release(context.WithoutCancel(ctx), scope, key, token)
		} else {
			resp := idempotency.Response{Status: rec.Code, Header: http.Header{"Content-Type": rec.Header()["Content-Type"]}, Body: rec.Body.Bytes()}
			if err := s.Complete(context.WithoutCancel(ctx), scope, key, token, time.Now(), resp, time.Hour); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}), nil
}
