package headercodec

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []http.Header{
		nil,
		{},
		{"Content-Type": {"application/json"}},
		{"Link": {"</a>; rel=a", "</b>; rel=b"}, "X-Empty": {""}, "X-None": {}},
		{"X-Bin": {"\x00\xff\r\n\"", string(make([]byte, 300))}},
	}
	for _, h := range tests {
		got, err := Decode(Encode(h))
		if err != nil {
			t.Errorf("Decode(Encode(%q)): %v", h, err)
			continue
		}
		if got == nil {
			t.Errorf("Decode(Encode(%q)) = nil, want a non-nil header", h)
		}
		if d := cmp.Diff(h, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", h, d)
		}
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"count without names", "\x01"},
		{"name overruns", "\x01\x05ab"},
		{"value count overruns", "\x01\x01a\x05"},
		{"value overruns", "\x01\x01a\x01\x05ab"},
		{"trailing bytes", "\x00\x00"},
		{"duplicate name", "\x02\x01a\x00\x01a\x00"},
		{"varint too long", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
		{"huge count", "\xff\xff\xff\xff\x0f"},
	}
	for _, tt := range tests {
		if h, err := Decode([]byte(tt.in)); err == nil {
			t.Errorf("Decode(%s %q) = %q, nil; want an error", tt.name, tt.in, h)
		}
	}
}

// FuzzDecodeHeader: decoding never panics, and whatever decodes re-encodes
// to a header that decodes to the same value.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(Encode(nil))
	f.Add(Encode(http.Header{"A": {"1", "2"}, "B": {}}))
	f.Add([]byte("\x01\x01a\x01\x05ab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(Encode(h))
		if err != nil {
			t.Fatalf("re-encoded header does not decode: %v", err)
		}
		if d := cmp.Diff(h, again, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("re-encoding changed the header (-first +second):\n%s", d)
		}
	})
}
