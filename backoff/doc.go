// Package backoff computes the waits between retries: constant and exponential
// schedules with the jitter modes of the AWS Architecture Blog article
// "Exponential Backoff and Jitter" (none, full, equal and decorrelated).
//
// A [Schedule] is a small immutable value. It holds no per-call state, starts
// no goroutine and reads no clock: [Schedule.Delay] is a pure function of the
// retry number, the previous delay and a random source, so one Schedule can be
// shared by any number of goroutines and retry loops at once. Whatever state a
// retry loop needs (the previous delay, for decorrelated jitter) is kept by the
// loop, never by the Schedule.
//
// Computing a delay allocates nothing and never overflows: every delay is
// between 0 and the schedule's cap, whatever the retry number or multiplier.
//
// The random source is injectable through the [Rand] interface, which
// *rand.Rand of math/rand/v2 satisfies; a nil Rand means math/rand/v2's global
// source, which is safe for concurrent use and takes no lock.
package backoff
