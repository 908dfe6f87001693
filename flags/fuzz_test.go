package flags_test

import (
	"testing"

	"github.com/keelhq/keel/flags"
)

// FuzzFlag checks validation against the documented rules and that any valid
// flag reads without panicking and with its documented meaning.
func FuzzFlag(f *testing.F) {
	f.Add("checkout.v2", 0.5, true, "user-1")
	f.Add("", 0.0, true, "")
	f.Add("A", 2.0, false, "x")
	f.Add("a-b_c.d", 1.0, true, "\x00")
	f.Fuzz(func(t *testing.T, name string, percent float64, enabled bool, key string) {
		fl := flags.Flag{Name: name, Enabled: enabled, Percent: percent}
		err := fl.Validate()
		valid := name != "" && len(name) <= flags.MaxNameLen && percent >= 0 && percent <= 1
		for i := 0; i < len(name); i++ {
			b := name[i]
			if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-') {
				valid = false
			}
		}
		if (err == nil) != valid {
			t.Fatalf("Validate(%+v) = %v, want valid=%v", fl, err, valid)
		}
		s, err := flags.NewSet(fl)
		if (err == nil) != valid {
			t.Fatalf("NewSet(%+v) error = %v, want valid=%v", fl, err, valid)
		}
		if !valid {
			return
		}
		got := s.EnabledFor(name, key)
		switch {
		case !enabled && got:
			t.Fatalf("EnabledFor on a disabled flag = true")
		case enabled && (percent == 0 || percent == 1) && !got:
			t.Fatalf("EnabledFor on a flag enabled for everyone = false")
		}
		if s.EnabledFor(name, key) != got {
			t.Fatalf("EnabledFor(%q, %q) is not sticky", name, key)
		}
	})
}
