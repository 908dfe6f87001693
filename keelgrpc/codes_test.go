package keelgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/breaker"
	"github.com/keelhq/keel/bulkhead"
	"github.com/keelhq/keel/keelgrpc"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/timeout"
)

func TestCodeOf(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "down")
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil", nil, codes.OK},
		{"open breaker", &breaker.OpenError{State: breaker.Open}, codes.Unavailable},
		{"half-open full", &breaker.OpenError{State: breaker.HalfOpen}, codes.Unavailable},
		{"rate limited", &ratelimit.LimitedError{}, codes.ResourceExhausted},
		{"bulkhead full", &bulkhead.RejectedError{Reason: keel.ReasonBulkheadFull}, codes.Unavailable},
		{"bulkhead queue timeout", &bulkhead.RejectedError{Reason: keel.ReasonQueueTimeout}, codes.Unavailable},
		{"bulkhead, caller canceled", &bulkhead.RejectedError{Reason: keel.ReasonContext, Err: context.Canceled}, codes.Canceled},
		{"bulkhead, caller deadline", &bulkhead.RejectedError{Reason: keel.ReasonContext, Err: context.DeadlineExceeded}, codes.DeadlineExceeded},
		{"timeout", &timeout.ExceededError{}, codes.DeadlineExceeded},
		{"timeout over a status", &timeout.ExceededError{Err: unavailable}, codes.DeadlineExceeded},
		{"status", status.Error(codes.NotFound, "x"), codes.NotFound},
		{"wrapped status", fmt.Errorf("call: %w", status.Error(codes.Aborted, "x")), codes.Aborted},
		{"canceled", context.Canceled, codes.Canceled},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded},
		{"other rejection", fmt.Errorf("shed: %w", keel.ErrRejected), codes.Unavailable},
		{"plain", errors.New("x"), codes.Unknown},
		{"exhausted: last attempt", &retry.ExhaustedError{Attempts: 2, Errs: []error{status.Error(codes.Internal, "a"), unavailable}}, codes.Unavailable},
		{"exhausted: breaker opened", &retry.ExhaustedError{Attempts: 2, Errs: []error{unavailable, &breaker.OpenError{}}}, codes.Unavailable},
		{"exhausted: budget", &retry.ExhaustedError{Attempts: 1, Errs: []error{status.Error(codes.Internal, "a")}, Reason: keel.ReasonBudget}, codes.Internal},
		{"permanent status", keel.Permanent(status.Error(codes.PermissionDenied, "x")), codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keelgrpc.CodeOf(tt.err); got != tt.want {
				t.Errorf("CodeOf(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want keel.Outcome
	}{
		{"nil", live, nil, keel.OutcomeSuccess},
		{"unavailable", live, status.Error(codes.Unavailable, ""), keel.OutcomeFailure},
		{"unavailable with pushback", live, keel.WithRetryAfter(status.Error(codes.Unavailable, ""), time.Second), keel.OutcomeFailure},
		{"unavailable, server said no retry", live, keel.Permanent(status.Error(codes.Unavailable, "")), keel.OutcomePermanent},
		{"resource exhausted", live, status.Error(codes.ResourceExhausted, ""), keel.OutcomePermanent},
		{"resource exhausted with pushback", live, keel.WithRetryAfter(status.Error(codes.ResourceExhausted, ""), 0), keel.OutcomeFailure},
		{"invalid argument", live, status.Error(codes.InvalidArgument, ""), keel.OutcomePermanent},
		{"internal", live, status.Error(codes.Internal, ""), keel.OutcomePermanent},
		{"canceled by the caller", done, status.Error(codes.Canceled, ""), keel.OutcomeNeutral},
		{"canceled by the server", live, status.Error(codes.Canceled, ""), keel.OutcomePermanent},
		{"caller's deadline", done, status.Error(codes.DeadlineExceeded, ""), keel.OutcomeNeutral},
		{"attempt timeout", live, &timeout.ExceededError{Err: status.Error(codes.DeadlineExceeded, "")}, keel.OutcomeFailure},
		{"server's deadline", live, status.Error(codes.DeadlineExceeded, ""), keel.OutcomeFailure},
		{"open breaker", live, &breaker.OpenError{Remaining: time.Second}, keel.OutcomePermanent},
		{"bulkhead full", live, &bulkhead.RejectedError{Reason: keel.ReasonBulkheadFull}, keel.OutcomePermanent},
		{"no status", live, errBoom, keel.OutcomeFailure},
		{"no status, caller canceled", done, context.Canceled, keel.OutcomeNeutral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keelgrpc.Classify(tt.ctx, tt.err); got != tt.want {
				t.Errorf("Classify(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	c := keelgrpc.NewClassifier(codes.Internal, codes.Unavailable, 200)
	if got, want := c(live, status.Error(codes.Internal, "")), keel.OutcomeFailure; got != want {
		t.Errorf("NewClassifier(Internal): Internal: got %v, want %v", got, want)
	}
}

func TestClassifyBreaker(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	failures := map[codes.Code]bool{
		codes.Unknown: true, codes.DeadlineExceeded: true, codes.ResourceExhausted: true,
		codes.Internal: true, codes.Unavailable: true, codes.DataLoss: true,
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		want := keel.OutcomeSuccess
		switch {
		case c == codes.Canceled:
			want = keel.OutcomeNeutral
		case failures[c]:
			want = keel.OutcomeFailure
		}
		var err error
		if c != codes.OK {
			err = status.Error(c, "")
		}
		if got := keelgrpc.ClassifyBreaker(live, err); got != want {
			t.Errorf("ClassifyBreaker(%v): got %v, want %v", c, got, want)
		}
	}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want keel.Outcome
	}{
		{"caller's deadline counts", done, status.Error(codes.DeadlineExceeded, ""), keel.OutcomeFailure},
		{"no-retry pushback still a failure", live, keel.Permanent(status.Error(codes.Unavailable, "")), keel.OutcomeFailure},
		{"local bulkhead rejection", live, &bulkhead.RejectedError{Reason: keel.ReasonBulkheadFull}, keel.OutcomeNeutral},
		{"no status", live, errBoom, keel.OutcomeFailure},
		{"no status, caller canceled", done, context.Canceled, keel.OutcomeNeutral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keelgrpc.ClassifyBreaker(tt.ctx, tt.err); got != tt.want {
				t.Errorf("ClassifyBreaker(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestParsePushback(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"20", 20 * time.Millisecond, true},
		{"+20", 20 * time.Millisecond, true},
		{"1500", 1500 * time.Millisecond, true},
		{"9223372036854", 9223372036854 * time.Millisecond, true},
		{"9223372036855", math.MaxInt64, true},
		{"99999999999999999999999", math.MaxInt64, true},
		{"-1", 0, false},
		{"-99999999999999999999999", 0, false},
		{"", 0, false},
		{" 20", 0, false},
		{"20ms", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		d, ok := keelgrpc.ParsePushback(tt.in)
		if d != tt.want || ok != tt.wantOK {
			t.Errorf("ParsePushback(%q): got %v, %v, want %v, %v", tt.in, d, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFormatPushback(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "0"},
		{0, "0"},
		{1, "1"},
		{time.Millisecond, "1"},
		{time.Millisecond + 1, "2"},
		{1500 * time.Millisecond, "1500"},
		{math.MaxInt64, "9223372036855"},
	}
	for _, tt := range tests {
		if got := keelgrpc.FormatPushback(tt.in); got != tt.want {
			t.Errorf("FormatPushback(%v): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzParsePushback checks ParsePushback against strconv and against
// FormatPushback.
func FuzzParsePushback(f *testing.F) {
	for _, s := range []string{"0", "20", "-1", "", "+7", "1e3", "9223372036855", "99999999999999999999", "0x10", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := keelgrpc.ParsePushback(s)
		if d < 0 || !ok && d != 0 {
			t.Fatalf("ParsePushback(%q) = %v, %v: a negative delay, or a delay without ok", s, d, ok)
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err == nil && ms >= 0:
			want := time.Duration(math.MaxInt64)
			if ms <= math.MaxInt64/int64(time.Millisecond) {
				want = time.Duration(ms) * time.Millisecond
			}
			if !ok || d != want {
				t.Fatalf("ParsePushback(%q) = %v, %v, want %v, true", s, d, ok, want)
			}
			if want != math.MaxInt64 {
				if back, ok := keelgrpc.ParsePushback(keelgrpc.FormatPushback(d)); !ok || back != d {
					t.Fatalf("round trip of %v: got %v, %v", d, back, ok)
				}
			}
		case err == nil || !errors.Is(err, strconv.ErrRange):
			if ok {
				t.Fatalf("ParsePushback(%q) = %v, true, want not ok (negative or malformed)", s, d)
			}
		}
	})
}

// FuzzFormatPushback checks that FormatPushback never undercuts a hint.
func FuzzFormatPushback(f *testing.F) {
	for _, d := range []int64{0, 1, 999999, 1000000, 1000001, math.MaxInt64, -5} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		d := time.Duration(n)
		got, ok := keelgrpc.ParsePushback(keelgrpc.FormatPushback(d))
		if !ok {
			t.Fatalf("FormatPushback(%v) = %q does not parse", d, keelgrpc.FormatPushback(d))
		}
		if d > 0 && (got < d || got-d >= time.Millisecond && got != math.MaxInt64) {
			t.Fatalf("FormatPushback(%v) parses back as %v: want the hint rounded up to the millisecond", d, got)
		}
		if d <= 0 && got != 0 {
			t.Fatalf("FormatPushback(%v) parses back as %v, want 0", d, got)
		}
	})
}
