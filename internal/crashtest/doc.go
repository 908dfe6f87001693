// Package crashtest holds the parts of Keel's crash tests that run in real
// processes: an fsync'd, append-only ledger of applied side effects, a
// "charges" HTTP handler that writes to it before responding, and a harness
// that starts a server process, reads the address it prints, and kills it
// with SIGKILL.
//
// The ledger is the oracle: a key with two ledger lines was applied twice; an
// acknowledged key with none was lost.
package crashtest
