package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunSurvivesOutage runs the quickstart briefly and checks that the caller
// saw every call succeed (directly, by retry, or from the fallback) although
// the service failed many requests and was down for a whole phase.
func TestRunSurvivesOutage(t *testing.T) {
	out := captureStdout(t, func() {
		if err := run(context.Background(), 400*time.Millisecond, 100, 7); err != nil {
			t.Fatalf("run: %v", err)
		}
	})
	if !regexp.MustCompile(`calls that failed for the caller +0\s`).MatchString(out) {
		t.Errorf("the caller saw failures:\n%s", out)
	}
	for _, want := range []string{
		"breaker → open",
		"retry retry",
		"fallback fallback",
		"success rate seen by the caller: 100.00%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, r)
		done <- b.String()
	}()
	defer func() { os.Stdout = orig }()
	f()
	_ = w.Close()
	os.Stdout = orig
	return <-done
}
