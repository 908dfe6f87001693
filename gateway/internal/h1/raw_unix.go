//go:build unix

package h1

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// rawConn returns c's raw form, for sendAwait and alive; nil when it has
// none.
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawSend is the state of one sendAwait, kept in the connection so that
// the raw read's function is bound once and nothing escapes per request.
type rawSend struct {
	b       []byte
	written int
	first   bool
	err     error
	step    func(fd uintptr) bool // pc.sendStep
}

func (pc *pconn) bindRaw() {
	pc.raw = rawConn(pc.c)
	pc.send.step = pc.sendStep
}

// sendAwait writes a request without a body and waits until the answer
// can be read. The write is made inside a raw read on the connection, after
// the poller was armed for reading: so the first read of the answer finds
// it there, instead of costing a system call that finds nothing yet and
// then waiting. A connection without a raw form, or a header that does not
// fit in the socket buffer at once, takes the ordinary path.
func (pc *pconn) sendAwait(b []byte) error {
	if pc.raw == nil {
		_, err := pc.c.Write(b)
		return err
	}
	s := &pc.send
	s.b, s.written, s.first, s.err = b, 0, true, nil
	err := pc.raw.Read(s.step)
	werr, written := s.err, s.written
	s.b, s.err = nil, nil
	switch {
	case errors.Is(werr, syscall.EAGAIN):
		_, err = pc.c.Write(b[written:]) // the socket buffer was full: wait for room
		return err
	case werr != nil:
		return &net.OpError{Op: "write", Net: "tcp", Source: pc.c.LocalAddr(), Addr: pc.c.RemoteAddr(), Err: werr}
	}
	return err
}

// sendStep is the raw read's function: the first call writes, and asks to
// wait for readability; the next one ends the wait.
func (pc *pconn) sendStep(fd uintptr) bool {
	s := &pc.send
	if !s.first {
		return true // readable, or the wait failed
	}
	s.first = false
	for s.written < len(s.b) {
		n, err := syscall.Write(int(fd), s.b[s.written:])
		if n > 0 {
			s.written += n
		}
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			s.err = err
			return true
		case n <= 0:
			s.err = io.ErrShortWrite
			return true
		}
	}
	return false // wait until the answer is readable
}

// alive peeks at an idle connection without blocking: a server that closed
// it (EOF), reset it, or sent something unasked makes it unusable.
func alive(c net.Conn) bool {
	rc := rawConn(c)
	if rc == nil {
		_, isSys := c.(syscall.Conn)
		return !isSys // no way to peek: trust it (a replay covers a stale one)
	}
	ok := true
	var buf [1]byte
	err := rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN): still open. An error, EOF (n == 0),
		// or bytes nobody asked for: unusable.
		ok = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true
	})
	return ok && err == nil
}
