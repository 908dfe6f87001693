package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupUsage(t *testing.T) {
	const chaosUsage = `Usage: keel chaos <tool> [flags]

Tools:
  proxy    TCP fault proxy with a Toxiproxy-compatible control API
  monkey   kill replicas at random times, never fewer than a minimum alive

Run "keel chaos <tool> -h" for a tool's flags.
`
	const experimentUsage = `Usage: keel experiment <command> [flags] experiment.yaml

Commands:
  run       run an experiment and report whether its hypothesis held
  validate  check an experiment file and print every error

Run "keel experiment <command> -h" for its flags. See docs/chaos.md, "Experiments".
`
	for _, tc := range []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{[]string{"chaos"}, exitUsage, "", chaosUsage},
		{[]string{"chaos", "-h"}, exitOK, chaosUsage, ""},
		{[]string{"chaos", "help"}, exitOK, chaosUsage, ""},
		{[]string{"chaos", "nope"}, exitUsage, "", "keel chaos: unknown tool \"nope\"\n\n" + chaosUsage},
		{[]string{"experiment"}, exitUsage, "", experimentUsage},
		{[]string{"experiment", "--help"}, exitOK, experimentUsage, ""},
		{[]string{"experiment", "nope"}, exitUsage, "", "keel experiment: unknown command \"nope\"\n\n" + experimentUsage},
	} {
		code, stdout, stderr := runKeel(t, nil, tc.args...)
		if code != tc.code {
			t.Errorf("keel %v: exit %d, want %d", tc.args, code, tc.code)
		}
		if diff := cmp.Diff(tc.wantStdout, stdout); diff != "" {
			t.Errorf("keel %v: stdout (-want +got):\n%s", tc.args, diff)
		}
		if diff := cmp.Diff(tc.wantStderr, stderr); diff != "" {
			t.Errorf("keel %v: stderr (-want +got):\n%s", tc.args, diff)
		}
	}
}
