// Package inproc connects the REST gateway to the gRPC server inside the
// process: a net.Listener whose connections are in-memory pipes, and
// transport credentials that skip TLS for those pipes only. REST calls so
// run the server's whole interceptor chain without a network hop, and only
// code in this process can open such a connection, which is what lets the
// server trust the caller identity the gateway forwards.
package inproc

import (
	"context"
	"errors"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
)

// Listener hands out the server ends of in-memory connections.
type Listener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// NewListener returns an open Listener.
func NewListener() *Listener {
	return &Listener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// conn marks the server end of an in-process connection.
type conn struct{ net.Conn }

// Accept waits for Dial.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return conn{c}, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Dial.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is a placeholder address.
func (l *Listener) Addr() net.Addr { return addr{} }

// Dial opens a connection to the listener (a grpc.WithContextDialer).
func (l *Listener) Dial(ctx context.Context, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}

type addr struct{}

func (addr) Network() string { return "inproc" }
func (addr) String() string  { return "inproc" }

// AuthInfo marks a call that arrived over an in-process connection.
type AuthInfo struct{ credentials.CommonAuthInfo }

// AuthType names the connection kind.
func (AuthInfo) AuthType() string { return "inproc" }

// Credentials wraps a server's external transport credentials: in-process
// connections skip the handshake and carry AuthInfo; every other
// connection goes through external (TLS, or insecure when TLS is off).
func Credentials(external credentials.TransportCredentials) credentials.TransportCredentials {
	return &creds{external: external}
}

type creds struct {
	external credentials.TransportCredentials
}

func (c *creds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if _, ok := raw.(conn); ok {
		return raw, AuthInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	return c.external.ServerHandshake(raw)
}

func (c *creds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("inproc: server-side credentials only")
}

func (c *creds) Info() credentials.ProtocolInfo { return c.external.Info() }

func (c *creds) Clone() credentials.TransportCredentials {
	return &creds{external: c.external.Clone()}
}

// OverrideServerName is deprecated in grpc-go but still part of the interface.
func (c *creds) OverrideServerName(name string) error { return c.external.OverrideServerName(name) }
