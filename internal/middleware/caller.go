package middleware

import (
	"context"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/ratelimit"
	"github.com/attestd/attestd/internal/security"
)

// Metadata the REST gateway sets on the calls it forwards over the
// in-process connection: what only it knows of the HTTP caller. The server
// trusts these keys from that connection alone, and the gateway drops any
// a caller sends.
const (
	// PeerCertHeader is the REST caller's client-certificate identity.
	PeerCertHeader = "x-attestd-peer-cert"
	// PeerAddrHeader is the REST caller's address.
	PeerAddrHeader = "x-attestd-peer-addr"
	// InternalHeaderPrefix is reserved for attestd's own metadata.
	InternalHeaderPrefix = "x-attestd-"
)

// ForwardedAuthInfo marks a call the REST gateway forwarded over the
// in-process connection (internal/inproc): the one peer whose PeerCertHeader
// and PeerAddrHeader the chain believes, as only code in this process can
// make such a call. It lives beside those keys so that the chain depends on
// no transport: the in-process adapter sets it, the chain reads it.
type ForwardedAuthInfo struct{ credentials.CommonAuthInfo }

// AuthType names the connection kind.
func (ForwardedAuthInfo) AuthType() string { return "inproc" }

// Caller is who made a call, as far as attestd can tell.
type Caller struct {
	// Name is the bearer token's caller name, else the client certificate's
	// identity, else "" (anonymous).
	Name string
	// Via says how Name was established: "token", "mtls" or "anonymous".
	Via string
	// Addr is the caller's IP address.
	Addr string
	// Protocol is "rest" for calls the gateway forwarded, else "grpc".
	Protocol string
}

// key is what rate limits count against: the name, or the address of an
// anonymous caller.
func (c Caller) key() string {
	if c.Name != "" {
		return c.Via + ":" + c.Name
	}
	return "addr:" + c.Addr
}

// call is the per-call record the outermost interceptor creates; inner
// interceptors fill it in and logging reads it once the call is done.
type call struct {
	requestID string
	caller    Caller
	tokenFP   string // the IdP token's fingerprint, once computed
}

// tokenFingerprint is security.Fingerprint(token), computed once per call
// however many log lines carry it.
func tokenFingerprint(ctx context.Context, token string) string {
	c := callOf(ctx)
	if c.tokenFP == "" {
		c.tokenFP = security.Fingerprint(token)
	}
	return c.tokenFP
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		return &call{}
	}
	return c
}

// CallerOf returns the call's caller (zero outside an attestd call).
func CallerOf(ctx context.Context) Caller { return callOf(ctx).caller }

// certName picks the name a certificate's identities are known by: the
// first on the allow-list, else the first.
func certName(ids, allowed []string) string {
	for _, id := range ids {
		if slices.Contains(allowed, id) {
			return id
		}
	}
	if len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// identify reads the transport's view of the caller: a client certificate
// (direct, or forwarded by the gateway) and an address.
func identify(ctx context.Context, allowed []string) Caller {
	c := Caller{Via: "anonymous", Protocol: "grpc"}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return c
	}
	switch info := p.AuthInfo.(type) {
	case ForwardedAuthInfo:
		c.Protocol = "rest"
		c.Addr = firstIncoming(ctx, PeerAddrHeader)
		if id := certName(metadata.ValueFromIncomingContext(ctx, PeerCertHeader), allowed); id != "" {
			c.Name, c.Via = id, "mtls"
		}
		return c
	case credentials.TLSInfo:
		if certs := info.State.PeerCertificates; len(certs) > 0 {
			c.Name, c.Via = certName(security.Names(certs[0]), allowed), "mtls"
		}
	}
	if p.Addr != nil {
		c.Addr = p.Addr.String()
		if host, _, err := net.SplitHostPort(c.Addr); err == nil {
			c.Addr = host
		}
	}
	return c
}

// firstIncoming is the call's first value of a metadata key, or "".
func firstIncoming(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// AuthOptions is the caller policy.
type AuthOptions struct {
	// Tokens, when set, makes a bearer token mandatory.
	Tokens *security.Tokens
	// ExemptHealth and ExemptReflection let those services in without one.
	ExemptHealth, ExemptReflection bool
	// AllowedClients is the mutual-TLS allow-list: a certificate is known by
	// the first of its identities on the list (else its first identity).
	AllowedClients []string
}

func (o AuthOptions) exempt(method string) bool {
	return (o.ExemptHealth && strings.HasPrefix(method, "/grpc.health.v1.Health/")) ||
		(o.ExemptReflection && strings.HasPrefix(method, "/grpc.reflection."))
}

// errUnauthenticated is the one answer to a missing, malformed or unknown
// token: it says nothing of which it was.
func errUnauthenticated() error {
	return apierr.UnauthorizedCredentials.New("A valid bearer token is required.")
}

// authenticate establishes the caller, and with tokens configured rejects
// calls without a valid one.
func authenticate(o AuthOptions, ctx context.Context, method string) error {
	c := callOf(ctx)
	c.caller = identify(ctx, o.AllowedClients)
	if o.Tokens == nil || o.exempt(method) {
		return nil
	}
	scheme, token, ok := strings.Cut(firstIncoming(ctx, "authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return errUnauthenticated()
	}
	name, ok := o.Tokens.Authenticate(strings.TrimSpace(token))
	if !ok {
		return errUnauthenticated()
	}
	c.caller.Name, c.caller.Via = name, "token"
	return nil
}

// authUnary authenticates unary calls. Failed attempts count against the
// caller's address in the rate limiter, so guessing tokens is throttled
// like any other traffic.
func authUnary(o AuthOptions, l *ratelimit.Limiter, rec Recorder) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := authenticate(o, ctx, info.FullMethod); err != nil {
			if l != nil {
				if ok, wait := l.Allow("addr:" + CallerOf(ctx).Addr); !ok {
					rec.RateLimited("auth_failure")
					return nil, tooManyRequests(wait)
				}
			}
			return nil, err
		}
		return handler(ctx, req)
	}
}

func authStream(o AuthOptions) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := context.WithValue(ss.Context(), callKey{}, &call{})
		if err := authenticate(o, ctx, info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

// rateLimit refuses a caller over its rate with too_many_requests and a
// retry delay.
func rateLimit(l *ratelimit.Limiter, rec Recorder) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if l == nil || strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") {
			return handler(ctx, req)
		}
		if ok, wait := l.Allow(CallerOf(ctx).key()); !ok {
			rec.RateLimited("caller")
			return nil, tooManyRequests(wait)
		}
		return handler(ctx, req)
	}
}

func tooManyRequests(wait time.Duration) error {
	e := apierr.TooManyRequests.New("Too many requests from this caller; retry later.")
	e.RetryAfter = wait
	return e
}

// deadline caps every call's deadline at max, whatever grpc-timeout (or
// the gateway's Grpc-Timeout header) asked for; max <= 0 is no cap.
func deadline(max time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if max <= 0 {
			return handler(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, max)
		defer cancel()
		return handler(ctx, req)
	}
}
