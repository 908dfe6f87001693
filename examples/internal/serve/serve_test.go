package serve

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
		code    int
	}{
		{nil, "", 0},
		{[]string{"-addr", "127.0.0.1:9", "-name", "r2", "-drain-delay", "1s", "-access-log"}, "", 0},
		{[]string{"-h"}, "flag: help requested", 0},
		{[]string{"-bogus"}, "svc: usage: flag provided but not defined: -bogus", 2},
		{[]string{"extra"}, `svc: usage: unexpected argument "extra"`, 2},
	} {
		var f Flags
		fs := flag.NewFlagSet("svc", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.Register(fs, "r1", "replica name")
		err := Parse(fs, tc.args)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.wantErr || ExitCode(err) != tc.code {
			t.Errorf("Parse(%q) = %q, exit code %d; want %q, %d", tc.args, got, ExitCode(err), tc.wantErr, tc.code)
		}
	}
	var f Flags
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	f.Register(fs, "r1", "replica name")
	if err := Parse(fs, []string{"-drain-delay", "2s"}); err != nil {
		t.Fatal(err)
	}
	want := Flags{Addr: "127.0.0.1:0", Name: "r1", DrainDelay: 2 * time.Second, DrainTimeout: 10 * time.Second}
	if f != want {
		t.Errorf("flags = %+v, want %+v", f, want)
	}
	if got := ExitCode(errors.New("boom")); got != 1 {
		t.Errorf("ExitCode(other error) = %d, want 1", got)
	}
}

func TestHealth(t *testing.T) {
	var h Health
	check := func(wantStatus int, wantBody string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != wantStatus || rec.Body.String() != wantBody || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("got %d %q (Cache-Control %q), want %d %q (no-store)", rec.Code, rec.Body, rec.Header().Get("Cache-Control"), wantStatus, wantBody)
		}
	}
	check(http.StatusOK, "ok\n")
	h.Drain()
	check(http.StatusServiceUnavailable, "draining\n")
}
