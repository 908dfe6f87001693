package telemetry

import (
	"context"
	"log/slog"

	"github.com/keelhq/keel"
	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys [LogHandler] adds.
const (
	LogTraceID = "trace_id"
	LogSpanID  = "span_id"
)

// LogHandler is a slog.Handler that adds the trace_id and span_id of the span
// in a record's context (hex, as W3C traceparent writes them) to the record,
// then passes it to the handler it wraps. Records whose context has no valid
// span context pass through unchanged. Inside groups opened with WithGroup,
// the two attributes are qualified by those groups like any other attribute.
//
// Use [NewLogHandler]. A LogHandler is safe for concurrent use if the wrapped
// handler is.
type LogHandler struct {
	next slog.Handler
}

var _ slog.Handler = (*LogHandler)(nil)

// NewLogHandler returns a LogHandler wrapping next, which must not be nil.
func NewLogHandler(next slog.Handler) *LogHandler {
	if next == nil {
		panic("telemetry: NewLogHandler with a nil handler")
	}
	return &LogHandler{next: next}
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds trace_id and span_id when ctx carries a valid span context, and
// passes r on.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(
			slog.String(LogTraceID, sc.TraceID().String()),
			slog.String(LogSpanID, sc.SpanID().String()),
		)
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a LogHandler wrapping next.WithAttrs(attrs).
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a LogHandler wrapping next.WithGroup(name).
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name)}
}

// LogConfig configures [Logs]. The zero value is ready to use.
type LogConfig struct {
	// Logger receives the records. Nil means slog.Default() at the time of
	// each event.
	Logger *slog.Logger
}

// Validate reports the first problem with c. Every LogConfig is valid today.
func (c *LogConfig) Validate() error { return nil }

// Logs is a keel.Observer that logs events as slog records, with the event's
// context, so a [LogHandler] adds the trace of the call. Levels:
//
//   - Warn: rejections, retries exhausted, timeouts, abandoned operations,
//     breaker transitions to open or forced_open, and the idempotency
//     layer's takeovers and lost leases;
//   - Info: retries, fallbacks, other breaker transitions, abandoned
//     operations that exited;
//   - Debug: attempts, calls (success and failure), idempotent replays and
//     permit waits that were not zero.
//
// Permit acquisitions without a wait and releases are not logged. Nothing is
// built for a level the logger does not enable. Messages are fixed
// ("keel: rejected", "keel: retry", …); the details are attributes with the
// keys of the Attr… constants.
//
// Use [NewLogs]; the zero Logs logs to slog.Default(). A Logs is safe for
// concurrent use.
type Logs struct {
	logger *slog.Logger
}

var _ keel.Observer = (*Logs)(nil)

// NewLogs returns a Logs configured by cfg, or the error of cfg.Validate.
func NewLogs(cfg LogConfig) (*Logs, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Logs{logger: cfg.Logger}, nil
}

// MustNewLogs is like [NewLogs] but panics on error.
func MustNewLogs(cfg LogConfig) *Logs {
	l, err := NewLogs(cfg)
	if err != nil {
		panic(err)
	}
	return l
}

// Observe logs e at the level its kind calls for.
func (l *Logs) Observe(ctx context.Context, e keel.Event) {
	level, ok := logLevel(e)
	if !ok {
		return
	}
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String(string(AttrPolicy), e.Policy))
	if e.Name != "" {
		attrs = append(attrs, slog.String(string(AttrName), e.Name))
	}
	switch e.Kind {
	case keel.EventSuccess, keel.EventFailure:
		attrs = append(attrs, slog.String(string(AttrOutcome), e.Outcome.String()), slog.Duration(string(AttrDuration), e.Duration))
	case keel.EventAttempt:
		attrs = append(attrs, slog.Int(string(AttrAttempt), e.Attempt), slog.String(string(AttrOutcome), e.Outcome.String()),
			slog.Duration(string(AttrDuration), e.Duration))
	case keel.EventRetry:
		attrs = append(attrs, slog.Int(string(AttrAttempt), e.Attempt), slog.Duration(string(AttrDelay), e.Delay))
	case keel.EventRejected:
		attrs = append(attrs, slog.String(string(AttrReason), e.Reason.String()))
	case keel.EventExhausted:
		attrs = append(attrs, slog.Int(string(AttrAttempt), e.Attempt), slog.String(string(AttrReason), e.Reason.String()))
	case keel.EventStateChange:
		attrs = append(attrs, slog.String(string(AttrFrom), e.From), slog.String(string(AttrTo), e.To))
	case keel.EventTimeout, keel.EventAbandoned, keel.EventAbandonedExit, keel.EventAcquired:
		attrs = append(attrs, slog.Duration(string(AttrDuration), e.Duration))
	case keel.EventTakeover:
		attrs = append(attrs, slog.Int(string(AttrAttempt), e.Attempt))
	case keel.EventLeaseLost:
		if e.Duration > 0 {
			attrs = append(attrs, slog.Duration(string(AttrDuration), e.Duration))
		}
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String(string(AttrError), e.Err.Error()))
	}
	logger.LogAttrs(ctx, level, logMessage(e.Kind), attrs...)
}

func logLevel(e keel.Event) (slog.Level, bool) {
	switch e.Kind {
	case keel.EventRejected, keel.EventExhausted, keel.EventTimeout, keel.EventAbandoned,
		keel.EventTakeover, keel.EventLeaseLost:
		return slog.LevelWarn, true
	case keel.EventStateChange:
		if e.To == "open" || e.To == "forced_open" {
			return slog.LevelWarn, true
		}
		return slog.LevelInfo, true
	case keel.EventRetry, keel.EventFallback, keel.EventAbandonedExit:
		return slog.LevelInfo, true
	case keel.EventAttempt, keel.EventSuccess, keel.EventFailure, keel.EventReplayed:
		return slog.LevelDebug, true
	case keel.EventAcquired:
		return slog.LevelDebug, e.Duration > 0
	}
	return 0, false
}

// logMessage returns "keel: " followed by the kind.
func logMessage(k keel.EventKind) string {
	if int(k) < len(logMessages) && logMessages[k] != "" {
		return logMessages[k]
	}
	return "keel: " + k.String()
}

var logMessages = kindNames("keel: ")
