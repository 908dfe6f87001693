package timeout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// ErrExceeded is matched (through errors.Is) by every error a Policy returns
// because its timeout expired.
var ErrExceeded = errors.New("timeout: exceeded")

// ExceededError is the error of an operation that ran out of time. It matches
// ErrExceeded and context.DeadlineExceeded, and unwraps to the operation's own
// error.
//
// It implements keel.StillRunning: when a Policy in return-on-time mode
// abandons an operation, AfterExit(f) runs f once the operation really
// returns; otherwise the operation has already returned and AfterExit runs f
// at once, or, if Err carries work still running (an inner return-on-time
// timeout's abandoned call), when that work exits.
type ExceededError struct {
	// Name is the policy's Config.Name.
	Name string
	// Timeout is the policy's Config.Timeout.
	Timeout time.Duration
	// Err is the operation's error, or nil if it was abandoned before it
	// returned.
	Err error

	run *run // the abandoned operation, nil if it returned
}

// Error describes the timeout and the operation's error, if any.
func (e *ExceededError) Error() string {
	s := "timeout"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	s += ": exceeded " + e.Timeout.String()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrExceeded or context.DeadlineExceeded.
func (e *ExceededError) Is(target error) bool {
	return target == ErrExceeded || target == context.DeadlineExceeded
}

// Unwrap returns Err.
func (e *ExceededError) Unwrap() error { return e.Err }

// AfterExit runs f when the operation has returned: later, on the operation's
// goroutine, if it was abandoned and is still running. If the operation
// returned, but its error carries work still running (an inner return-on-time
// timeout's abandoned call, see keel.AfterExit), f runs when that work exits;
// otherwise at once.
func (e *ExceededError) AfterExit(f func()) {
	if e.run != nil {
		e.run.afterExit(f)
		return
	}
	if !keel.AfterExit(e.Err, f) {
		f()
	}
}

// abandonedError is returned in return-on-time mode when the caller's context
// ends while the operation, ignoring it, goes on. It is the context's error
// plus keel.StillRunning.
type abandonedError struct {
	err error
	run *run
}

func (e *abandonedError) Error() string      { return e.err.Error() }
func (e *abandonedError) Unwrap() error      { return e.err }
func (e *abandonedError) AfterExit(f func()) { e.run.afterExit(f) }

// panicError reports, in EventAbandonedExit, a panic of an operation that had
// already been abandoned, which can no longer reach the caller.
type panicError struct{ value any }

func (e *panicError) Error() string {
	if e.value == nil {
		return "timeout: abandoned operation called runtime.Goexit"
	}
	return fmt.Sprintf("timeout: abandoned operation panicked: %v", e.value)
}

func (e *panicError) Unwrap() error {
	err, _ := e.value.(error)
	return err
}
