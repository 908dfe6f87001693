package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one keel subcommand.
type command struct {
	name    string
	summary string // one line for the command list
	// run runs the command with the arguments after its name and returns
	// the process exit code.
	run func(ctx context.Context, env *env, args []string) int
}

// env is what a command may touch of its process, so that tests can run
// commands in-process with their own output and environment.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// commands lists the subcommands in the order "keel help" shows them.
func commands() []*command {
	return []*command{
		gatewayCommand(),
		validateCommand(),
		chaosCommand(),
		demoCommand(),
		experimentCommand(),
		versionCommand(),
	}
}

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(run(context.Background(), e, os.Args[1:]))
}

// run dispatches args to a subcommand and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return c.run(ctx, e, []string{"-h"})
			}
			say(e.stderr, "keel: unknown command %q\n", args[1])
			return exitUsage
		}
		usage(e.stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		say(e.stderr, "keel: unknown command %q\n\n", name)
		usage(e.stderr)
		return exitUsage
	}
	return c.run(ctx, e, args[1:])
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func usage(w io.Writer) {
	say(w, "Keel keeps services upright: a resilient gateway and the tools to prove it.\n")
	say(w, "\n")
	say(w, "Usage: keel <command> [flags]\n")
	say(w, "\n")
	say(w, "Commands:\n")
	for _, c := range commands() {
		say(w, "  %-11s %s\n", c.name, c.summary)
	}
	say(w, "\n")
	say(w, `Run "keel help <command>" for a command's flags.`+"\n")
}

// say writes to w and ignores write errors: a command that cannot write its
// own output has nowhere left to report that.
func say(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

// newFlagSet returns a flag set for a subcommand that writes its help to
// e.stderr, preceded by the command's description.
func newFlagSet(e *env, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("keel "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := fs.Output()
		say(out, "Usage: keel %s %s\n\n", name, synopsis)
		say(out, "%v\n", strings.TrimSpace(description))
		say(out, "\n")
		say(out, "Flags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. It returns the exit code to stop with, or
// -1 to go on: 0 after -h, 2 after a usage error (already printed by fs).
func parseFlags(fs *flag.FlagSet, args []string) int {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return -1
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	default:
		return exitUsage
	}
}
