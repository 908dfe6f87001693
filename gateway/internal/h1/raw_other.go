//go:build !unix

package h1

import (
	"net"
	"syscall"
)

func rawConn(net.Conn) syscall.RawConn { return nil }

// sendAwait writes a request without a body.
func (pc *pconn) sendAwait(b []byte) error {
	_, err := pc.c.Write(b)
	return err
}

// alive cannot peek without blocking here; a stale connection is caught by
// the replay of the request instead.
func alive(net.Conn) bool { return true }
