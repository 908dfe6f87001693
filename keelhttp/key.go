package keelhttp

import "crypto/rand"

// IdempotencyKeyHeader is the request header that carries an idempotency key
// (IETF draft-ietf-httpapi-idempotency-key-header). A request carrying it
// may be retried whatever its method: the server promises to apply it once.
const IdempotencyKeyHeader = "Idempotency-Key"

// NewIdempotencyKey returns a new random key in the form of a version 4 UUID
// ("f47ac10b-58cc-4372-a567-0e02b2c3d479"): 122 random bits from crypto/rand.
// It is safe for concurrent use.
func NewIdempotencyKey() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // crypto/rand.Read never fails (it crashes the program instead)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	const hex = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hex[c>>4], hex[c&0x0f]
		j += 2
	}
	return string(b[:])
}
