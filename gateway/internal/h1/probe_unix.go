//go:build unix

package h1

import (
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
		switch {
		case rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK:
			ok = true // nothing to read: still open
		default: // an error, EOF (n == 0), or bytes nobody asked for
			ok = false
		}
		return true
	})
	return ok && err == nil
}
