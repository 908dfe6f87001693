//go:build !unix

package h1

import "net"

// rawSend is empty: requests are written the ordinary way here.
type rawSend struct{}

func (pc *pconn) bindRaw() {}

// sendAwait writes a request without a body.
func (pc *pconn) sendAwait(b []byte) error {
	_, err := pc.c.Write(b)
	return err
}

// alive cannot peek without blocking here; a stale connection is caught by
// the replay of the request instead.
func alive(net.Conn) bool { return true }

// rawIO reads and writes the connection the ordinary way here.
type rawIO struct{ c net.Conn }

func (r *rawIO) bind(c net.Conn) { r.c = c }

func (r *rawIO) Read(p []byte) (int, error) { return r.c.Read(p) }

func (r *rawIO) Write(p []byte) (int, error) { return r.c.Write(p) }
