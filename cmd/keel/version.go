package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the version of keel and of Go it was built with",
		run:     runVersion,
	}
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "version", "", "Print keel's module version, the VCS revision it was built from, and the Go version.")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	say(e.stdout, "%v\n", versionString())
	return exitOK
}

// versionString describes this build: "keel v1.2.3 (rev abc123, go1.26.0)".
func versionString() string {
	version, rev := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.modified":
				if s.Value == "true" && rev != "" {
					rev += "+dirty"
				}
			}
		}
	}
	if rev != "" {
		return fmt.Sprintf("keel %s (rev %s, %s)", version, rev, runtime.Version())
	}
	return fmt.Sprintf("keel %s (%s)", version, runtime.Version())
}
