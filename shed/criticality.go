package shed

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Criticality is how important a request is. The classes are ordered:
// Sheddable < Default < Critical. The zero value is Default.
type Criticality int8

const (
	// Sheddable requests are refused first: batch jobs, prefetches, retries
	// that can wait.
	Sheddable Criticality = -1
	// Default is the class of requests that carry no criticality.
	Default Criticality = 0
	// Critical requests may use the shedder's whole capacity: user-facing
	// requests whose failure is visible.
	Critical Criticality = 1
)

// ErrCriticality is matched by the error of ParseCriticality for a value it
// does not know.
var ErrCriticality = errors.New("shed: unknown criticality")

// String returns "sheddable", "default" or "critical".
func (c Criticality) String() string {
	switch c {
	case Sheddable:
		return "sheddable"
	case Default:
		return "default"
	case Critical:
		return "critical"
	}
	return "criticality(" + strconv.Itoa(int(c)) + ")"
}

// Valid reports whether c is one of Sheddable, Default and Critical.
func (c Criticality) Valid() bool { return c >= Sheddable && c <= Critical }

// index maps a valid class to 0, 1, 2.
func (c Criticality) index() int { return int(c) + 1 }

// ParseCriticality parses a header value such as "critical". It ignores case
// and surrounding spaces and accepts "critical", "default" and "sheddable", and
// also the gRPC/SRE names "critical_plus" (as Critical) and "sheddable_plus" (as
// Sheddable). Any other value, including "", returns Default and an error
// matching ErrCriticality; a caller that treats a missing header as Default can
// test for "" first. It does not allocate for a known value.
func ParseCriticality(s string) (Criticality, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.EqualFold(s, "critical"), strings.EqualFold(s, "critical_plus"):
		return Critical, nil
	case strings.EqualFold(s, "default"):
		return Default, nil
	case strings.EqualFold(s, "sheddable"), strings.EqualFold(s, "sheddable_plus"):
		return Sheddable, nil
	}
	return Default, &parseError{s}
}

type parseError struct{ s string }

func (e *parseError) Error() string        { return "shed: unknown criticality " + strconv.Quote(e.s) }
func (e *parseError) Is(target error) bool { return target == ErrCriticality }

type ctxKey struct{}

// WithCriticality returns a copy of ctx that carries c. An invalid c is stored
// as Default.
func WithCriticality(ctx context.Context, c Criticality) context.Context {
	if !c.Valid() {
		c = Default
	}
	return context.WithValue(ctx, ctxKey{}, c)
}

// CriticalityFrom returns the criticality ctx carries, or Default if none.
func CriticalityFrom(ctx context.Context) Criticality {
	if c, ok := ctx.Value(ctxKey{}).(Criticality); ok {
		return c
	}
	return Default
}
