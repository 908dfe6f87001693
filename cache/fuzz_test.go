package cache

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestDirectiveIn(t *testing.T) {
	tests := []struct {
		v, name string
		want    bool
	}{
		{"no-store", "no-store", true},
		{"max-age=60, No-Store", "no-store", true},
		{"public,no-store=", "no-store", true},
		{`private="Set-Cookie, X-A"`, "private", true},
		{`no-cache="no-store, x"`, "no-store", false},
		{`x="a\"no-store", max-age=1`, "no-store", false},
		{"no-stores", "no-store", false},
		{"max-age=no-store", "no-store", false},
		{"", "no-store", false},
		{" ,  ,private", "private", true},
	}
	for _, tt := range tests {
		if got := directiveIn(tt.v, tt.name); got != tt.want {
			t.Errorf("directiveIn(%q, %q) = %v, want %v", tt.v, tt.name, got, tt.want)
		}
	}
	h := http.Header{"Cache-Control": {"max-age=1", "private"}}
	if !hasDirective(h, "private") {
		t.Errorf("hasDirective(%v, private) = false, want true (second line)", h)
	}
}

func FuzzDirectiveIn(f *testing.F) {
	for _, s := range []string{"no-store", `private="a, no-store"`, `a="\`, "no-cache ,max-age=0", `"`, `x=",`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := directiveIn(v, "no-store")
		if got && !strings.Contains(strings.ToLower(v), "no-store") {
			t.Errorf("directiveIn(%q) found no-store where there is none", v)
		}
		// Appending the directive as a new element always finds it, unless
		// v leaves a quoted string open.
		if strings.Count(v, `"`) == 0 && !directiveIn(v+", no-store", "no-store") {
			t.Errorf("directiveIn(%q + \", no-store\") = false, want true", v)
		}
	})
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a=1", "a=1"},
		{"a=1&b=2", "a=1&b=2"},
		{"b=2&a=1", "a=1&b=2"},
		{"b=2&a=2&a=1", "a=2&a=1&b=2"}, // one name keeps its order
		{"a=1&&b=2", "a=1&b=2"},
		{"z&y=%20", "y=%20&z"},
	}
	for _, tt := range tests {
		if got := canonicalQuery(tt.in); got != tt.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCanonicalQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "b=2&a=1", "x&&y", "a=1&a=0&b", "&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		c := canonicalQuery(q)
		if again := canonicalQuery(c); again != c {
			t.Fatalf("canonicalQuery not idempotent: %q -> %q -> %q", q, c, again)
		}
		// The canonical form reorders the non-empty parameters, nothing else.
		var params []string
		for p := range strings.SplitSeq(q, "&") {
			if p != "" {
				params = append(params, p)
			}
		}
		got, want := strings.Split(c, "&"), params
		slices.Sort(got)
		slices.Sort(want)
		if c != "" && !slices.Equal(got, want) {
			t.Fatalf("canonicalQuery(%q) = %q: parameters changed", q, c)
		}
	})
}
