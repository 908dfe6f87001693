package experiment

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package match one of them with
// errors.Is.
var (
	// ErrInvalid means the experiment is not valid; see [FieldError].
	ErrInvalid = errors.New("experiment: invalid experiment")
	// ErrStepFailed means a step of the method failed; see [StepError].
	ErrStepFailed = errors.New("experiment: step failed")
	// ErrNotSteady means the hypothesis did not hold before the method, which
	// was therefore not run: the system was not in its steady state.
	ErrNotSteady = errors.New("experiment: no steady state before the method")
	// ErrDeviated means a probe failed during the method and FailFast
	// stopped it.
	ErrDeviated = errors.New("experiment: the hypothesis was violated")
	// ErrService means a service could not be started or did not become
	// ready.
	ErrService = errors.New("experiment: service failed")
)

// FieldError is one invalid field of an [Experiment]. Path names it the way
// the file does, such as "method[2].duration". It matches [ErrInvalid].
type FieldError struct {
	Path string
	Msg  string
}

// Error returns "experiment: path: message".
func (e *FieldError) Error() string { return "experiment: " + e.Path + ": " + e.Msg }

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// FieldErrors returns the *FieldError values in err, which Validate returns
// joined with errors.Join. It returns nil for an error of any other kind.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok { //nolint:errorlint // the joined errors are *FieldError values themselves
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok { //nolint:errorlint // walking a join
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// StepError is the failure of one step. It matches [ErrStepFailed] and
// unwraps to the step's own error.
type StepError struct {
	Phase string // "method" or "rollbacks"
	Index int    // 0-based index in its list
	Step  string // the step's label
	Err   error
}

// Error returns "experiment: method[2] (kill backend-1): cause".
func (e *StepError) Error() string {
	return fmt.Sprintf("experiment: %s[%d] (%s): %v", e.Phase, e.Index, e.Step, e.Err)
}

// Unwrap returns the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// Is reports whether target is ErrStepFailed.
func (e *StepError) Is(target error) bool { return target == ErrStepFailed }
