package keelhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/idempotency"
	"github.com/keelhq/keel/limit"
	"github.com/keelhq/keel/ratelimit"
	"github.com/keelhq/keel/retry"
	"github.com/keelhq/keel/shed"
	"github.com/keelhq/keel/timeout"
)

// Response flags: short codes, after Envoy's %RESPONSE_FLAGS%, that say why a
// request failed. The access log writes them as the "flag" attribute ("-" when
// there is none); [StatusOf] returns them. Flags marked (Keel) have no Envoy
// equivalent.
const (
	// FlagNone: nothing went wrong that Keel knows of.
	FlagNone = ""
	// FlagOverflow (UO): a breaker was open or a bulkhead, concurrency limit
	// (limit.ErrLimited), client-side throttle (limit.ErrThrottled), load
	// shedder (shed.ErrShed) or retry budget refused the call. 503.
	FlagOverflow = "UO"
	// FlagRateLimited (RL): a rate limit refused the call. 429.
	FlagRateLimited = "RL"
	// FlagTimeout (UT): a timeout or deadline ran out while the call was in
	// progress. 504.
	FlagTimeout = "UT"
	// FlagConnectFailure (UF): the connection to the upstream could not be
	// established (DNS failure, connection refused, dial timeout). 503.
	FlagConnectFailure = "UF"
	// FlagConnectionTerminated (UC): the upstream connection broke after it
	// was established (reset, unexpected EOF). 502.
	FlagConnectionTerminated = "UC"
	// FlagRetriesExhausted (URX): a retry policy gave up. 502, 503 or 504
	// after the last attempt's cause (see StatusOf).
	FlagRetriesExhausted = "URX"
	// FlagUpstreamStatus (UR, Keel): the upstream answered with a status the
	// client treats as a failure (a [StatusError]). 502.
	FlagUpstreamStatus = "UR"
	// FlagDownstreamDisconnect (DC): the caller went away: its context was
	// canceled. 499.
	FlagDownstreamDisconnect = "DC"
	// FlagDeadline (DT): the request's own deadline, from the
	// [DeadlineHeader], had passed: on arrival (504 without running the
	// handler) or by the time the handler returned.
	FlagDeadline = "DT"
	// FlagPanic (PANIC, Keel): the handler panicked. 500.
	FlagPanic = "PANIC"
	// FlagInvalidHeader (IH): the request's Idempotency-Key header was
	// required and missing, or malformed (idempotency.ErrKeyMissing,
	// idempotency.ErrKeyInvalid). 400.
	FlagInvalidHeader = "IH"
	// FlagRequestInvalid (IRI, Keel): the request cannot be made idempotent
	// (idempotency.ErrRequestInvalid): its client scope could not be
	// determined or its body not read (400), or its body is over the limit
	// (413).
	FlagRequestInvalid = "IRI"
	// FlagKeyReused (IKR, Keel): the idempotency key was used before for a
	// different request (idempotency.ErrKeyReused). 422.
	FlagKeyReused = "IKR"
	// FlagInProgress (IIP, Keel): a request with the same idempotency key is
	// still being handled (idempotency.ErrInProgress). 409.
	FlagInProgress = "IIP"
	// FlagIdempotencyUnavailable (ISU, Keel): the idempotency store failed
	// and the request was not processed (idempotency.ErrUnavailable). 503.
	FlagIdempotencyUnavailable = "ISU"
	// FlagNoRoute (NR): no route matched the request (a gateway). 404.
	FlagNoRoute = "NR"
	// FlagNoHealthyUpstream (UH): the upstream had no host to send the
	// request to: every one was unhealthy, ejected, drained or behind an
	// open breaker (a gateway). 503.
	FlagNoHealthyUpstream = "UH"
	// FlagStale (SC, Keel): the upstream failed and a stale copy of its last
	// good response was served instead (a stale-if-error cache).
	FlagStale = "SC"
	// FlagFallback (FB, Keel): the upstream failed and a fallback response
	// was served instead.
	FlagFallback = "FB"
	// FlagFeatureOff (FO, Keel): a feature flag is off for this request, so
	// the upstream was not called.
	FlagFeatureOff = "FO"
	// FlagBodyTooLarge (BTL, Keel): the request body was over the limit. 413.
	FlagBodyTooLarge = "BTL"
)

// StatusClientClosedRequest (499, from nginx) is the status StatusOf gives
// the caller's own cancellation. The caller has gone, so nobody reads it; it
// exists for access logs and metrics, which must tell "the client gave up"
// from "we failed".
const StatusClientClosedRequest = 499

// StatusOf maps an error to the HTTP status code a server should answer with,
// the Retry-After wait to send with it (zero: send none) and a response flag.
// It is the one place where Keel maps errors to statuses; the middleware,
// [WriteError] and the gateway all use it. The rules, first match wins:
//
//	nil                                         200  -     ""
//	ErrPanic                                    500  -     PANIC
//	ErrNoTimeLeft                               504  -     DT
//	context.Canceled (the caller gave up)       499  -     DC
//	retry.ErrExhausted                          502, 503 or 504  URX
//	    504 if the last attempt timed out, 503 (with its Retry-After) if it
//	    was refused (breaker, bulkhead, rate limit, budget), failed to
//	    connect, or the upstream answered 429 or 503; 502 otherwise
//	idempotency.ErrKeyMissing, ErrKeyInvalid    400  -     IH
//	idempotency.ErrRequestInvalid               400  -     IRI
//	    413 when the error also wraps an *http.MaxBytesError (body too large)
//	idempotency.ErrKeyReused                    422  -     IKR
//	idempotency.ErrInProgress                   409  hint  IIP
//	idempotency.ErrUnavailable                  503  hint  ISU
//	timeout.ErrExceeded, context.DeadlineExceeded  504  -   UT
//	ratelimit.ErrLimited                        429  hint  RL
//	keel.ErrRejected (breaker open, bulkhead full, limits, budget),
//	shed.ErrShed, limit.ErrLimited, limit.ErrThrottled
//	                                            503  hint  UO
//	connection refused / DNS failure (dial)     503  -     UF
//	connection reset / unexpected EOF           502  -     UC
//	*StatusError (upstream 5xx or 429)          502  -     UR
//	anything else                               500  -     ""
//
// "hint" is the error's keel.RetryAfter, rounded up to whole seconds and at
// least one second. A Retry-After is returned with every 409, 429 and 503 —
// one second when the error carries no hint (a full bulkhead, a refused
// connection), as idempotency.Config.StoreRetryAfter defaults to — and with
// no other status.
// The idempotency rules come before keel.ErrRejected, which an
// *idempotency.ConflictError also matches. idempotency.Middleware writes its
// own problems with the same statuses (ErrKeyReused as its
// Config.MismatchStatus says); StatusOf serves handlers and gateways that
// pass its errors on.
func StatusOf(err error) (status int, retryAfter time.Duration, flag string) {
	if err == nil {
		return http.StatusOK, 0, FlagNone
	}
	status, flag = classify(err)
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusConflict:
		// Every 409, 429 and 503 tells the client when to come back, so that
		// well-behaved clients spread their retries instead of hammering a
		// server that is shedding load.
		retryAfter = time.Second
		if d, ok := keel.RetryAfter(err); ok {
			retryAfter = roundUpSeconds(d)
		}
	}
	return status, retryAfter, flag
}

func classify(err error) (int, string) {
	switch {
	case errors.Is(err, ErrPanic):
		return http.StatusInternalServerError, FlagPanic
	case errors.Is(err, ErrNoTimeLeft):
		return http.StatusGatewayTimeout, FlagDeadline
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest, FlagDownstreamDisconnect
	}
	if ex, ok := errors.AsType[*retry.ExhaustedError](err); ok {
		status := http.StatusBadGateway
		if last := ex.Last(); last != nil {
			switch s, f := classify(last); {
			case s == http.StatusGatewayTimeout:
				status = http.StatusGatewayTimeout
			case s == http.StatusServiceUnavailable, s == http.StatusTooManyRequests,
				f == FlagUpstreamStatus && upstreamBusy(last):
				status = http.StatusServiceUnavailable
			}
		}
		return status, FlagRetriesExhausted
	}
	if status, flag, ok := classifyIdempotency(err); ok {
		return status, flag
	}
	switch {
	case errors.Is(err, timeout.ErrExceeded), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, FlagTimeout
	case errors.Is(err, ratelimit.ErrLimited):
		return http.StatusTooManyRequests, FlagRateLimited
	case errors.Is(err, keel.ErrRejected), overloaded(err):
		return http.StatusServiceUnavailable, FlagOverflow
	case isDialError(err):
		return http.StatusServiceUnavailable, FlagConnectFailure
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return http.StatusBadGateway, FlagConnectionTerminated
	}
	if _, ok := errors.AsType[*StatusError](err); ok {
		return http.StatusBadGateway, FlagUpstreamStatus
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return http.StatusGatewayTimeout, FlagTimeout
	}
	return http.StatusInternalServerError, FlagNone
}

// overloaded reports whether err is one of the overload sentinels (a bare
// sentinel does not match keel.ErrRejected; the typed errors do).
func overloaded(err error) bool {
	return errors.Is(err, shed.ErrShed) || errors.Is(err, limit.ErrLimited) || errors.Is(err, limit.ErrThrottled)
}

// classifyIdempotency maps the errors of package idempotency. It runs
// before the generic rules: an in-progress conflict also matches
// keel.ErrRejected, and a store failure may wrap a deadline.
func classifyIdempotency(err error) (int, string, bool) {
	switch {
	case errors.Is(err, idempotency.ErrKeyMissing), errors.Is(err, idempotency.ErrKeyInvalid):
		return http.StatusBadRequest, FlagInvalidHeader, true
	case errors.Is(err, idempotency.ErrRequestInvalid):
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return http.StatusRequestEntityTooLarge, FlagRequestInvalid, true
		}
		return http.StatusBadRequest, FlagRequestInvalid, true
	case errors.Is(err, idempotency.ErrKeyReused):
		return http.StatusUnprocessableEntity, FlagKeyReused, true
	case errors.Is(err, idempotency.ErrInProgress):
		return http.StatusConflict, FlagInProgress, true
	case errors.Is(err, idempotency.ErrUnavailable):
		return http.StatusServiceUnavailable, FlagIdempotencyUnavailable, true
	}
	return 0, "", false
}

// upstreamBusy reports whether err is a StatusError for a 429 or 503: the
// upstream asked to be left alone rather than failed.
func upstreamBusy(err error) bool {
	se, ok := errors.AsType[*StatusError](err)
	return ok && (se.StatusCode == http.StatusTooManyRequests || se.StatusCode == http.StatusServiceUnavailable)
}

// isDialError reports whether err comes from establishing a connection: a
// *net.OpError whose Op is "dial" (which also wraps DNS failures). Nothing of
// a request can have been written when the connection never existed.
func isDialError(err error) bool {
	oe, ok := errors.AsType[*net.OpError](err)
	return ok && oe.Op == "dial"
}

// roundUpSeconds rounds d up to a whole number of seconds, at least one.
func roundUpSeconds(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	s := (d + time.Second - 1) / time.Second
	if s <= 0 { // overflow
		return time.Duration(1<<63-1) / time.Second * time.Second
	}
	return s * time.Second
}

// Problem is an RFC 9457 problem details object, the body [WriteProblem]
// writes with Content-Type application/problem+json.
type Problem struct {
	// Type is a URI reference that identifies the problem type. Empty means
	// "about:blank": the problem is just its status code.
	Type string `json:"type,omitempty"`
	// Title is a short summary of the problem type. Empty means the status
	// code's text (http.StatusText, "Client Closed Request" for 499).
	Title string `json:"title,omitempty"`
	// Status is the HTTP status code. Zero means 500.
	Status int `json:"status"`
	// Detail explains this occurrence. It is written as given: never put an
	// internal error's text here unless it is meant for the client.
	Detail string `json:"detail,omitempty"`
	// Instance is a URI reference that identifies this occurrence, such as
	// the request path. Optional.
	Instance string `json:"instance,omitempty"`
	// Flag is the response flag (an extension member). Optional.
	Flag string `json:"flag,omitempty"`
}

// ContentTypeProblem is the media type of RFC 9457 problem details.
const ContentTypeProblem = "application/problem+json"

// WriteProblem writes p as an application/problem+json response, with a
// Retry-After header of whole seconds when retryAfter is positive (rounded up,
// at least 1). It sets Cache-Control: no-store, since a problem describes one
// moment. It returns the status written.
func WriteProblem(w http.ResponseWriter, p Problem, retryAfter time.Duration) int {
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = statusText(p.Status)
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: every field is a string or an int
		body = []byte(`{"status":` + strconv.Itoa(p.Status) + `}`)
	}
	h := w.Header()
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(roundUpSeconds(retryAfter)/time.Second), 10))
	}
	if p.Flag != "" {
		SetFlag(w, p.Flag)
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
	return p.Status
}

// WriteError answers a request that failed with err: it maps err with
// [StatusOf] and writes a problem+json body whose detail is a fixed
// description of the flag (never err's text, which may hold internal
// detail), whose instance is r's path, and whose flag is the response flag.
// Inside a [Middleware], the flag also goes to the access log. It returns the
// status written. r may be nil.
func WriteError(w http.ResponseWriter, r *http.Request, err error) int {
	status, retryAfter, flag := StatusOf(err)
	p := Problem{Status: status, Detail: flagDetail(flag), Flag: flag}
	if r != nil && r.URL != nil {
		p.Instance = r.URL.Path
	}
	return WriteProblem(w, p, retryAfter)
}

func statusText(status int) string {
	if status == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	return http.StatusText(status)
}

func flagDetail(flag string) string {
	switch flag {
	case FlagOverflow:
		return "the service is overloaded; try again later"
	case FlagRateLimited:
		return "rate limit exceeded; try again later"
	case FlagTimeout:
		return "the request timed out"
	case FlagConnectFailure:
		return "an upstream service could not be reached"
	case FlagConnectionTerminated:
		return "the connection to an upstream service broke"
	case FlagRetriesExhausted:
		return "an upstream service kept failing"
	case FlagUpstreamStatus:
		return "an upstream service failed"
	case FlagDownstreamDisconnect:
		return "the client closed the request"
	case FlagDeadline:
		return "the request's deadline passed"
	case FlagPanic:
		return "internal error"
	case FlagInvalidHeader:
		return "the Idempotency-Key header is missing or invalid"
	case FlagRequestInvalid:
		return "the request cannot be made idempotent"
	case FlagKeyReused:
		return "this Idempotency-Key was used for a different request; use a new key"
	case FlagInProgress:
		return "a request with this Idempotency-Key is still being processed; try again later"
	case FlagIdempotencyUnavailable:
		return "the request was not processed; retry with the same Idempotency-Key"
	}
	return ""
}
