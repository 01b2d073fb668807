// Package inproc connects the REST gateway to attestd's services inside the
// process (Direct): REST calls run the gRPC server's whole interceptor
// chain without serialization or a network hop. Only code in this process
// can make such a call, which is what lets the server trust the caller
// identity the gateway forwards: Direct marks its calls' peer with
// middleware.ForwardedAuthInfo, the chain's own marker.
package inproc

// addr is the address of both ends of an in-process call.
type addr struct{}

func (addr) Network() string { return "inproc" }
func (addr) String() string  { return "inproc" }
