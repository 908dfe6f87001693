package keelhttp

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseMillis(f *testing.F) {
	for _, s := range []string{"0", "1500", " 20 ", "\t7", "-1", "+1", "1e3", "", " ", "99999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseMillis(v)
		s := strings.Trim(v, " \t")
		digits := s != "" && strings.Trim(s, "0123456789") == ""
		if ok != digits {
			t.Fatalf("parseMillis(%q): ok %v, want %v", v, ok, digits)
		}
		if !ok {
			return
		}
		if got < 0 {
			t.Fatalf("parseMillis(%q): negative %d", v, got)
		}
		want, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			want = math.MaxInt64 // too large: capped
		}
		if got != want {
			t.Fatalf("parseMillis(%q): got %d, want %d", v, got, want)
		}
	})
}
