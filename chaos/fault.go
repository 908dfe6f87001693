package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is the kind of a [Fault].
type Kind string

// The fault kinds.
const (
	// KindLatency delays the request by Latency ± Jitter before it goes on.
	KindLatency Kind = "latency"
	// KindError answers with an error instead of running the request: HTTP
	// Status and Body for the middleware and the transport, Err (or an
	// [*InjectedError]) for the policy.
	KindError Kind = "error"
	// KindAbort resets the connection: the middleware closes the client's
	// connection with SO_LINGER 0 (the client reads ECONNRESET), the
	// transport and the policy return an error matching syscall.ECONNRESET.
	KindAbort Kind = "abort"
	// KindTimeout black-holes the request: nothing happens until the
	// request's context ends or MaxHang passes.
	KindTimeout Kind = "timeout"
	// KindBandwidth throttles the response body to BytesPerSecond. It applies
	// to the middleware and the transport; the policy ignores it.
	KindBandwidth Kind = "bandwidth"
)

// Fault is one fault an [Injector] injects, with the requests it targets.
// It is a plain value, read and written as JSON or YAML by configuration
// files and admin APIs; durations are strings such as "250ms".
//
// A Fault whose targeting fields are all zero applies to every request.
type Fault struct {
	// ID names the fault within its Injector. Add assigns "<kind>-<n>" when
	// it is empty.
	ID string `json:"id,omitempty" yaml:"id,omitempty"`
	// Kind is what the fault does. Required.
	Kind Kind `json:"kind" yaml:"kind"`

	// Latency is the delay of a latency fault. Jitter spreads it uniformly
	// over [Latency-Jitter, Latency+Jitter] (never below zero).
	Latency Duration `json:"latency,omitempty" yaml:"latency,omitempty"`
	Jitter  Duration `json:"jitter,omitempty" yaml:"jitter,omitempty"`

	// Status is the HTTP status of an error fault, in [200, 600). Zero means
	// 500. Body is the response body; empty means the status text.
	Status int    `json:"status,omitempty" yaml:"status,omitempty"`
	Body   string `json:"body,omitempty" yaml:"body,omitempty"`
	// Err, when set, is the error an error fault returns from the policy and
	// the transport instead of an HTTP response. Go API only.
	Err error `json:"-" yaml:"-"`

	// MaxHang bounds a timeout fault. Zero means it hangs until the request's
	// context ends.
	MaxHang Duration `json:"max_hang,omitempty" yaml:"max_hang,omitempty"`

	// BytesPerSecond is the rate a bandwidth fault lets the response body
	// through. Required for bandwidth faults.
	BytesPerSecond int64 `json:"bytes_per_second,omitempty" yaml:"bytes_per_second,omitempty"`

	// Percent is the chance, in percent, that the fault fires for a request it
	// matches, drawn from the Injector's seeded generator. Nil means 100; a
	// pointer to 0 means never (see [Percent]).
	Percent *float64 `json:"percent,omitempty" yaml:"percent,omitempty"`
	// PathPrefix restricts the fault to HTTP requests whose URL path starts
	// with it. Faults with a PathPrefix or Headers never match in the policy,
	// which sees no request.
	PathPrefix string `json:"path_prefix,omitempty" yaml:"path_prefix,omitempty"`
	// Host restricts the fault to HTTP requests to this host ("host:port",
	// as in the URL the transport sends to, or the Host the middleware
	// receives): in a gateway, one replica of an upstream.
	Host string `json:"host,omitempty" yaml:"host,omitempty"`
	// Route restricts the fault to requests whose context names this route
	// (WithRoute): a gateway marks each request with the name of the route
	// it matched, so a fault can target one route. Unlike PathPrefix it also
	// applies in the policy, which sees the context.
	Route string `json:"route,omitempty" yaml:"route,omitempty"`
	// Headers restricts the fault to HTTP requests carrying every listed
	// header with exactly the listed value.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`

	// Until is when the fault expires by itself: from then on it matches
	// nothing and List no longer shows it. Zero means never.
	Until time.Time `json:"until,omitzero" yaml:"until,omitempty"`
	// Duration, when positive, sets Until to Duration after the fault is
	// added (it is cleared then; Until is what List shows).
	Duration Duration `json:"duration,omitempty" yaml:"duration,omitempty"`
}

// Percent returns a pointer to p, for [Fault.Percent].
func Percent(p float64) *float64 { return &p }

// Validate reports the first invalid field of f, or nil.
func (f *Fault) Validate() error {
	switch f.Kind {
	case KindLatency:
		if f.Latency < 0 || f.Jitter < 0 {
			return fmt.Errorf("chaos: Fault.Latency and Fault.Jitter must be >= 0, got %v and %v", f.Latency, f.Jitter)
		}
		if f.Latency == 0 && f.Jitter == 0 {
			return errors.New("chaos: Fault.Latency must be > 0 for a latency fault")
		}
	case KindError:
		if f.Status != 0 && (f.Status < 200 || f.Status >= 600) {
			return fmt.Errorf("chaos: Fault.Status must be in [200, 600), got %d", f.Status)
		}
	case KindAbort:
	case KindTimeout:
		if f.MaxHang < 0 {
			return fmt.Errorf("chaos: Fault.MaxHang must be >= 0, got %v", f.MaxHang)
		}
	case KindBandwidth:
		if f.BytesPerSecond <= 0 {
			return fmt.Errorf("chaos: Fault.BytesPerSecond must be > 0 for a bandwidth fault, got %d", f.BytesPerSecond)
		}
	case "":
		return errors.New("chaos: Fault.Kind is required")
	default:
		return fmt.Errorf("chaos: Fault.Kind %q is not one of latency, error, abort, timeout, bandwidth", f.Kind)
	}
	if f.Percent != nil && !(*f.Percent >= 0 && *f.Percent <= 100) {
		return fmt.Errorf("chaos: Fault.Percent must be in [0, 100], got %v", *f.Percent)
	}
	if f.Duration < 0 {
		return fmt.Errorf("chaos: Fault.Duration must be >= 0, got %v", f.Duration)
	}
	for k := range f.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return fmt.Errorf("chaos: Fault.Headers has an invalid header name %q", k)
		}
	}
	return nil
}

// Duration is a time.Duration that reads and writes as a string such as
// "250ms" or "1m30s" in JSON and YAML. A JSON number is read as nanoseconds.
type Duration time.Duration

// String returns time.Duration(d).String().
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as "250ms".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration in time.ParseDuration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("chaos: invalid duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON reads a string in time.ParseDuration syntax, or a number of
// nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return d.UnmarshalText([]byte(s))
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("chaos: invalid duration %s: want a string such as \"250ms\"", b)
	}
	*d = Duration(n)
	return nil
}
