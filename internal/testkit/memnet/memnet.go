// Package memnet is an in-memory network for tests: a listener whose
// connections are net.Pipe pairs. Inside a testing/synctest bubble, I/O on
// them is durably blocking, so fake time moves while an HTTP server and its
// client wait on each other; over real loopback sockets it would not.
package memnet

import (
	"context"
	"net"
	"sync"
)

// Listener is a net.Listener reached only through its DialContext.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	close sync.Once
}

// Listen returns a new Listener. In a synctest bubble, make it inside the
// bubble.
func Listen() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next DialContext.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and DialContext; connections already made stay open.
func (l *Listener) Close() error {
	l.close.Do(func() { close(l.done) })
	return nil
}

// Addr is a placeholder address, "memnet.invalid:80": network and address
// are ignored by DialContext.
func (l *Listener) Addr() net.Addr { return addr{} }

// DialContext connects to the listener, whatever network and address say;
// it fits http.Transport.DialContext.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type addr struct{}

func (addr) Network() string { return "memnet" }
func (addr) String() string  { return "memnet.invalid:80" }
