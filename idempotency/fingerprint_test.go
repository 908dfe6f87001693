package idempotency_test

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/keelhq/keel/idempotency"
)

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a=1", "a=1"},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&b=1&a=1", "a=2&a=1&b=1"}, // one key's values keep their order
		{"a", "a="},
		{"a=", "a="},
		{"&&a=1&", "a=1"},
		{"q=hello+world", "q=hello+world"},
		{"q=hello%20world", "q=hello+world"},
		{"%61=%31", "a=1"},
		{"x=%zz&a=1", "a=1&x=%zz"},
		{"k=a%3Db", "k=a%3Db"},
		{"a;b=1", "a%3Bb=1"},
	}
	for _, tt := range tests {
		if got := idempotency.CanonicalQuery(tt.in); got != tt.want {
			t.Errorf("CanonicalQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func canon(method, route, query string, h http.Header, names ...string) []byte {
	return idempotency.AppendCanonical(nil, method, route, query, h, names)
}

func TestAppendCanonicalDistinguishes(t *testing.T) {
	base := canon("POST", "/orders", "a=1", http.Header{"Content-Type": {"application/json"}}, "Content-Type")
	same := []struct {
		name string
		got  []byte
	}{
		{"query order", canon("POST", "/orders", "a=1", http.Header{"Content-Type": {"application/json"}}, "content-type")},
		{"header not opted in", canon("POST", "/orders", "a=1", http.Header{"Content-Type": {"application/json"}, "X-Other": {"1"}}, "Content-Type")},
	}
	for _, tt := range same {
		if !bytes.Equal(tt.got, base) {
			t.Errorf("%s: canonical forms differ, want equal", tt.name)
		}
	}
	differ := []struct {
		name string
		got  []byte
	}{
		{"method", canon("PATCH", "/orders", "a=1", http.Header{"Content-Type": {"application/json"}}, "Content-Type")},
		{"route", canon("POST", "/orders/", "a=1", http.Header{"Content-Type": {"application/json"}}, "Content-Type")},
		{"query", canon("POST", "/orders", "a=2", http.Header{"Content-Type": {"application/json"}}, "Content-Type")},
		{"header value", canon("POST", "/orders", "a=1", http.Header{"Content-Type": {"text/plain"}}, "Content-Type")},
		{"header absent", canon("POST", "/orders", "a=1", http.Header{}, "Content-Type")},
		{"header empty", canon("POST", "/orders", "a=1", http.Header{"Content-Type": {""}}, "Content-Type")},
		{"field boundary", canon("POS", "T/orders", "a=1", http.Header{"Content-Type": {"application/json"}}, "Content-Type")},
	}
	for _, tt := range differ {
		if bytes.Equal(tt.got, base) {
			t.Errorf("%s: canonical forms equal, want different", tt.name)
		}
	}
}

// FuzzCanonicalQuery checks that CanonicalQuery never panics, is idempotent,
// and ignores the order of distinct keys.
func FuzzCanonicalQuery(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "b=2&a=1&a=0", "%zz", "a=%", "+=+", "&&", "a;b", "x=%E2%82%AC&y"} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, q string, seed uint64) {
		c := idempotency.CanonicalQuery(q)
		// A trailing empty pair changes nothing but never takes the fast
		// path for already-canonical queries: the two paths must agree.
		if slow := idempotency.CanonicalQuery(q + "&"); slow != c {
			t.Fatalf("CanonicalQuery(%q) = %q, but with a trailing & = %q", q, c, slow)
		}
		if again := idempotency.CanonicalQuery(c); again != c {
			t.Fatalf("CanonicalQuery(%q) = %q, but CanonicalQuery of that = %q", q, c, again)
		}
		// Shuffle the pairs, keeping the relative order of each key's
		// pairs: group by the raw key, shuffle the groups.
		parts := strings.Split(q, "&")
		groups := map[string][]string{}
		var order []string
		for _, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], p)
		}
		rng := rand.New(rand.NewPCG(seed, seed))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var shuffled []string
		for _, k := range order {
			shuffled = append(shuffled, groups[k]...)
		}
		if got := idempotency.CanonicalQuery(strings.Join(shuffled, "&")); !sameUpToKeyAliases(got, c) {
			t.Fatalf("CanonicalQuery(%q) = %q, but of the reordering %q = %q", q, c, strings.Join(shuffled, "&"), got)
		}
	})
}

// sameUpToKeyAliases compares two canonical queries. Raw keys that differ
// but unescape alike ("a" and "%61") may interleave their values differently
// after a reordering, so only the sorted multisets of pairs are compared
// when the strings differ.
func sameUpToKeyAliases(a, b string) bool {
	if a == b {
		return true
	}
	pa, pb := strings.Split(a, "&"), strings.Split(b, "&")
	if len(pa) != len(pb) {
		return false
	}
	count := map[string]int{}
	for _, p := range pa {
		count[p]++
	}
	for _, p := range pb {
		count[p]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// FuzzAppendCanonical checks that the canonical form is deterministic and
// that changing any one field changes it (the fields are length-prefixed, so
// no field can spill into the next).
func FuzzAppendCanonical(f *testing.F) {
	f.Add("POST", "/orders", "a=1", "application/json", "x")
	f.Add("", "", "", "", "")
	f.Add("PO", "ST/", "&", "\x00", "y")
	f.Fuzz(func(t *testing.T, method, route, query, ct, extra string) {
		h := http.Header{"Content-Type": {ct}}
		a := canon(method, route, query, h, "Content-Type")
		if b := canon(method, route, query, h, "Content-Type"); !bytes.Equal(a, b) {
			t.Fatal("canonical form is not deterministic")
		}
		if extra == "" {
			return
		}
		variants := [][]byte{
			canon(method+extra, route, query, h, "Content-Type"),
			canon(method, route+extra, query, h, "Content-Type"),
			canon(method, route, query, http.Header{"Content-Type": {ct + extra}}, "Content-Type"),
		}
		for i, v := range variants {
			if bytes.Equal(a, v) {
				t.Fatalf("variant %d (appending %q) has the same canonical form", i, extra)
			}
		}
	})
}

func TestCanonicalQueryFastPathAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = idempotency.CanonicalQuery("a=1&b=x-y.z_~&b=0") }); n != 0 {
		t.Errorf("CanonicalQuery of a canonical query: %v allocs, want 0", n)
	}
}
