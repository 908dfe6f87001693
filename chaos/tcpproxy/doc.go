// Package tcpproxy is a TCP fault proxy with a Toxiproxy-compatible HTTP
// control API: the Toxiproxy clients (Go, Ruby, Python, Java, …) drive it
// unchanged.
//
// A [Server] holds named proxies. Each listens on an address and forwards
// every connection to its upstream address, passing the bytes of each
// direction through the proxy's toxics. ServeHTTP serves the control API
// (the same paths, JSON fields and status codes as Toxiproxy 2.5: see
// [Server.ServeHTTP]); the methods of Server do the same from Go.
//
// # Toxics
//
// Each toxic applies to one stream, "upstream" (client to server) or
// "downstream" (server to client, the default), and to a connection with
// probability toxicity, drawn once per connection (and again when the toxic
// is updated). Attributes are integers; times are milliseconds except where
// noted:
//
//	latency     latency, jitter   delay each chunk by latency ± jitter
//	bandwidth   rate              at most rate KB/s (1 KB = 1000 bytes)
//	slow_close  delay             delay the end of the stream by delay
//	timeout     timeout           drop all data; close the connection after
//	                              timeout, or never if 0 (a black hole until
//	                              the toxic is removed)
//	reset_peer  timeout           on data, wait timeout, then reset the
//	                              connection (SO_LINGER 0: the peers read RST)
//	slicer      average_size,     split data into chunks of average_size ±
//	            size_variation,   size_variation bytes, delay microseconds
//	            delay             apart
//	limit_data  bytes             close the connection after bytes bytes
//
// A disabled proxy ("down", Enabled false) does not listen: connections are
// refused. Toxics added, changed or removed apply to open connections at
// once.
//
// Beyond Toxiproxy: a toxicity of 0 means never; a proxy created (or
// populated) with toxics has them before it accepts its first connection;
// removing a toxic never waits for connections; randomness comes from one
// seeded generator, and the seed is logged.
//
// # Performance
//
// A direction with no toxic is copied with io.Copy between the two
// *net.TCPConn, which the Go runtime turns into splice(2) on Linux: the
// bytes never enter user space. A change of toxics interrupts the copy with
// a read deadline in the past, and the direction switches to the chunked
// path, and back when the toxics are gone.
//
// Server.Close stops every proxy and returns once every goroutine serving a
// connection has returned.
package tcpproxy
