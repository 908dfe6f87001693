// Package service is the payments API of the payments example, importable so
// that other programs can run a replica in-process: the payments command is
// a thin wrapper around [Run], and `keel demo` re-executes its own binary
// with a hidden subcommand that calls it.
//
// The flags, endpoints and behavior are described in the documentation of
// the payments command (go doc github.com/keelhq/keel/examples/payments).
package service
