// Package serve is what the example services (payments, recommendations)
// share as commands: the common flags ([Flags]), the parsing of the command
// line and its exit codes ([Parse], [ExitCode]), the main function that
// turns SIGTERM into a drain ([Main]), a health check that fails while
// draining ([Health]), the server loop that prints "listening <host:port>"
// and drains on shutdown ([Server]), and the JSON and problem+json writers
// of their handlers ([WriteJSON], [Problem]).
package serve
