package keelhttp_test

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/keelhttp"
)

var ref = time.Date(2026, time.November, 27, 8, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"120", 120 * time.Second, true},
		{" 7\t", 7 * time.Second, true},
		{"007", 7 * time.Second, true},
		{"99999999999999999999999", time.Duration(math.MaxInt64 / int64(time.Second) * int64(time.Second)), true},
		{"Fri, 27 Nov 2026 08:00:30 GMT", 30 * time.Second, true},             // IMF-fixdate
		{"Friday, 27-Nov-26 08:01:00 GMT", time.Minute, true},                 // RFC 850
		{"Fri Nov 27 08:00:05 2026", 5 * time.Second, true},                   // asctime
		{"Fri, 27 Nov 2026 07:59:00 GMT", 0, true},                            // in the past
		{"Mon, 01 Jan 2400 00:00:00 GMT", time.Duration(math.MaxInt64), true}, // saturates
		{"", 0, false},
		{"   ", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"1 2", 0, false},
		{"tomorrow", 0, false},
		{"27 Nov 2026 08:00:30", 0, false},
	} {
		got, ok := keelhttp.ParseRetryAfter(tc.in, ref)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q): got %v, %v, want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestRetryAfterOf(t *testing.T) {
	arrived := ref.Add(-time.Hour) // our clock is an hour behind the server's
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
		wantOK bool
	}{
		{"none", http.Header{}, 0, false},
		{"seconds, Date ignored", http.Header{"Retry-After": {"4"}, "Date": {ref.Format(http.TimeFormat)}}, 4 * time.Second, true},
		{"date relative to Date", http.Header{"Retry-After": {ref.Add(9 * time.Second).Format(http.TimeFormat)}, "Date": {ref.Format(http.TimeFormat)}}, 9 * time.Second, true},
		{"date relative to arrival without Date", http.Header{"Retry-After": {ref.Add(9 * time.Second).Format(http.TimeFormat)}}, time.Hour + 9*time.Second, true},
		{"date relative to arrival with a bad Date", http.Header{"Retry-After": {ref.Format(http.TimeFormat)}, "Date": {"yesterday"}}, time.Hour, true},
		{"invalid", http.Header{"Retry-After": {"soon"}}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := keelhttp.RetryAfterOf(&http.Response{Header: tc.header}, arrived)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("got %v, %v, want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", " 7 ", "99999999999999999999", "-1", "1.5", "",
		"Fri, 27 Nov 2026 08:00:30 GMT", "Friday, 27-Nov-26 08:01:00 GMT", "Fri Nov 27 08:00:05 2026",
		"Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, offset int64) {
		now := ref.Add(time.Duration(offset))
		d, ok := keelhttp.ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q): negative %v", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q): invalid but %v", v, d)
		}
		trimmed := strings.Trim(v, " \t")
		if n, err := strconv.ParseUint(trimmed, 10, 63); err == nil && trimmed != "" && trimmed[0] != '+' {
			want := time.Duration(min(int64(n), math.MaxInt64/int64(time.Second))) * time.Second
			if !ok || d != want {
				t.Fatalf("ParseRetryAfter(%q): got %v, %v, want %v, true", v, d, ok, want)
			}
		}
		if at, err := http.ParseTime(trimmed); err == nil && ok && trimmed != "" && !isDigits(trimmed) {
			// Never early: waiting d from now reaches the date.
			if at.After(now) && now.Add(d).Before(at) && d != time.Duration(math.MaxInt64) {
				t.Fatalf("ParseRetryAfter(%q, %v) = %v: ends before %v", v, now, d, at)
			}
		}
	})
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
