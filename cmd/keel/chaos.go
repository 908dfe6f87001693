package main

import "context"

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
	return runGroup(ctx, e, group{
		name:     "chaos",
		member:   "tool",
		heading:  "Tools",
		synopsis: "<tool> [flags]",
		hint:     `Run "keel chaos <tool> -h" for a tool's flags.`,
		members:  chaosTools,
	}, args)
}
