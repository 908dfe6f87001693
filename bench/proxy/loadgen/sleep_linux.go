package main

import (
	"context"
	"syscall"
	"time"
)

// maxNap bounds one nanosleep, so that the context is checked at least this
// often.
const maxNap = 10 * time.Millisecond

// sleepUntil sleeps until t or until ctx is done, and reports whether it
// reached t. It calls nanosleep directly: the Go runtime's timers wake a
// sleeping program in steps of a millisecond (the timeout of epoll_wait), too
// coarse for requests spaced 500 µs apart, while nanosleep is precise to the
// kernel's timer slack (50 µs by default).
func sleepUntil(ctx context.Context, t time.Time) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		ts := syscall.NsecToTimespec(int64(min(d, maxNap)))
		// EINTR (a signal) only ends the nap early; the loop sleeps again.
		_ = syscall.Nanosleep(&ts, nil)
	}
}
