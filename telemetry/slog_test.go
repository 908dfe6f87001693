package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keelhq/keel"
	"github.com/keelhq/keel/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// decode splits JSON lines into maps.
func decode(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("decoding %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// A record logged inside a traced call carries the span's trace and span IDs.
func TestLogHandlerTraceID(t *testing.T) {
	tr, exp := newTracing(t, "op")
	var buf bytes.Buffer
	logger := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil)))

	logger.InfoContext(context.Background(), "outside")
	err := tr.Do(context.Background(), func(ctx context.Context) error {
		logger.InfoContext(ctx, "inside")
		logger.With("k", "v").InfoContext(ctx, "with attrs")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sc := exp.GetSpans()[0].SpanContext
	recs := decode(t, &buf)
	if len(recs) != 3 {
		t.Fatalf("records: got %d, want 3", len(recs))
	}
	if _, ok := recs[0]["trace_id"]; ok {
		t.Errorf("record outside a span: got trace_id %v, want none", recs[0]["trace_id"])
	}
	for _, r := range recs[1:] {
		got := [2]any{r["trace_id"], r["span_id"]}
		want := [2]any{sc.TraceID().String(), sc.SpanID().String()}
		if got != want {
			t.Errorf("record %q: got trace/span %v, want %v", r["msg"], got, want)
		}
	}
	if recs[2]["k"] != "v" {
		t.Errorf("WithAttrs lost: got %v", recs[2])
	}
}

func TestLogHandlerGroupAndLevel(t *testing.T) {
	var buf bytes.Buffer
	h := telemetry.NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if h.Enabled(context.Background(), slog.LevelInfo) {
		t.Errorf("Enabled(Info) with a Warn handler: got true, want false")
	}
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
	}))
	slog.New(h).WithGroup("g").WarnContext(ctx, "grouped")
	got := decode(t, &buf)[0]["g"]
	want := map[string]any{"trace_id": "01000000000000000000000000000000", "span_id": "0200000000000000"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
}

func TestLogs(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		e    keel.Event
		want map[string]any // nil: not logged at Debug
	}{
		{"rejected", keel.Event{Kind: keel.EventRejected, Policy: "breaker", Name: "db", Reason: keel.ReasonCircuitOpen},
			map[string]any{"level": "WARN", "msg": "keel: rejected", "keel.policy": "breaker", "keel.name": "db", "keel.reason": "circuit_open"}},
		{"opened", keel.Event{Kind: keel.EventStateChange, Policy: "breaker", From: "closed", To: "open"},
			map[string]any{"level": "WARN", "msg": "keel: state_change", "keel.policy": "breaker", "keel.from": "closed", "keel.to": "open"}},
		{"closed", keel.Event{Kind: keel.EventStateChange, Policy: "breaker", From: "half_open", To: "closed"},
			map[string]any{"level": "INFO", "msg": "keel: state_change", "keel.policy": "breaker", "keel.from": "half_open", "keel.to": "closed"}},
		{"retry", keel.Event{Kind: keel.EventRetry, Policy: "retry", Attempt: 2, Delay: 1500000, Err: errBoom},
			map[string]any{"level": "INFO", "msg": "keel: retry", "keel.policy": "retry", "keel.attempt": 2.0, "keel.delay": 1500000.0, "keel.error": "boom"}},
		{"exhausted", keel.Event{Kind: keel.EventExhausted, Policy: "retry", Attempt: 3, Reason: keel.ReasonBudget},
			map[string]any{"level": "WARN", "msg": "keel: exhausted", "keel.policy": "retry", "keel.attempt": 3.0, "keel.reason": "budget"}},
		{"attempt", keel.Event{Kind: keel.EventAttempt, Policy: "retry", Attempt: 1, Outcome: keel.OutcomeFailure},
			map[string]any{"level": "DEBUG", "msg": "keel: attempt", "keel.policy": "retry", "keel.attempt": 1.0, "keel.outcome": "failure", "keel.duration": 0.0}},
		{"wait", keel.Event{Kind: keel.EventAcquired, Policy: "bulkhead", Duration: 7},
			map[string]any{"level": "DEBUG", "msg": "keel: acquired", "keel.policy": "bulkhead", "keel.duration": 7.0}},
		{"acquired without wait", keel.Event{Kind: keel.EventAcquired, Policy: "bulkhead"}, nil},
		{"released", keel.Event{Kind: keel.EventReleased, Policy: "bulkhead"}, nil},
		{"replayed", keel.Event{Kind: keel.EventReplayed, Policy: "idempotency", Name: "orders"},
			map[string]any{"level": "DEBUG", "msg": "keel: replayed", "keel.policy": "idempotency", "keel.name": "orders"}},
		{"takeover", keel.Event{Kind: keel.EventTakeover, Policy: "idempotency", Attempt: 2, Err: errBoom},
			map[string]any{"level": "WARN", "msg": "keel: takeover", "keel.policy": "idempotency", "keel.attempt": 2.0, "keel.error": "boom"}},
		{"lease lost after the handler ran", keel.Event{Kind: keel.EventLeaseLost, Policy: "idempotency", Duration: 9, Err: errBoom},
			map[string]any{"level": "WARN", "msg": "keel: lease_lost", "keel.policy": "idempotency", "keel.duration": 9.0, "keel.error": "boom"}},
		{"lease lost by a heartbeat", keel.Event{Kind: keel.EventLeaseLost, Policy: "idempotency"},
			map[string]any{"level": "WARN", "msg": "keel: lease_lost", "keel.policy": "idempotency"}},
		{"rejected: key reused", keel.Event{Kind: keel.EventRejected, Policy: "idempotency", Reason: keel.ReasonKeyReused},
			map[string]any{"level": "WARN", "msg": "keel: rejected", "keel.policy": "idempotency", "keel.reason": "key_reused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))
			telemetry.MustNewLogs(telemetry.LogConfig{Logger: logger}).Observe(context.Background(), tt.e)
			recs := decode(t, &buf)
			var got map[string]any
			if len(recs) > 0 {
				got = recs[0]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || len(recs) > 1 {
				t.Errorf("records %v (-want +got):\n%s", len(recs), diff)
			}
		})
	}
}

func TestLogsDisabledLevelAllocatesNothing(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError}))
	l := telemetry.MustNewLogs(telemetry.LogConfig{Logger: logger})
	e := keel.Event{Kind: keel.EventRejected, Policy: "breaker", Reason: keel.ReasonCircuitOpen}
	if got := testing.AllocsPerRun(100, func() { l.Observe(context.Background(), e) }); got != 0 {
		t.Errorf("Observe below the logger's level: got %v allocs, want 0", got)
	}
}
