package idempotency_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keelhq/keel/idempotency"
)

func TestParseKey(t *testing.T) {
	long := strings.Repeat("k", idempotency.MaxKeyLength)
	tests := []struct {
		name    string
		values  []string
		want    string
		wantErr error
	}{
		{"bare uuid", []string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}, "8e03978e-40d5-43e8-bc93-6894a57f9324", nil},
		{"quoted uuid", []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}, "8e03978e-40d5-43e8-bc93-6894a57f9324", nil},
		{"surrounding whitespace", []string{" \t\"abc\"\t "}, "abc", nil},
		{"quoted with space", []string{`"a b"`}, "a b", nil},
		{"quoted with escapes", []string{`"a\"b\\c"`}, `a"b\c`, nil},
		{"bare token chars", []string{"a:b/c!#$%&'*+-.^_`|~9"}, "a:b/c!#$%&'*+-.^_`|~9", nil},
		{"255 bytes", []string{long}, long, nil},
		{"255 bytes quoted", []string{`"` + long + `"`}, long, nil},
		{"no field line", nil, "", idempotency.ErrKeyMissing},
		{"two field lines", []string{"a", "b"}, "", idempotency.ErrKeyInvalid},
		{"empty", []string{""}, "", idempotency.ErrKeyInvalid},
		{"blank", []string{"  "}, "", idempotency.ErrKeyInvalid},
		{"empty string", []string{`""`}, "", idempotency.ErrKeyInvalid},
		{"256 bytes", []string{long + "k"}, "", idempotency.ErrKeyInvalid},
		{"256 bytes quoted", []string{`"` + long + `k"`}, "", idempotency.ErrKeyInvalid},
		{"list", []string{"a, b"}, "", idempotency.ErrKeyInvalid},
		{"list of strings", []string{`"a", "b"`}, "", idempotency.ErrKeyInvalid},
		{"parameters", []string{"a;p=1"}, "", idempotency.ErrKeyInvalid},
		{"string with parameters", []string{`"a";p=1`}, "", idempotency.ErrKeyInvalid},
		{"inner space bare", []string{"a b"}, "", idempotency.ErrKeyInvalid},
		{"control char bare", []string{"a\x01b"}, "", idempotency.ErrKeyInvalid},
		{"control char quoted", []string{"\"a\x7fb\""}, "", idempotency.ErrKeyInvalid},
		{"tab inside quotes", []string{"\"a\tb\""}, "", idempotency.ErrKeyInvalid},
		{"non-ascii", []string{"clé"}, "", idempotency.ErrKeyInvalid},
		{"unterminated", []string{`"abc`}, "", idempotency.ErrKeyInvalid},
		{"bad escape", []string{`"a\nb"`}, "", idempotency.ErrKeyInvalid},
		{"lone backslash", []string{`"abc\"`}, "", idempotency.ErrKeyInvalid},
		{"byte sequence", []string{":YWJj:"}, ":YWJj:", nil},
		{"integer", []string{"42"}, "42", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idempotency.ParseKey(tt.values)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("ParseKey(%q) = %q, %v; want %q, %v", tt.values, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseKeyAllocs(t *testing.T) {
	vals := []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}
	if n := testing.AllocsPerRun(100, func() { _, _ = idempotency.ParseKey(vals) }); n != 0 {
		t.Errorf("ParseKey of a quoted key without escapes: %v allocs, want 0", n)
	}
}

// FuzzParseKey checks that ParseKey never panics, that every key it accepts
// is 1 to 255 printable ASCII bytes, and that the quoted and bare forms of an
// accepted key parse to the same key.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"abc", `"abc"`, `"a\"b"`, "a, b", `"`, `"\`, "", " x ", "a;b=c", "\x00", `"a\\"`, strings.Repeat("z", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		key, err := idempotency.ParseKey([]string{v})
		if err != nil {
			if !errors.Is(err, idempotency.ErrKeyInvalid) {
				t.Fatalf("ParseKey(%q): error %v does not match ErrKeyInvalid", v, err)
			}
			return
		}
		if len(key) == 0 || len(key) > idempotency.MaxKeyLength {
			t.Fatalf("ParseKey(%q) = %q: length %d outside 1..255", v, key, len(key))
		}
		for i := 0; i < len(key); i++ {
			if key[i] < 0x20 || key[i] > 0x7e {
				t.Fatalf("ParseKey(%q) = %q: byte %#x is not printable ASCII", v, key, key[i])
			}
		}
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
		if got, err := idempotency.ParseKey([]string{quoted}); err != nil || got != key {
			t.Fatalf("quoted form %q of %q parses to %q, %v", quoted, key, got, err)
		}
		if key[0] == '"' || strings.Trim(key, " \t") != key {
			return // the bare form would read as a string, or lose its spaces
		}
		if got, err := idempotency.ParseKey([]string{key}); err == nil && got != key {
			t.Fatalf("bare form of %q parses to %q", key, got)
		}
	})
}
