package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// scalar returns the text of a scalar node, or an error naming what was
// found instead. A YAML number is refused with a hint when wantHint is set.
func scalar(n *yaml.Node, what, hint string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("must be %s, got %s", what, kindName(n))
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		if hint != "" {
			return "", fmt.Errorf("must be %s, got the number %s; write %s", what, n.Value, hint)
		}
	case "!!str":
	default:
		return "", fmt.Errorf("must be %s, got %s", what, kindName(n))
	}
	return n.Value, nil
}

// Duration is a length of time written the Go way: "250ms", "5s", "1m30s".
// A bare YAML number is refused, since its unit would be a guess. The zero
// Duration means "the default" wherever it appears in a Config.
type Duration time.Duration

// ParseDuration parses s with time.ParseDuration and refuses negative values.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (write e.g. 250ms, 5s or 1m30s)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return Duration(d), nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns d in time.Duration's form, such as "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a duration", numberHint(n.Value, "s"))
	if err != nil {
		return err
	}
	return d.UnmarshalText([]byte(s))
}

// numberHint turns a number the user wrote into the text they probably
// meant: "5" with unit "s" gives "5s".
func numberHint(v, unit string) string {
	if len(v) > 20 {
		v = v[:20]
	}
	return strconv.Quote(v + unit)
}

// Percent is a share written as a percentage: "25%" or "25.5%", between
// "0%" and "100%". It is stored as a fraction (25% is 0.25).
type Percent float64

var percentRE = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,4})?%$`)

// ParsePercent parses "25%" or "25.5%" (at most four decimals) into a
// fraction in [0, 1].
func ParsePercent(s string) (Percent, error) {
	if !percentRE.MatchString(s) {
		return 0, fmt.Errorf("invalid percentage %q (write e.g. 25%% or 2.5%%)", s)
	}
	f, err := strconv.ParseFloat(s[:len(s)-1], 64)
	if err != nil || f > 100 {
		return 0, fmt.Errorf("percentage %q must be between 0%% and 100%%", s)
	}
	return Percent(f / 100), nil
}

// Fraction returns p as a fraction: 0.25 for "25%".
func (p Percent) Fraction() float64 { return float64(p) }

// String returns p as a percentage, such as "25%" or "2.5%".
func (p Percent) String() string {
	v := math.Round(float64(p)*100*1e6) / 1e6
	return strconv.FormatFloat(v, 'f', -1, 64) + "%"
}

// MarshalText implements encoding.TextMarshaler.
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePercent.
func (p *Percent) UnmarshalText(b []byte) error {
	v, err := ParsePercent(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	hint := numberHint(n.Value, "%")
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f > 0 && f <= 1 {
		hint = numberHint(strconv.FormatFloat(f*100, 'f', -1, 64), "%")
	}
	s, err := scalar(n, "a percentage", hint)
	if err != nil {
		return err
	}
	return p.UnmarshalText([]byte(s))
}

// ByteSize is a number of bytes: a plain integer, or a number with a unit,
// binary ("64KiB", "10MiB", "1GiB", "1TiB") or decimal ("1KB", "1MB",
// "1GB", "1TB"), with "B" for bytes.
type ByteSize int64

var byteSizeRE = regexp.MustCompile(`^([0-9]{1,19}) ?([KMGT]i?B|B)?$`)

var byteUnits = map[string]int64{
	"": 1, "B": 1,
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

// ParseByteSize parses a size such as "64KiB", "1MB" or "1024".
func ParseByteSize(s string) (ByteSize, error) {
	m := byteSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q (write e.g. 64KiB, 10MiB, 1MB or a number of bytes)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := byteUnits[m[2]]
	if err != nil || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(n * unit), nil
}

// Bytes returns b as a number of bytes.
func (b ByteSize) Bytes() int64 { return int64(b) }

// String returns b in the largest unit that divides it exactly, binary
// units first: "64KiB", "1MB", "100".
func (b ByteSize) String() string {
	n := int64(b)
	if n > 0 {
		for _, u := range []string{"TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "KB"} {
			if n%byteUnits[u] == 0 {
				return strconv.FormatInt(n/byteUnits[u], 10) + u
			}
		}
	}
	return strconv.FormatInt(n, 10)
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseByteSize.
func (b *ByteSize) UnmarshalText(t []byte) error {
	v, err := ParseByteSize(string(t))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler. A YAML integer is a number of
// bytes.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		return b.UnmarshalText([]byte(n.Value))
	}
	s, err := scalar(n, "a size", "")
	if err != nil {
		return err
	}
	return b.UnmarshalText([]byte(s))
}

// Rate is a number of events per period: "100/s", "6000/m", "10/1s",
// "5/500ms". The periods s, m and h are one second, minute and hour; any
// other period is a Go duration. Limit holds the rate in events per second.
type Rate struct {
	// Limit is the rate in events per second.
	Limit float64
}

var errRate = errors.New("invalid rate")

// ParseRate parses a rate such as "100/s" or "10/1s".
func ParseRate(s string) (Rate, error) {
	count, per, ok := strings.Cut(s, "/")
	bad := fmt.Errorf("%w %q (write e.g. 100/s, 6000/m or 10/1s)", errRate, s)
	if !ok || count == "" || len(count) > 40 || strings.Trim(count, "0123456789.") != "" {
		return Rate{}, bad
	}
	n, err := strconv.ParseFloat(count, 64)
	if err != nil {
		return Rate{}, bad
	}
	if n <= 0 {
		return Rate{}, fmt.Errorf("rate %q must count at least one event per period", s)
	}
	var d time.Duration
	switch per {
	case "s":
		d = time.Second
	case "m":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		d, err = time.ParseDuration(per)
		if err != nil || strings.HasPrefix(per, "-") || strings.HasPrefix(per, "+") {
			return Rate{}, bad
		}
		if d <= 0 {
			return Rate{}, fmt.Errorf("rate %q must have a positive period", s)
		}
	}
	return Rate{Limit: n / d.Seconds()}, nil
}

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 { return r.Limit }

// String returns r per second, such as "100/s".
func (r Rate) String() string { return strconv.FormatFloat(r.Limit, 'f', -1, 64) + "/s" }

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRate.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a rate", numberHint(n.Value, "/s"))
	if err != nil {
		return err
	}
	return r.UnmarshalText([]byte(s))
}

// kindName describes a node for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return "the string " + strconv.Quote(v)
	}
	return "an alias"
}
