// Package e2e holds the gateway's end-to-end acceptance tests. It has no
// code of its own: the tests build the keel command and the controllable
// backend (gateway/internal/testbackend) once per run, start them as real
// processes on 127.0.0.1, and then do to them what production does — kill a
// replica with SIGKILL, make one fail or slow down, take every replica
// away, crash the gateway, rewrite its configuration under load, and stop
// it with SIGTERM — checking what clients and the admin API see.
//
// Run them with
//
//	go test -race -count=1 ./gateway/e2e/
//
// Under -race the binaries are built with the race detector too, and a
// test fails if one of them reports a data race. keel validate's expected
// output is kept in testdata/validate/*.golden; regenerate it with -update.
package e2e
