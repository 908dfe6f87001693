package idempotency

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// ProblemTypeBase prefixes the type URI of every problem the middleware
// writes; the fragment names the problem:
//
//	idempotency-key-missing      400  the route requires a key and there is none
//	idempotency-key-invalid      400  the key header is malformed
//	idempotency-request-invalid  400  the scope could not be determined or the body not read
//	                             413  the body is over Config.MaxBodyBytes
//	idempotency-key-reused       422  the key was used for a different request
//	                                  (Config.MismatchStatus: 400 or 409 instead)
//	operation-in-progress        409  the key is held by a request still running (Retry-After)
//	idempotency-unavailable      503  the store failed (Retry-After)
//
// The types stay distinct from any validation problem of the application, so
// a client can tell "you reused a key" from "your payload is invalid" whatever
// the status.
const ProblemTypeBase = "https://github.com/keelhq/keel/blob/main/docs/idempotency.md#"

// problemKind indexes Middleware.problems.
type problemKind uint8

const (
	probKeyMissing problemKind = iota
	probKeyInvalid
	probRequestInvalid
	probTooLarge
	probKeyReused
	probInProgress
	probUnavailable
	numProblems
)

// problem is a precomputed problem response.
type problem struct {
	status int
	body   []byte
	length []string // Content-Length
}

// problemDoc is the JSON body of a problem (RFC 9457 with one extension
// member, retention_seconds, which advertises the retention window).
type problemDoc struct {
	Type             string `json:"type"`
	Title            string `json:"title"`
	Status           int    `json:"status"`
	Detail           string `json:"detail"`
	RetentionSeconds int64  `json:"retention_seconds"`
}

// problemSpecs is the one place where the middleware's outcomes map to HTTP.
func problemSpecs(mismatchStatus int) [numProblems]problemDoc {
	return [numProblems]problemDoc{
		probKeyMissing: {"idempotency-key-missing", "Idempotency-Key is missing", http.StatusBadRequest,
			"this operation requires an Idempotency-Key header", 0},
		probKeyInvalid: {"idempotency-key-invalid", "Idempotency-Key is invalid", http.StatusBadRequest,
			"the Idempotency-Key header must be one structured-field string or token of 1 to 255 bytes", 0},
		probRequestInvalid: {"idempotency-request-invalid", "Request cannot be made idempotent", http.StatusBadRequest,
			"the request could not be read or its client could not be identified", 0},
		probTooLarge: {"idempotency-request-invalid", "Request body too large", http.StatusRequestEntityTooLarge,
			"the request body is larger than the idempotency layer accepts", 0},
		probKeyReused: {"idempotency-key-reused", "Idempotency-Key is already used", mismatchStatus,
			"this Idempotency-Key was used for a different request; use a new key", 0},
		probInProgress: {"operation-in-progress", "A request is outstanding for this Idempotency-Key", http.StatusConflict,
			"a request with this Idempotency-Key is still being processed; retry after the Retry-After delay", 0},
		probUnavailable: {"idempotency-unavailable", "Idempotency store unavailable", http.StatusServiceUnavailable,
			"the request was not processed; retry with the same Idempotency-Key", 0},
	}
}

func buildProblems(mismatchStatus int, retention time.Duration) [numProblems]problem {
	var out [numProblems]problem
	for i, d := range problemSpecs(mismatchStatus) {
		d.Type = ProblemTypeBase + d.Type
		d.RetentionSeconds = int64(retention / time.Second)
		body, err := json.Marshal(d)
		if err != nil { // cannot happen: strings and integers only
			panic(err)
		}
		body = append(body, '\n')
		out[i] = problem{status: d.Status, body: body, length: []string{strconv.Itoa(len(body))}}
	}
	return out
}

var (
	valProblemJSON = []string{"application/problem+json"}
	valNoStore     = []string{"no-store"}
	valNosniff     = []string{"nosniff"}
	valTrue        = []string{"true"}
)

// writeProblem writes problem k, with a Retry-After of whole seconds when
// retryAfter is positive.
func (m *Middleware) writeProblem(w http.ResponseWriter, k problemKind, retryAfter time.Duration) {
	p := &m.problems[k]
	h := w.Header()
	h["Content-Type"] = valProblemJSON
	h["Content-Length"] = p.length
	h["Cache-Control"] = valNoStore
	h["X-Content-Type-Options"] = valNosniff
	h["Idempotency-Retention"] = m.retentionVal
	if retryAfter > 0 {
		h["Retry-After"] = []string{secondsString(retryAfter)}
	}
	w.WriteHeader(p.status)
	_, _ = w.Write(p.body)
}
