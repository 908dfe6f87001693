package boltstore

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/idempotency"
)

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    entry
	}{
		{"in progress", entry{token: "tok", rec: idempotency.Record{
			Fingerprint: idempotency.Fingerprint{0xff, 0, 7}, Status: idempotency.StatusInProgress, Claims: 3,
			LeaseExpires: t0.Add(300 * time.Millisecond), CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
		}}},
		{"completed", entry{rec: idempotency.Record{
			Status: idempotency.StatusCompleted, Claims: 1, CreatedAt: t0, CompletedAt: t0.Add(time.Nanosecond),
			ExpiresAt: t0.Add(time.Hour),
			Response: &idempotency.Response{
				Status: 422,
				Header: http.Header{"A": {"1", "", "3"}, "Empty": {}, "Nil": nil},
				Body:   []byte{0, 1, 2, 0xff},
			},
		}}},
		{"nil header and body", entry{rec: idempotency.Record{Status: idempotency.StatusCompleted,
			Response: &idempotency.Response{Status: 204}}}},
		{"empty header and body", entry{rec: idempotency.Record{Status: idempotency.StatusCompleted,
			Response: &idempotency.Response{Status: 200, Header: http.Header{}, Body: []byte{}}}}},
		{"times before 1970 and after 2262", entry{rec: idempotency.Record{
			CreatedAt: time.Date(1600, 1, 1, 0, 0, 0, 1, time.UTC), ExpiresAt: time.Date(3000, 1, 1, 0, 0, 0, 999999999, time.UTC),
		}}},
	}
	for _, tt := range tests {
		b := appendEntry(nil, &tt.e)
		got, err := decodeEntry(b)
		if err != nil {
			t.Errorf("%s: decode: %v", tt.name, err)
			continue
		}
		if d := cmp.Diff(tt.e, got, cmp.AllowUnexported(entry{})); d != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", tt.name, d)
		}
		// Every strict prefix is corrupt, never a shorter valid record.
		for n := range len(b) {
			if _, err := decodeEntry(b[:n]); !errors.Is(err, errCorrupt) {
				t.Errorf("%s: decode of the first %d of %d bytes: got %v, want errCorrupt", tt.name, n, len(b), err)
				break
			}
		}
	}
}

func TestExpiryKeyOrder(t *testing.T) {
	times := []time.Time{
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(-1, 999999999),
		time.Unix(0, 0),
		time.Unix(0, 1),
		t0,
		t0.Add(time.Nanosecond),
		t0.Add(time.Second),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := appendExpiryTime(nil, times[i-1]), appendExpiryTime(nil, times[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("key of %v is not below key of %v", times[i-1], times[i])
		}
		if got, ok := expiryTime(b); !ok || !got.Equal(times[i]) {
			t.Errorf("expiryTime(key of %v): got %v, %v", times[i], got, ok)
		}
	}
}

// FuzzDecodeEntry: decoding arbitrary bytes never panics (nor makes a huge
// allocation from a corrupt length), fails only with errCorrupt, and whatever
// decodes survives a re-encoding unchanged.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(appendEntry(nil, &entry{token: "t", rec: idempotency.Record{Status: 1, Claims: 2, CreatedAt: t0, ExpiresAt: t0}}))
	f.Add(appendEntry(nil, &entry{rec: idempotency.Record{Status: 2, Response: &idempotency.Response{
		Status: 200, Header: http.Header{"K": {"v"}, "N": nil}, Body: []byte("body")}}}))
	f.Add([]byte{1, 2, 0x10})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("decode error %v does not wrap errCorrupt", err)
			}
			return
		}
		// Header names are sorted on encoding, so only a sorted input
		// re-encodes identically; compare decoded values instead.
		again, err := decodeEntry(appendEntry(nil, &e))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d := cmp.Diff(e, again, cmp.AllowUnexported(entry{})); d != "" {
			t.Fatalf("decode(encode(decode(b))) differs (-first +second):\n%s", d)
		}
	})
}

func FuzzRecordKey(f *testing.F) {
	f.Add("scope", "key")
	f.Add("", "")
	f.Add("a\x00", "b")
	f.Fuzz(func(t *testing.T, scope, key string) {
		s, k, err := splitRecordKey(recordKey(nil, scope, key))
		if err != nil || s != scope || k != key {
			t.Fatalf("split(recordKey(%q, %q)) = %q, %q, %v", scope, key, s, k, err)
		}
	})
}
