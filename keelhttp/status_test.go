package keelhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelhttp"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/timeout"
)

func TestStatusOf(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	busy := &keelhttp.StatusError{StatusCode: 503, After: 2500 * time.Millisecond, HasRetryAfter: true}
	bad := &keelhttp.StatusError{StatusCode: 500}
	exhausted := func(reason keel.Reason, errs ...error) error {
		return &retry.ExhaustedError{Attempts: len(errs), Errs: errs, Reason: reason}
	}
	type result struct {
		Status     int
		RetryAfter time.Duration
		Flag       string
	}
	for _, tc := range []struct {
		name string
		err  error
		want result
	}{
		{"nil", nil, result{200, 0, ""}},
		{"panic", keelhttp.ErrPanic, result{500, 0, "PANIC"}},
		{"no time left", keelhttp.ErrNoTimeLeft, result{504, 0, "DT"}},
		{"caller canceled", fmt.Errorf("get: %w", context.Canceled), result{499, 0, "DC"}},
		{"bulkhead wait ended by the caller", &bulkhead.RejectedError{Reason: keel.ReasonContext, Err: context.Canceled}, result{499, 0, "DC"}},
		{"deadline", context.DeadlineExceeded, result{504, 0, "UT"}},
		{"timeout policy", &timeout.ExceededError{Timeout: time.Second}, result{504, 0, "UT"}},
		{"rate limited", &ratelimit.LimitedError{Delay: 1200 * time.Millisecond}, result{429, 2 * time.Second, "RL"}},
		{"rate limited, tiny hint", &ratelimit.LimitedError{Delay: time.Millisecond}, result{429, time.Second, "RL"}},
		{"breaker open", &breaker.OpenError{State: breaker.Open, Remaining: 30 * time.Second}, result{503, 30 * time.Second, "UO"}},
		{"breaker forced open: unknown end", &breaker.OpenError{State: breaker.ForcedOpen}, result{503, time.Second, "UO"}},
		{"bulkhead full", &bulkhead.RejectedError{Reason: keel.ReasonBulkheadFull}, result{503, time.Second, "UO"}},
		{"bulkhead queue timeout", &bulkhead.RejectedError{Reason: keel.ReasonQueueTimeout}, result{503, time.Second, "UO"}},
		{"other rejection", fmt.Errorf("shed: %w", keel.ErrRejected), result{503, time.Second, "UO"}},
		{"connect failure", fmt.Errorf("get: %w", dial), result{503, time.Second, "UF"}},
		{"connection reset", reset, result{502, 0, "UC"}},
		{"unexpected EOF", io.ErrUnexpectedEOF, result{502, 0, "UC"}},
		{"upstream 500", bad, result{502, 0, "UR"}},
		{"anything else", errors.New("boom"), result{500, 0, ""}},
		{"exhausted: last attempt timed out", exhausted(keel.ReasonNone, dial, context.DeadlineExceeded), result{504, 0, "URX"}},
		{"exhausted: last attempt could not connect", exhausted(keel.ReasonNone, reset, dial), result{503, time.Second, "URX"}},
		{"exhausted: upstream 503 with Retry-After", exhausted(keel.ReasonRetryAfter, busy), result{503, 3 * time.Second, "URX"}},
		{"exhausted: upstream 500", exhausted(keel.ReasonNone, bad), result{502, 0, "URX"}},
		{"exhausted: reset", exhausted(keel.ReasonNone, reset), result{502, 0, "URX"}},
		{"exhausted: budget", exhausted(keel.ReasonBudget, reset), result{502, 0, "URX"}},
		{"exhausted: next attempt refused by breaker", exhausted(keel.ReasonNone, bad, keel.Permanent(&breaker.OpenError{State: breaker.Open, Remaining: time.Second})), result{503, time.Second, "URX"}},
		{"exhausted: caller canceled", exhausted(keel.ReasonContext, context.Canceled), result{499, 0, "DC"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got result
			got.Status, got.RetryAfter, got.Flag = keelhttp.StatusOf(tc.err)
			if got != tc.want {
				t.Errorf("StatusOf(%v): got %+v, want %+v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/orders/7", nil)
	status := keelhttp.WriteError(w, r, &ratelimit.LimitedError{Name: "secret-internal-name", Delay: 1500 * time.Millisecond})
	if status != 429 || w.Code != 429 {
		t.Errorf("status: returned %d, written %d, want 429", status, w.Code)
	}
	wantHeader := http.Header{
		"Content-Type":           {"application/problem+json"},
		"Content-Length":         {fmt.Sprint(w.Body.Len())},
		"Cache-Control":          {"no-store"},
		"X-Content-Type-Options": {"nosniff"},
		"Retry-After":            {"2"},
	}
	if diff := cmp.Diff(wantHeader, w.Header()); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	want := map[string]any{
		"type": "about:blank", "title": "Too Many Requests", "status": float64(429),
		"detail": "rate limit exceeded; try again later", "instance": "/orders/7", "flag": "RL",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}
}

func TestWriteProblem499Title(t *testing.T) {
	w := httptest.NewRecorder()
	keelhttp.WriteProblem(w, keelhttp.Problem{Status: keelhttp.StatusClientClosedRequest}, 0)
	var p keelhttp.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if want := (keelhttp.Problem{Type: "about:blank", Title: "Client Closed Request", Status: 499}); p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if got := w.Header().Get("Retry-After"); got != "" {
		t.Errorf("Retry-After: got %q, want none", got)
	}
}
