// Package ratelimit limits how often operations run, with token buckets.
//
// A [Limiter] holds one bucket of Burst tokens that refills at Rate tokens per
// second. Each operation takes one token. When the bucket is empty a call
// either waits for the next token (up to Config.MaxWait, and never past its
// context's deadline) or is rejected at once with a [*LimitedError], which
// matches [ErrLimited] and keel.ErrRejected and tells, through RetryAfter, when
// the next token will be there.
//
// Limiter offers three ways in, like golang.org/x/time/rate:
//
//   - Allow / AllowAt: take a token if there is one, never wait;
//   - Wait / Do / Wrap: take a token, waiting up to MaxWait for it;
//   - Reserve / ReserveAt: take a token now, to be used after the returned
//     delay; the two-step form for callers that schedule work themselves.
//
// The methods ending in At take the current time as an argument and never
// block, so tests can drive a limiter with explicit times.
//
// A [Keyed] limiter keeps one bucket per key (per client, per route) with
// bounded memory: at most MaxKeys buckets. When a new key arrives and the
// table is full, one of the 16 least recently used buckets is dropped: one that
// has refilled completely if there is one (a full bucket is indistinguishable
// from a new one, so nothing is lost), else the one closest to full.
//
// # Implementation
//
// The bucket is a generic cell rate algorithm: its whole state is one
// timestamp, the time at which it would be empty. That keeps the arithmetic
// exact (integer nanoseconds, no float drift), makes a per-key bucket 24 bytes
// with no lock of its own, and makes "this bucket is full" a single
// comparison, which the Keyed eviction relies on. A rate is kept as a whole number of
// nanoseconds per token, rounded up, so the limiter never grants more than the
// configured rate; above 10⁷ per second the rounding can make it noticeably
// slower (9×10⁸ becomes 5×10⁸), and rates above 10⁹ per second do not limit
// at all.
// golang.org/x/time/rate was the reference for the semantics.
//
// # Panics
//
// A token taken is spent whatever the operation does; a panic in the operation
// passes through unchanged.
package ratelimit
