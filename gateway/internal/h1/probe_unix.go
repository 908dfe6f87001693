//go:build unix

package h1

import (
	"errors"
	"net"
	"syscall"
)

// alive peeks at an idle connection without blocking: a server that closed
// it (EOF), reset it, or sent something unasked makes it unusable.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN): still open. An error, EOF (n == 0),
		// or bytes nobody asked for: unusable.
		ok = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true
	})
	return ok && err == nil
}
