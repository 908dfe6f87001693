package ratelimit

import (
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestKeyedDoesNotPinCallerKeys: a key sliced from a larger string must not
// keep that string alive, so neither the bucket nor the map may hold the
// caller's bytes.
func TestKeyedDoesNotPinCallerKeys(t *testing.T) {
	k := MustNewKeyed(KeyedConfig{Config: Config{Rate: 1}, MaxKeys: 2})
	big := strings.Repeat("x", 1<<16) + "client-1" + strings.Repeat("y", 1<<16)
	key := big[1<<16 : 1<<16+len("client-1")]
	// A string shares the caller's bytes exactly when it starts at the same
	// address as key. Reading the address is all unsafe is used for.
	inBig := func(s string) bool {
		return unsafe.StringData(s) == unsafe.StringData(key) //nolint:gosec // compares addresses only, nothing is dereferenced
	}
	now := time.Unix(0, 0)
	k.AllowKeyAt(key, now)
	k.AllowKeyAt("other", now)
	k.AllowKeyAt(strings.Clone("third"), now) // evicts one and reuses its entry
	k.AllowKeyAt(key, now)                    // key again, as a new bucket if it was evicted
	k.mu.Lock()
	defer k.mu.Unlock()
	for mk, e := range k.m {
		if inBig(mk) {
			t.Errorf("map key %q points into the caller's string, want a copy", mk)
		}
		if inBig(e.key) {
			t.Errorf("bucket key %q points into the caller's string, want a copy", e.key)
		}
	}
}
