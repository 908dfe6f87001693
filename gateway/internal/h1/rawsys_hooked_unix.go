//go:build unix && (race || !linux)

package h1

import (
	"errors"
	"syscall"
)

// Under the race detector, and on systems other than Linux, reads and
// writes go through package syscall. Its Read and Write tell the race
// detector that what one goroutine did before a write happens before what
// another does after the matching read, as the program's own
// synchronization does through sockets; raw system calls would lose that,
// and tests would report races that are not.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return max(n, 0), errno(err)
}

func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return max(n, 0), errno(err)
}

func errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}
