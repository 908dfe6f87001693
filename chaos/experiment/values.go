package experiment

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes as a string such as
// "250ms" or "1m30s".
type Duration time.Duration

// String returns time.Duration(d).String().
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as "250ms".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration in time.ParseDuration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit, such as \"250ms\" or \"3s\"", b)
	}
	*d = Duration(v)
	return nil
}

// Percent is a percentage, such as 99.5 for 99.5%. It reads "99.5%" or a
// plain number, and writes "99.5%".
type Percent float64

// String returns p as "99.5%".
func (p Percent) String() string { return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%" }

// MarshalText writes p as "99.5%".
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads "99.5%" or "99.5".
func (p *Percent) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || s == "" {
		return fmt.Errorf("invalid percentage %q: want a number such as \"99%%\" or \"99.5%%\"", b)
	}
	*p = Percent(v)
	return nil
}
