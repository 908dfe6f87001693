// Package proctest runs an example's command as a real process in its
// tests: [Command.Main] builds the command once per test binary (with the
// race detector when the tests have it), [Command.Start] starts a process
// and waits until it prints "listening <host:port>", and [Proc] sends it
// HTTP requests and signals and waits for it to exit.
//
// It is for tests only: its functions fail the test they are given instead
// of returning errors.
package proctest
