package middleware

import (
	"context"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/attestd/attestd/internal/apierr"
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
	method    string // for the recovery handler, which is not given the call's info
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

// ForwardedForHeader is the metadata key of the caller's address as
// proxies report it: what a gRPC proxy sets, and what the REST gateway
// forwards (the HTTP header's list with the REST peer appended).
const ForwardedForHeader = "x-forwarded-for"

// forwardedFor is the caller's address: peer itself, unless peer is one of
// the trusted proxies; then the rightmost address of X-Forwarded-For that
// is not a trusted proxy (each proxy appends the address it saw, so the
// entries left of that one are the caller's to invent). With every entry
// trusted it is the leftmost; an entry that is not an address stops the
// walk at the trusted hop to its right.
func forwardedFor(ctx context.Context, peer string, trusted []netip.Prefix) string {
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(metadata.ValueFromIncomingContext(ctx, ForwardedForHeader), ","), ",")
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			if strings.TrimSpace(hops[i]) == "" && len(hops) == 1 {
				break // no header
			}
			return addr
		}
		addr = a.Unmap().String()
		if !isTrusted(addr, trusted) {
			return addr
		}
	}
	return addr
}

// isTrusted reports whether addr is in one of the trusted prefixes.
func isTrusted(addr string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
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
	// TrustedProxies are the load balancers whose X-Forwarded-For names the
	// caller's address (see forwardedFor); from any other peer the header
	// is ignored.
	TrustedProxies []netip.Prefix
}

// healthService is the gRPC health service, exempt from rate limits and
// (with ExemptHealth) from tokens.
var healthService = grpc_health_v1.Health_ServiceDesc.ServiceName

// needsToken selects the calls that must carry a bearer token: all of
// them once tokens are configured, but the exempt services.
func (o AuthOptions) needsToken() selector.Matcher {
	return selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		if o.Tokens == nil {
			return false
		}
		return !(o.ExemptHealth && c.Service == healthService) &&
			!(o.ExemptReflection && strings.HasPrefix(c.Service, "grpc.reflection."))
	})
}

// errUnauthenticated is the one answer to a missing, malformed or unknown
// token: it says nothing of which it was.
func errUnauthenticated() error {
	return apierr.UnauthorizedCredentials.New("A valid bearer token is required.")
}

// bearer checks the call's bearer token against tokens and names the
// caller after it. The same credentials are taken as HTTP Basic too (user:
// the caller's name, password: its token), which is all Stytch's SDKs can
// send (project_id:secret): an SDK pointed at attestd is configured with
// those two values. A refusal, whichever the scheme, is the one
// errUnauthenticated and counts against the caller's address in l (when
// set), so guessing tokens is throttled like any other traffic.
func bearer(tokens *security.Tokens, l Limiter, rec Recorder) auth.AuthFunc {
	return func(ctx context.Context) (context.Context, error) {
		name, ok := "", false
		if token, err := auth.AuthFromMD(ctx, "bearer"); err == nil {
			name, ok = tokens.Authenticate(strings.TrimSpace(token))
		} else if user, token, found := basicCredentials(ctx); found {
			name, ok = tokens.Authenticate(token)
			ok = ok && name == user
		}
		if !ok {
			if l != nil {
				if ok, wait := l.Allow(ctx, "addr:"+CallerOf(ctx).Addr); !ok {
					rec.RateLimited("auth_failure")
					return nil, tooManyRequests(wait)
				}
			}
			return nil, errUnauthenticated()
		}
		c := callOf(ctx)
		c.caller.Name, c.caller.Via = name, "token"
		return ctx, nil
	}
}

// basicCredentials is the user and password of the call's HTTP Basic
// authorization, if it has one that decodes.
func basicCredentials(ctx context.Context) (user, password string, ok bool) {
	encoded, err := auth.AuthFromMD(ctx, "basic")
	if err != nil {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// authUnary establishes every unary call's caller (transport identity),
// then go-grpc-middleware's auth, for the calls needsToken selects, checks
// the bearer token. That auth lets a service implementing its
// ServiceAuthFuncOverride decide for itself; no attestd service does.
func authUnary(o AuthOptions, l Limiter, rec Recorder) grpc.UnaryServerInterceptor {
	check := selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(bearer(o.Tokens, l, rec)), o.needsToken())
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		c := identify(ctx, o.AllowedClients)
		c.Addr = forwardedFor(ctx, c.Addr, o.TrustedProxies)
		callOf(ctx).caller = c
		return check(ctx, req, info, handler)
	}
}

// authStream checks the streaming calls' tokens (reflection, health
// Watch). Its refusals are not counted against a limiter: the chain
// rate-limits unary calls only.
func authStream(o AuthOptions) grpc.StreamServerInterceptor {
	return selector.StreamServerInterceptor(auth.StreamServerInterceptor(bearer(o.Tokens, nil, noRecorder{})), o.needsToken())
}

// Limiter is the per-caller rate limit the chain enforces: Allow takes one
// call from key's allowance, or refuses it and says how long until the
// caller may call again. internal/ratelimit keeps the buckets in this
// process; one shared by several replicas (a store behind the same
// interface) can take its place.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration)
}

// rateLimit refuses a caller over its rate with too_many_requests and a
// retry delay; the health service is never limited.
//
// go-grpc-middleware's ratelimit interceptor does not fit: it turns any
// refusal into its own ResourceExhausted status text, losing the
// StytchError (too_many_requests) and the retry delay that becomes
// Retry-After, and its Limit(ctx) is not told the caller's key.
func rateLimit(l Limiter, rec Recorder) grpc.UnaryServerInterceptor {
	if l == nil {
		return passThrough
	}
	limit := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if ok, wait := l.Allow(ctx, CallerOf(ctx).key()); !ok {
			rec.RateLimited("caller")
			return nil, tooManyRequests(wait)
		}
		return handler(ctx, req)
	}
	return selector.UnaryServerInterceptor(limit, selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthService
	}))
}

func tooManyRequests(wait time.Duration) error {
	e := apierr.TooManyRequests.New("Too many requests from this caller; retry later.")
	e.RetryAfter = wait
	return e
}

// passThrough is an interceptor that does nothing: a policy switched off.
func passThrough(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(ctx, req)
}

// deadline caps every call's deadline at max, whatever grpc-timeout (or
// the gateway's Grpc-Timeout header) asked for; max <= 0 is no cap.
func deadline(max time.Duration) grpc.UnaryServerInterceptor {
	if max <= 0 {
		return passThrough
	}
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, max)
		defer cancel()
		return handler(ctx, req)
	}
}
