package config

import (
	"math"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// node parses one YAML scalar, as it would appear as a value.
func node(t testing.TB, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("v: "+src), &doc); err != nil {
		t.Fatalf("yaml %q: %v", src, err)
	}
	return doc.Content[0].Content[1]
}

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"250ms", 250 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{`"5s"`, 5 * time.Second, ""},
		{"0s", 0, ""},
		{"5", 0, `must be a duration, got the number 5; write "5s"`},
		{"1.5", 0, `must be a duration, got the number 1.5; write "1.5s"`},
		{"5x", 0, `invalid duration "5x" (write e.g. 250ms, 5s or 1m30s)`},
		{"-1s", 0, `duration "-1s" must not be negative`},
		{"true", 0, "must be a duration, got the boolean true"},
		{"[1s]", 0, "must be a duration, got a list"},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalYAML(node(t, tt.in))
		if got := errText(err); got != tt.err || d.Std() != tt.want {
			t.Errorf("Duration %s: got %v, %q; want %v, %q", tt.in, d.Std(), got, tt.want, tt.err)
		}
	}
}

func TestPercentYAML(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		err  string
	}{
		{"25%", 0.25, ""},
		{"25.5%", 0.255, ""},
		{"0%", 0, ""},
		{"100%", 1, ""},
		{"100.5%", 0, `percentage "100.5%" must be between 0% and 100%`},
		{"0.25", 0, `must be a percentage, got the number 0.25; write "25%"`},
		{"25", 0, `must be a percentage, got the number 25; write "25%"`},
		{"25 %", 0, `invalid percentage "25 %" (write e.g. 25% or 2.5%)`},
		{"-5%", 0, `invalid percentage "-5%" (write e.g. 25% or 2.5%)`},
	}
	for _, tt := range tests {
		var p Percent
		err := p.UnmarshalYAML(node(t, tt.in))
		if got := errText(err); got != tt.err || math.Abs(p.Fraction()-tt.want) > 1e-12 {
			t.Errorf("Percent %s: got %v, %q; want %v, %q", tt.in, p.Fraction(), got, tt.want, tt.err)
		}
	}
}

func TestByteSizeYAML(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"64KiB", 64 << 10, ""},
		{"10MiB", 10 << 20, ""},
		{"1MB", 1e6, ""},
		{"1 GiB", 1 << 30, ""},
		{"512B", 512, ""},
		{"1024", 1024, ""},
		{`"1024"`, 1024, ""},
		{"8EiB", 0, `invalid size "8EiB" (write e.g. 64KiB, 10MiB, 1MB or a number of bytes)`},
		{"9999999TiB", 0, `size "9999999TiB" is too large`},
		{"-1", 0, `invalid size "-1" (write e.g. 64KiB, 10MiB, 1MB or a number of bytes)`},
		{"1kb", 0, `invalid size "1kb" (write e.g. 64KiB, 10MiB, 1MB or a number of bytes)`},
	}
	for _, tt := range tests {
		var b ByteSize
		err := b.UnmarshalYAML(node(t, tt.in))
		if got := errText(err); got != tt.err || b.Bytes() != tt.want {
			t.Errorf("ByteSize %s: got %d, %q; want %d, %q", tt.in, b.Bytes(), got, tt.want, tt.err)
		}
	}
}

func TestRateYAML(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		err  string
	}{
		{"100/s", 100, ""},
		{"6000/m", 100, ""},
		{"3600/h", 1, ""},
		{"10/1s", 10, ""},
		{"5/500ms", 10, ""},
		{"0.5/s", 0.5, ""},
		{"100", 0, `must be a rate, got the number 100; write "100/s"`},
		{"0/s", 0, `rate "0/s" must count at least one event per period`},
		{"10/0s", 0, `rate "10/0s" must have a positive period`},
		{"10/-1s", 0, `invalid rate "10/-1s" (write e.g. 100/s, 6000/m or 10/1s)`},
		{"10/d", 0, `invalid rate "10/d" (write e.g. 100/s, 6000/m or 10/1s)`},
		{"1.2.3/s", 0, `invalid rate "1.2.3/s" (write e.g. 100/s, 6000/m or 10/1s)`},
	}
	for _, tt := range tests {
		var r Rate
		err := r.UnmarshalYAML(node(t, tt.in))
		if got := errText(err); got != tt.err || math.Abs(r.Limit-tt.want) > 1e-9 {
			t.Errorf("Rate %s: got %v, %q; want %v, %q", tt.in, r.Limit, got, tt.want, tt.err)
		}
	}
}

// TestMarshalText: each value's text parses back to the same value.
func TestMarshalText(t *testing.T) {
	for _, d := range []Duration{0, Duration(90 * time.Second), Duration(time.Nanosecond)} {
		b, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("Duration %v: text %s parses to %v, %v", d, b, back, err)
		}
	}
	for _, p := range []Percent{0, 0.25, 0.255, 1, 0.0001} {
		b, _ := p.MarshalText()
		var back Percent
		if err := back.UnmarshalText(b); err != nil || math.Abs(float64(back-p)) > 1e-12 {
			t.Errorf("Percent %v: text %s parses to %v, %v", float64(p), b, back, err)
		}
	}
	for _, tt := range []struct {
		b    ByteSize
		want string
	}{{0, "0"}, {100, "100"}, {64 << 10, "64KiB"}, {1e6, "1MB"}, {3 << 40, "3TiB"}, {1500, "1500"}} {
		b, _ := tt.b.MarshalText()
		var back ByteSize
		if string(b) != tt.want || back.UnmarshalText(b) != nil || back != tt.b {
			t.Errorf("ByteSize %d: text %s (want %s) parses to %d", tt.b, b, tt.want, back)
		}
	}
	for _, r := range []Rate{{100}, {0.5}, {1.0 / 3}} {
		b, _ := r.MarshalText()
		var back Rate
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("Rate %v: text %s parses to %v, %v", r, b, back, err)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
