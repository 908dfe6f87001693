package main

import (
	"context"
	"io"
)

// chaosTools lists the "keel chaos" subcommands.
func chaosTools() []*command {
	return []*command{
		chaosProxyCommand(),
		chaosMonkeyCommand(),
	}
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
	say(e.stderr, "keel chaos: unknown tool %q\n\n", args[0])
	chaosUsage(e.stderr)
	return exitUsage
}

func chaosUsage(w io.Writer) {
	say(w, "Usage: keel chaos <tool> [flags]\n")
	say(w, "\n")
	say(w, "Tools:\n")
	for _, c := range chaosTools() {
		say(w, "  %-8s %s\n", c.name, c.summary)
	}
	say(w, "\n")
	say(w, `Run "keel chaos <tool> -h" for a tool's flags.`+"\n")
}
