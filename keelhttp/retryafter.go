package keelhttp

import (
	"net/http"
	"strings"
	"time"
)

// maxRetryAfterSeconds bounds delta-seconds so that the Duration cannot
// overflow; anything longer is reported as this many seconds, which every
// sensible MaxRetryAfter refuses.
const maxRetryAfterSeconds = int64(1<<63-1) / int64(time.Second)

// ParseRetryAfter parses the value of a Retry-After header (RFC 9110, section
// 10.2.3) and returns how long to wait, and whether v was valid. Both forms
// are accepted:
//
//   - delay-seconds, one or more ASCII digits ("120"): that many seconds.
//     Values beyond what a time.Duration holds (about 292 years) are capped
//     there.
//   - an HTTP-date in any of the three forms http.ParseTime accepts
//     ("Wed, 21 Oct 2015 07:28:00 GMT"): the time from now until then, zero
//     if it has passed. now should be the response's Date header (so that a
//     server whose clock is off still gets the wait it meant), or the time
//     the response arrived when it has none; [RetryAfterOf] does that.
//
// Surrounding spaces and tabs are ignored; anything else (a sign, a fraction,
// an empty value) is invalid. The result is never negative.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return 0, false
	}
	if isDigit(v[0]) {
		var n int64
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !isDigit(c) {
				return 0, false
			}
			if n <= maxRetryAfterSeconds {
				n = n*10 + int64(c-'0')
			}
		}
		n = min(n, maxRetryAfterSeconds)
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if !t.After(now) {
		return 0, true
	}
	d := t.Sub(now) // saturates at the largest Duration
	return d, true
}

// RetryAfterOf returns the wait asked for by resp's Retry-After header, and
// whether it had a valid one. An HTTP-date is measured from resp's Date
// header when that is valid, else from now (the time the response arrived).
func RetryAfterOf(resp *http.Response, now time.Time) (time.Duration, bool) {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if t := strings.TrimLeft(v, " \t"); t != "" && !isDigit(t[0]) {
		if d := resp.Header.Get("Date"); d != "" {
			if t, err := http.ParseTime(d); err == nil {
				now = t
			}
		}
	}
	return ParseRetryAfter(v, now)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
