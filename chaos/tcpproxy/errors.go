package tcpproxy

import (
	"errors"
	"net/http"
	"strings"
)

// Errors of the Server's methods. The control API answers them with the
// status codes Toxiproxy uses.
var (
	// ErrProxyNotFound: no proxy has that name (404).
	ErrProxyNotFound = errors.New("tcpproxy: proxy not found")
	// ErrProxyExists: a proxy with that name exists (409).
	ErrProxyExists = errors.New("tcpproxy: proxy already exists")
	// ErrToxicNotFound: the proxy has no toxic with that name (404).
	ErrToxicNotFound = errors.New("tcpproxy: toxic not found")
	// ErrToxicExists: the proxy has a toxic with that name (409).
	ErrToxicExists = errors.New("tcpproxy: toxic already exists")
	// ErrBadRequest: a field is missing or invalid (400). The error wrapping
	// it says which.
	ErrBadRequest = errors.New("tcpproxy: bad request")
	// ErrClosed: the Server was closed.
	ErrClosed = errors.New("tcpproxy: server closed")
)

// apiError is the JSON body of a failed control API call, as Toxiproxy
// writes it.
type apiError struct {
	Message string `json:"error"`
	Status  int    `json:"status"`
}

// toAPIError maps err to its status code and message. It is the one place
// where errors become HTTP statuses.
func toAPIError(err error) *apiError {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrProxyNotFound), errors.Is(err, ErrToxicNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrProxyExists), errors.Is(err, ErrToxicExists):
		status = http.StatusConflict
	case errors.Is(err, ErrBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, ErrClosed):
		status = http.StatusServiceUnavailable
	}
	msg := strings.TrimPrefix(err.Error(), "tcpproxy: ")
	msg = strings.TrimPrefix(msg, "bad request: ")
	return &apiError{Message: msg, Status: status}
}
