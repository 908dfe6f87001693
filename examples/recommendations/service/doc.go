// Package service is the recommendations API of the recommendations example,
// importable so that other programs can run a replica in-process: the
// recommendations command is a thin wrapper around [Run], and `keel demo`
// re-executes its own binary with a hidden subcommand that calls it.
//
// The flags, endpoints and behavior are described in the documentation of
// the recommendations command (go doc github.com/keelhq/keel/examples/recommendations).
package service
