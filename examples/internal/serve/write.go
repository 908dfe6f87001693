package serve

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/keelhq/keel/keelhttp"
)

// Problem writes a problem+json response with status and detail for r; a
// 503 says to retry after a second.
func Problem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	var retryAfter time.Duration
	if status == http.StatusServiceUnavailable {
		retryAfter = time.Second
	}
	keelhttp.WriteProblem(w, keelhttp.Problem{Status: status, Detail: detail, Instance: r.URL.Path}, retryAfter)
}

// WriteJSON writes v as a JSON response with status, followed by a
// newline; a v that does not encode gives a 500.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
