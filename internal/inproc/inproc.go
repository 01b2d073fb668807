// Package inproc connects the REST gateway to attestd's services inside the
// process (Direct): REST calls run the gRPC server's whole interceptor
// chain without serialization or a network hop. Only code in this process
// can make such a call, which is what lets the server trust the caller
// identity the gateway forwards (AuthInfo).
package inproc

import "google.golang.org/grpc/credentials"

// addr is the address of both ends of an in-process call.
type addr struct{}

func (addr) Network() string { return "inproc" }
func (addr) String() string  { return "inproc" }

// AuthInfo marks a call that arrived in process, from the gateway.
type AuthInfo struct{ credentials.CommonAuthInfo }

// AuthType names the connection kind.
func (AuthInfo) AuthType() string { return "inproc" }
