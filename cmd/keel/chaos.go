package main

import (
	"context"
	"fmt"
	"io"
)

// chaosTools lists the "keel chaos" subcommands.
func chaosTools() []*command {
	return []*command{}
}

func chaosCommand() *command {
	return &command{
		name:    "chaos",
		summary: "fault-injection tools: a TCP fault proxy and a replica killer",
		run:     runChaos,
	}
}

func runChaos(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := e.stdout
		code := exitOK
		if len(args) == 0 {
			w, code = e.stderr, exitUsage
		}
		chaosUsage(w)
		return code
	}
	for _, c := range chaosTools() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "keel chaos: unknown tool %q\n\n", args[0])
	chaosUsage(e.stderr)
	return exitUsage
}

func chaosUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: keel chaos <tool> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Tools:")
	for _, c := range chaosTools() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "keel chaos <tool> -h" for a tool's flags.`)
}
