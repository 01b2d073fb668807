package middleware_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/ratelimit"
	"github.com/attestd/attestd/internal/security"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/testkit/logsink"
	"github.com/attestd/attestd/internal/testkit/testpki"
)

const (
	attestMethod     = b2bsessionv1.SessionService_Attest_FullMethodName
	healthMethod     = "/grpc.health.v1.Health/Check"
	healthWatch      = "/grpc.health.v1.Health/Watch"
	reflectionMethod = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	tokenA           = "tok-a-0123456789abcdef"
)

func tokens(t *testing.T) *security.Tokens {
	t.Helper()
	tk, err := security.ParseTokens([]byte("svc-a " + tokenA + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runAt is chain_test.go's run with the method given: the chain composed
// as grpc.ChainUnaryInterceptor composes it, then called.
func runAt(ctx context.Context, chain middleware.Chain, method string, req any, handler grpc.UnaryHandler) (any, error) {
	info := &grpc.UnaryServerInfo{FullMethod: method}
	h := handler
	for i := len(chain) - 1; i >= 0; i-- {
		next, ic := h, chain[i].Unary
		h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
	}
	return h(ctx, req)
}

// callerSeen runs one Attest through the chain and returns the caller the
// handler saw (zero when the handler was not reached) and the error.
func callerSeen(ctx context.Context, chain middleware.Chain, method string, req any) (middleware.Caller, bool, error) {
	var seen middleware.Caller
	reached := false
	_, err := runAt(ctx, chain, method, req, func(ctx context.Context, _ any) (any, error) {
		seen, reached = middleware.CallerOf(ctx), true
		return &b2bsessionv1.AttestResponse{}, nil
	})
	return seen, reached, err
}

// withAuth is the incoming metadata of a call with this authorization
// header ("" sends none).
func withAuth(ctx context.Context, authorization string) context.Context {
	if authorization == "" {
		return ctx
	}
	return metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", authorization))
}

func wantUnauthenticated(t *testing.T, err error) string {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a status", err)
	}
	se, info := apierr.Details(st)
	if st.Code() != codes.Unauthenticated || se.GetErrorType() != "unauthorized_credentials" || se.GetStatusCode() != 401 {
		t.Fatalf("got %v %q %d; want Unauthenticated unauthorized_credentials 401", st.Code(), se.GetErrorType(), se.GetStatusCode())
	}
	if info.GetDomain() != apierr.DomainAttestd {
		t.Errorf("ErrorInfo domain %q", info.GetDomain())
	}
	if se.GetErrorMessage() != st.Message() {
		t.Errorf("status message %q, body message %q", st.Message(), se.GetErrorMessage())
	}
	return st.Message()
}

func TestBearerTokens(t *testing.T) {
	logs := &logsink.Logs{}
	chain := middleware.Default(slog.New(slog.NewJSONHandler(logs, nil)), validator(t),
		middleware.Options{Auth: middleware.AuthOptions{Tokens: tokens(t)}})
	refused := []struct{ name, authorization string }{
		{"missing", ""},
		{"wrong token", "Bearer tok-wrong-0123456789abcdef"},
		{"token of another length", "Bearer x"},
		{"right token, Basic scheme", "Basic " + tokenA},
		{"Basic credentials", "Basic x"},
		{"scheme only", "Bearer"},
		{"scheme and space", "Bearer "},
		{"token without scheme", tokenA},
		{"token glued to scheme", "Bearer" + tokenA},
		{"empty scheme", " " + tokenA},
		{"name instead of token", "Bearer svc-a"},
		{"Basic, another caller's name", "Basic " + basic("svc-b", tokenA)},
		{"Basic, wrong token", "Basic " + basic("svc-a", "tok-wrong-0123456789abcdef")},
		{"Basic, token as the name", "Basic " + basic(tokenA, "")},
		{"Basic, no password", "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-a"))},
		{"Basic, not base64", "Basic svc-a:" + tokenA},
	}
	var message string
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, reached, err := callerSeen(withAuth(testCtx(t), tc.authorization), chain, attestMethod, validRequest())
			if reached {
				t.Fatal("the handler ran without a valid token")
			}
			msg := wantUnauthenticated(t, err)
			if message == "" {
				message = msg
			} else if msg != message {
				t.Errorf("message %q differs from %q: the answer tells failures apart", msg, message)
			}
		})
	}
	if strings.Contains(logs.String(), "tok-wrong") || strings.Contains(logs.String(), tokenA) {
		t.Errorf("a presented token reached the logs:\n%s", logs.String())
	}

	for _, authorization := range []string{"Bearer " + tokenA, "bearer " + tokenA, "BEARER " + tokenA, "Bearer  " + tokenA + " ",
		"Basic " + basic("svc-a", tokenA), "basic " + basic("svc-a", tokenA)} {
		seen, reached, err := callerSeen(withAuth(testCtx(t), authorization), chain, attestMethod, validRequest())
		if err != nil || !reached {
			t.Fatalf("%q: %v", authorization, err)
		}
		if seen.Name != "svc-a" || seen.Via != "token" {
			t.Errorf("%q: handler saw caller %+v; want svc-a via token", authorization, seen)
		}
	}
	// The call log line names the caller.
	var found bool
	for _, l := range logs.Lines(t) {
		if l["msg"] == "call" && l["code"] == "OK" {
			found = true
			if l["caller"] != "svc-a" || l["caller_via"] != "token" {
				t.Errorf("call logged as %v via %v", l["caller"], l["caller_via"])
			}
		}
	}
	if !found {
		t.Error("no call log line for an accepted call")
	}
}

// basic is HTTP Basic credentials, as Stytch's SDKs send project_id:secret.
func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

func TestNoTokensConfiguredAdmitsAnonymousCalls(t *testing.T) {
	chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{})
	seen, reached, err := callerSeen(withAuth(testCtx(t), "Bearer whatever"), chain, attestMethod, validRequest())
	if err != nil || !reached {
		t.Fatalf("call refused without a token policy: %v", err)
	}
	if seen.Name != "" || seen.Via != "anonymous" {
		t.Errorf("caller %+v; want anonymous", seen)
	}
}

func TestExemptions(t *testing.T) {
	health := &grpc_health_v1.HealthCheckRequest{}
	cases := []struct {
		name   string
		auth   middleware.AuthOptions
		method string
		req    any
		ok     bool
	}{
		{"health exempt", middleware.AuthOptions{ExemptHealth: true}, healthMethod, health, true},
		{"health not exempt", middleware.AuthOptions{}, healthMethod, health, false},
		{"health exemption does not cover Attest", middleware.AuthOptions{ExemptHealth: true, ExemptReflection: true}, attestMethod, validRequest(), false},
		{"health exemption does not cover a look-alike", middleware.AuthOptions{ExemptHealth: true}, "/grpc.health.v1.HealthX/Check", health, false},
		{"reflection exemption does not cover health", middleware.AuthOptions{ExemptReflection: true}, healthMethod, health, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.auth.Tokens = tokens(t)
			chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{Auth: tc.auth})
			seen, reached, err := callerSeen(testCtx(t), chain, tc.method, tc.req)
			if tc.ok {
				if err != nil || !reached {
					t.Fatalf("exempt call refused: %v", err)
				}
				if seen.Via != "anonymous" {
					t.Errorf("exempt call's caller %+v", seen)
				}
				return
			}
			if reached {
				t.Fatal("the handler ran without a token")
			}
			wantUnauthenticated(t, err)
		})
	}
}

// fakeStream is a grpc.ServerStream whose context the test chooses.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s fakeStream) Context() context.Context { return s.ctx }

func streamAuth(t *testing.T, o middleware.AuthOptions) grpc.StreamServerInterceptor {
	t.Helper()
	for _, n := range middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{Auth: o}) {
		if n.Name == "auth" {
			if n.Stream == nil {
				t.Fatal("the auth interceptor does not guard streams")
			}
			return n.Stream
		}
	}
	t.Fatal("no auth interceptor in the chain")
	return nil
}

func TestStreamExemptions(t *testing.T) {
	cases := []struct {
		name          string
		reflection    bool
		method        string
		authorization string
		ok            bool
	}{
		{"reflection needs a token by default", false, reflectionMethod, "", false},
		{"reflection v1alpha too", false, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "", false},
		{"reflection with a wrong token", false, reflectionMethod, "Bearer tok-wrong-0123456789abcdef", false},
		{"reflection with a token", false, reflectionMethod, "Bearer " + tokenA, true},
		{"reflection exempt when configured", true, reflectionMethod, "", true},
		{"health Watch exempt", false, healthWatch, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			interceptor := streamAuth(t, middleware.AuthOptions{Tokens: tokens(t), ExemptHealth: true, ExemptReflection: tc.reflection})
			ctx := withAuth(testCtx(t), tc.authorization)
			reached := false
			err := interceptor(nil, fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: tc.method, IsServerStream: true, IsClientStream: true},
				func(any, grpc.ServerStream) error { reached = true; return nil })
			if tc.ok {
				if err != nil || !reached {
					t.Errorf("stream refused: %v", err)
				}
				return
			}
			if reached {
				t.Fatal("the stream handler ran without a valid token")
			}
			wantUnauthenticated(t, err)
		})
	}
}

func TestRateLimit(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{
		Limiter: ratelimit.New(1, 2, clock.Now),
	})
	from := func(addr string) context.Context {
		return peer.NewContext(testCtx(t), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}})
	}
	for i := range 2 {
		if _, _, err := callerSeen(from("10.0.0.1"), chain, attestMethod, validRequest()); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	_, reached, err := callerSeen(from("10.0.0.1"), chain, attestMethod, validRequest())
	if reached {
		t.Fatal("the handler ran over the rate limit")
	}
	st, _ := status.FromError(err)
	se, _ := apierr.Details(st)
	if st.Code() != codes.ResourceExhausted || se.GetErrorType() != "too_many_requests" || se.GetStatusCode() != 429 {
		t.Fatalf("third call: %v %q %d; want ResourceExhausted too_many_requests 429", st.Code(), se.GetErrorType(), se.GetStatusCode())
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil {
		t.Fatalf("no RetryInfo detail: %v", st.Details())
	}
	if d := retry.GetRetryDelay().AsDuration(); d <= 0 || d > time.Second {
		t.Errorf("RetryInfo delay %v; want (0, 1s]", d)
	}

	// Another caller has its own bucket; health is never limited.
	if _, _, err := callerSeen(from("10.0.0.2"), chain, attestMethod, validRequest()); err != nil {
		t.Errorf("another caller was limited: %v", err)
	}
	if _, _, err := callerSeen(from("10.0.0.1"), chain, healthMethod, &grpc_health_v1.HealthCheckRequest{}); err != nil {
		t.Errorf("health check was limited: %v", err)
	}
	// A refused call took no token: one second later exactly one is back.
	clock.Advance(time.Second)
	if _, _, err := callerSeen(from("10.0.0.1"), chain, attestMethod, validRequest()); err != nil {
		t.Errorf("call a second later: %v", err)
	}
	if _, _, err := callerSeen(from("10.0.0.1"), chain, attestMethod, validRequest()); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("second call a second later: %v; want ResourceExhausted", err)
	}
}

func TestRateLimitKeysOnTokenCaller(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{
		Auth:    middleware.AuthOptions{Tokens: tokens(t)},
		Limiter: ratelimit.New(1, 1, clock.Now),
	})
	// The same token from two addresses is one caller with one bucket.
	call := func(addr string) error {
		ctx := peer.NewContext(withAuth(testCtx(t), "Bearer "+tokenA), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 1}})
		_, _, err := callerSeen(ctx, chain, attestMethod, validRequest())
		return err
	}
	if err := call("10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := call("10.0.0.2"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("same token, other address: %v; want ResourceExhausted", err)
	}
}

func TestDeadlineCap(t *testing.T) {
	const capped = time.Minute
	cases := []struct {
		name     string
		max      time.Duration
		caller   time.Duration // 0: no caller deadline
		wantNear time.Duration // the deadline the handler should see, from now
	}{
		{"1h cut to the cap", capped, time.Hour, capped},
		{"no caller deadline gets the cap", capped, 0, capped},
		{"shorter caller deadline kept", capped, 5 * time.Second, 5 * time.Second},
		{"no cap keeps the caller's deadline", 0, time.Hour, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{MaxDeadline: tc.max})
			before := time.Now()
			ctx := context.Background()
			if tc.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.caller)
				defer cancel()
			}
			var deadline time.Time
			var ok bool
			_, err := runAt(ctx, chain, attestMethod, validRequest(), func(ctx context.Context, _ any) (any, error) {
				deadline, ok = ctx.Deadline()
				return &b2bsessionv1.AttestResponse{}, nil
			})
			after := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Fatal("the handler saw no deadline")
			}
			// Set between before and after: the cap when the chain ran, the
			// caller's when its context was made.
			if deadline.Before(before.Add(tc.wantNear)) || deadline.After(after.Add(tc.wantNear)) {
				t.Errorf("handler deadline in %v; want %v", deadline.Sub(before), tc.wantNear)
			}
			if tc.max > 0 && deadline.After(after.Add(tc.max)) {
				t.Errorf("handler deadline in %v exceeds the cap %v", deadline.Sub(after), tc.max)
			}
		})
	}
}

// TestForwardedIdentityTrustedOnlyInProcess: the gateway's x-attestd-*
// metadata names the caller only on the in-process connection.
func TestForwardedIdentityTrustedOnlyInProcess(t *testing.T) {
	forged := metadata.Pairs(middleware.PeerCertHeader, "svc-a.internal", middleware.PeerAddrHeader, "10.9.9.9")
	leaf := testpki.New(t).Client(t, "svc-b.internal").Leaf
	tcp := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5555}
	cases := []struct {
		name string
		peer *peer.Peer // nil: no peer in the context
		want middleware.Caller
	}{
		{"in-process connection", &peer.Peer{Addr: tcp, AuthInfo: middleware.ForwardedAuthInfo{}},
			middleware.Caller{Name: "svc-a.internal", Via: "mtls", Addr: "10.9.9.9", Protocol: "rest"}},
		{"network connection without credentials", &peer.Peer{Addr: tcp, AuthInfo: nil},
			middleware.Caller{Via: "anonymous", Addr: "192.0.2.7", Protocol: "grpc"}},
		{"TLS without a client certificate", &peer.Peer{Addr: tcp, AuthInfo: credentials.TLSInfo{}},
			middleware.Caller{Via: "anonymous", Addr: "192.0.2.7", Protocol: "grpc"}},
		{"TLS with another client certificate", &peer.Peer{Addr: tcp, AuthInfo: credentials.TLSInfo{
			State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}}},
			middleware.Caller{Name: "svc-b.internal", Via: "mtls", Addr: "192.0.2.7", Protocol: "grpc"}},
		{"no peer", nil, middleware.Caller{Via: "anonymous", Protocol: "grpc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logsink.Logs{}
			chain := middleware.Default(slog.New(slog.NewJSONHandler(logs, nil)), validator(t), middleware.Options{})
			ctx := metadata.NewIncomingContext(testCtx(t), forged)
			if tc.peer != nil {
				ctx = peer.NewContext(ctx, tc.peer)
			}
			seen, reached, err := callerSeen(ctx, chain, attestMethod, validRequest())
			if err != nil || !reached {
				t.Fatal(err)
			}
			if seen != tc.want {
				t.Errorf("caller %+v, want %+v", seen, tc.want)
			}
			lines := logs.Lines(t)
			if len(lines) != 1 || lines[0]["caller"] != tc.want.Name || lines[0]["caller_via"] != tc.want.Via || lines[0]["peer"] != tc.want.Addr {
				t.Errorf("call log %v; want caller %+v", lines, tc.want)
			}
		})
	}

	// A valid token wins over a forwarded certificate identity.
	chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{Auth: middleware.AuthOptions{Tokens: tokens(t)}})
	md := metadata.Join(forged, metadata.Pairs("authorization", "Bearer "+tokenA))
	ctx := peer.NewContext(metadata.NewIncomingContext(testCtx(t), md), &peer.Peer{AuthInfo: middleware.ForwardedAuthInfo{}})
	seen, _, err := callerSeen(ctx, chain, attestMethod, validRequest())
	if err != nil || seen.Name != "svc-a" || seen.Via != "token" || seen.Addr != "10.9.9.9" {
		t.Errorf("token over in-process connection: %+v, %v", seen, err)
	}
}

// TestFailedAuthenticationIsRateLimited: wrong tokens count against the
// address's bucket, so guessing is throttled: 401, 401, then 429.
func TestFailedAuthenticationIsRateLimited(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{
		Auth:    middleware.AuthOptions{Tokens: tokens(t)},
		Limiter: ratelimit.New(1, 2, clock.Now),
	})
	ctx := peer.NewContext(withAuth(testCtx(t), "Bearer wrong-token-wrong-token"), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("10.0.0.9"), Port: 1}})
	for i := range 2 {
		if _, _, err := callerSeen(ctx, chain, attestMethod, validRequest()); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("guess %d: %v; want Unauthenticated", i+1, err)
		}
	}
	if _, _, err := callerSeen(ctx, chain, attestMethod, validRequest()); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("third guess: %v; want ResourceExhausted", err)
	}
}

// TestCertificateNamedByAllowList: a certificate with several identities
// is known by the one the allow-list admitted it for.
func TestCertificateNamedByAllowList(t *testing.T) {
	chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{
		Auth: middleware.AuthOptions{AllowedClients: []string{"svc-a.internal"}},
	})
	md := metadata.Pairs(middleware.PeerCertHeader, "spiffe://corp/svc-a", middleware.PeerCertHeader, "svc-a.internal")
	ctx := peer.NewContext(metadata.NewIncomingContext(testCtx(t), md), &peer.Peer{AuthInfo: middleware.ForwardedAuthInfo{}})
	c, _, err := callerSeen(ctx, chain, attestMethod, validRequest())
	if err != nil || c.Name != "svc-a.internal" || c.Via != "mtls" {
		t.Errorf("caller %+v (%v); want svc-a.internal via mtls", c, err)
	}
}
