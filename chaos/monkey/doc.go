// Package monkey kills replicas of a service at random times, the way
// Netflix's Chaos Monkey terminates instances, but for plain processes on
// one machine and with guards that make it safe to leave running.
//
// A [Killer] draws the gap before each kill from an exponential distribution
// with a configured mean (a Poisson process, so kills cannot be predicted by
// the service under test) from a random number generator whose seed it logs,
// so that a run can be repeated. Right before each kill it counts the live
// targets and skips the kill if it would leave fewer than Config.MinAlive.
// It acts only inside its [Schedule] (after a start delay, before a stop
// time, inside a daily window), can run dry (log what it would kill and kill
// nothing), and logs every action with log/slog.
//
// Targets come from a [Supervisor]: [Processes] runs N copies of a command
// and restarts them when they die; [PIDFiles] reads targets from pid files
// written by any other supervisor.
//
// The package works on Unix systems; pid-file liveness checks read /proc
// when it exists (Linux), so that zombies and reused pids count as dead.
package monkey
