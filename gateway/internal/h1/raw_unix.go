//go:build unix

package h1

import (
	"errors"
	"io"
	"net"
	"os"
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
	pc.raw = pc.rio.raw
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
		_, err = pc.rio.Write(b[written:]) // the socket buffer was full: wait for room
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
	if errno := writeAll(fd, s.b, &s.written); errno != 0 {
		s.err = errno
		return true
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

// rawIO reads and writes a connection with system calls made without the
// scheduler's hooks: the socket never blocks, and the poller still waits
// when there is nothing to read or no room to write. Besides the hooks'
// own cost, it keeps the runtime's monitor thread asleep: the first hooked
// call after an idle moment wakes it, and it then runs every 20µs for a
// while, on the proxy's core. Reads and writes have their own state, so
// one goroutine may read while another writes; the step functions are
// bound once, so that nothing escapes per call.
type rawIO struct {
	c       net.Conn
	raw     syscall.RawConn
	rd, wr  rawOp
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

type rawOp struct {
	p   []byte
	n   int
	err syscall.Errno
}

func (r *rawIO) bind(c net.Conn) {
	r.c = c
	r.raw = rawConn(c)
	r.readFn = r.readStep
	r.writeFn = r.writeStep
}

func (r *rawIO) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.c.LocalAddr(), Addr: r.c.RemoteAddr(), Err: err}
}

// Read reads into p.
func (r *rawIO) Read(p []byte) (int, error) {
	if r.raw == nil {
		return r.c.Read(p)
	}
	n, err := r.do(false, p)
	if err == nil && n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, err
}

// Write writes all of p.
func (r *rawIO) Write(p []byte) (int, error) {
	if r.raw == nil {
		return r.c.Write(p)
	}
	return r.do(true, p)
}

// do runs a read or a write of p through the raw connection, which waits
// on the poller whenever the step asks to.
func (r *rawIO) do(write bool, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	o, op := &r.rd, "read"
	if write {
		o, op = &r.wr, "write"
	}
	o.p, o.n, o.err = p, 0, 0
	var err error
	if write {
		err = r.raw.Write(r.writeFn)
	} else {
		err = r.raw.Read(r.readFn)
	}
	n, errno := o.n, o.err
	o.p = nil
	switch {
	case err != nil:
		return n, r.opError(op, err)
	case errno != 0:
		return n, r.opError(op, os.NewSyscallError(op, errno))
	}
	return n, nil
}

func (r *rawIO) readStep(fd uintptr) bool {
	o := &r.rd
	for {
		n, errno := rawRead(fd, o.p)
		switch errno {
		case 0:
			o.n = n
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.err = errno
			return true
		}
	}
}

func (r *rawIO) writeStep(fd uintptr) bool {
	o := &r.wr
	switch errno := writeAll(fd, o.p, &o.n); errno {
	case 0:
		return true
	case syscall.EAGAIN:
		return false // wait for room
	default:
		o.err = errno
		return true
	}
}

// writeAll writes p[*n:] to the non-blocking socket fd, advancing *n. It
// returns 0 when all of p is written, EAGAIN when the socket buffer is
// full, or the write's error.
func writeAll(fd uintptr, p []byte, n *int) syscall.Errno {
	for *n < len(p) {
		w, errno := rawWrite(fd, p[*n:])
		switch {
		case errno == syscall.EINTR:
		case errno != 0:
			return errno
		case w <= 0:
			return syscall.EIO // a write of nothing: never from a socket
		default:
			*n += w
		}
	}
	return 0
}
