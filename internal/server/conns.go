package server

import (
	"net"
	"sync"
	"sync/atomic"
)

// countingListener counts the connections it accepted that are still open,
// so that shutdown can say how many it had to cut at the end of the grace.
type countingListener struct {
	net.Listener
	open atomic.Int64
}

// Accept implements net.Listener.
func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

// Open is how many accepted connections are not closed yet; none on a
// listener never bound (a Server that did not serve).
func (l *countingListener) Open() int64 {
	if l == nil {
		return 0
	}
	return l.open.Load()
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

// Close implements net.Conn; the count drops once, however often it is
// called.
func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// NetConn exposes the accepted connection, as tls.Conn does, for code that
// looks beneath wrappers.
func (c *countedConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection when the accepted one can: net/http
// relies on it to close gracefully after refusing a request (without it, a
// client still sending gets a reset instead of the answer).
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
