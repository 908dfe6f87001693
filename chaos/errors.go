package chaos

import (
	"errors"
	"net/http"
	"strconv"
	"syscall"
)

// ErrInjected is matched (through errors.Is) by every error a fault injected.
var ErrInjected = errors.New("chaos: injected fault")

// InjectedError is the error of a request a fault stopped. It matches
// ErrInjected; an abort fault's error also matches syscall.ECONNRESET, and a
// timeout fault's error unwraps to the context's error when the context
// ended the hang.
type InjectedError struct {
	// Fault is the ID of the fault.
	Fault string
	// Kind is the kind of the fault.
	Kind Kind
	// Status is the HTTP status of an error fault, 0 otherwise.
	Status int
	// Err is what the fault wraps: Fault.Err of an error fault,
	// syscall.ECONNRESET for an abort, the context's error for a timeout
	// the context ended; may be nil.
	Err error
}

// Error describes the fault.
func (e *InjectedError) Error() string {
	s := "chaos: injected " + string(e.Kind) + " fault " + strconv.Quote(e.Fault)
	if e.Status != 0 {
		s += ": " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns e.Err.
func (e *InjectedError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInjected.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// Timeout reports whether the error is a timeout fault, as net.Error does.
func (e *InjectedError) Timeout() bool { return e.Kind == KindTimeout }

var errReset error = syscall.ECONNRESET
