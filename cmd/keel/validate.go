package main

import (
	"context"

	"github.com/keelhq/keel/gateway/config"
)

func validateCommand() *command {
	return &command{
		name:    "validate",
		summary: "check a gateway configuration file and print every error",
		run:     runValidate,
	}
}

const validateHelp = `
Check a gateway configuration file without starting anything: YAML syntax,
unknown keys, value formats, references between routes, upstreams and
flags, and ranges. Each error is printed on its own line as
file:line:column: key: message. Exit status 0 means the file is valid, 2
that it is not.

-schema prints the configuration's JSON Schema instead, for editors.`

func runValidate(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "validate", "-c keel.yaml", validateHelp)
	path := fs.String("c", "keel.yaml", "configuration `file`")
	schema := fs.Bool("schema", false, "print the JSON Schema of the configuration and exit")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *schema {
		_, _ = e.stdout.Write(config.Schema())
		return exitOK
	}
	if fs.NArg() > 0 {
		say(e.stderr, "keel validate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := config.Load(*path, e.getenv)
	if err != nil {
		printConfigErrors(e, err)
		return exitUsage
	}
	say(e.stdout, "%s: valid (%d routes, %d upstreams)\n", *path, len(cfg.Routes), len(cfg.Upstreams))
	return exitOK
}
