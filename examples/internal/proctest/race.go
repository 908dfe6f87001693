//go:build race

package proctest

// raceEnabled says that the tests run with the race detector, so that the
// command they start is built with it too.
const raceEnabled = true
