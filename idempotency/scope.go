package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
)

// CredentialScope is the default Config.Scope. A request with an
// Authorization header is scoped by the SHA-256 of its values; else one with
// a verified TLS client certificate by the SHA-256 of the certificate; else
// it belongs to the one scope "anonymous", which all clients without
// credentials share. Set Config.Scope when clients authenticate otherwise
// (an API-key header, a session cookie), and when credentials change
// between a request and its retry: a client that refreshes a short-lived
// bearer token (an OAuth access token) and retries lands in a new scope,
// where its key is unknown, so the handler runs again. Scope such clients by
// the identity behind the token (the account or tenant id your
// authentication middleware established). It never fails.
func CredentialScope(r *http.Request) (string, error) {
	if vals := r.Header["Authorization"]; len(vals) == 1 {
		return prefixedHash("auth:", sha256.Sum256([]byte(vals[0]))), nil
	} else if len(vals) > 1 {
		h := sha256.New()
		for _, v := range vals {
			_, _ = io.WriteString(h, v)
			_, _ = h.Write([]byte{0})
		}
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		return prefixedHash("auth:", sum), nil
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return prefixedHash("cert:", sha256.Sum256(r.TLS.PeerCertificates[0].Raw)), nil
	}
	return "anonymous", nil
}

// prefixedHash returns prefix followed by the first 128 bits of sum in hex.
func prefixedHash(prefix string, sum [sha256.Size]byte) string {
	var b [5 + 32]byte
	n := copy(b[:], prefix)
	hex.Encode(b[n:], sum[:16])
	return string(b[:n+32])
}
