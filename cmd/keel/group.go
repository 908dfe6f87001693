package main

import (
	"context"
	"io"
)

// group describes a command whose first argument names one of its members,
// such as "keel chaos proxy" or "keel experiment run".
type group struct {
	name     string            // the command's name: "chaos"
	member   string            // what a member is called in messages: "tool"
	heading  string            // the heading of the member list: "Tools"
	synopsis string            // the usage line after "keel <name>": "<tool> [flags]"
	hint     string            // the usage text's last line
	members  func() []*command // the members, in the order the usage lists them
}

// runGroup runs the member of g that args[0] names with the arguments after
// it. With no arguments it prints g's usage to e.stderr and returns
// exitUsage; with -h, --help or help it prints it to e.stdout; an unknown
// member is a usage error.
func runGroup(ctx context.Context, e *env, g group, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := e.stdout
		code := exitOK
		if len(args) == 0 {
			w, code = e.stderr, exitUsage
		}
		groupUsage(w, g)
		return code
	}
	for _, c := range g.members() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	say(e.stderr, "keel %s: unknown %s %q\n\n", g.name, g.member, args[0])
	groupUsage(e.stderr, g)
	return exitUsage
}

// groupUsage writes g's usage to w: its synopsis, its members with their
// summaries, and its hint.
func groupUsage(w io.Writer, g group) {
	members := g.members()
	width := 8 // the summaries start in the same column whatever the names
	for _, c := range members {
		width = max(width, len(c.name)+1)
	}
	say(w, "Usage: keel %s %s\n", g.name, g.synopsis)
	say(w, "\n")
	say(w, "%s:\n", g.heading)
	for _, c := range members {
		say(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	say(w, "\n")
	say(w, "%s\n", g.hint)
}
