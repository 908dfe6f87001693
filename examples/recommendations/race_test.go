//go:build race

package main

// raceEnabled says that the tests run with the race detector, so that they
// build the binary they start with it too.
const raceEnabled = true
