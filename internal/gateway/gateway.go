// Package gateway serves SessionService as REST JSON in Stytch's own wire
// format, through grpc-gateway calling the services in process
// (inproc.Direct), so every call runs the server's interceptor chain. guard
// bounds what REST calls cost: body size, calls in progress, answer writes.
//
// Stytch's SDKs can use attestd as their base URL: routes are Stytch's, at
// the host root; success bodies are Stytch's JSON; error bodies are Stytch's
// error shape with the HTTP status equal to the body's status_code.
package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/jwks"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/security"
	"github.com/attestd/attestd/internal/translate"
	"github.com/attestd/attestd/internal/verbatim"
)

// requestIDHeader and stytchRequestIDHeader are the canonical HTTP forms of
// the request-ID headers.
var (
	requestIDHeader       = textproto.CanonicalMIMEHeaderKey(middleware.RequestIDHeader)
	stytchRequestIDHeader = textproto.CanonicalMIMEHeaderKey(middleware.StytchRequestIDHeader)
)

// New returns the REST handler for SessionService, calling the gRPC server
// through conn, within the given limits (see guard).
func New(ctx context.Context, conn grpc.ClientConnInterface, limits Limits) (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &marshaler{runtime.JSONPb{
			MarshalOptions:   translate.MarshalOptions,
			UnmarshalOptions: translate.RequestUnmarshalOptions,
		}}),
		runtime.WithErrorHandler(writeError),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithHealthzEndpoint(grpc_health_v1.NewHealthClient(conn)),
		runtime.WithMetadata(peerMetadata),
		runtime.WithForwardResponseRewriter(verbatimAnswer),
		runtime.WithWriteContentLength(),
	)
	if err := b2bsessionv1.RegisterSessionServiceHandlerClient(ctx, mux, b2bsessionv1.NewSessionServiceClient(conn)); err != nil {
		return nil, fmt.Errorf("register REST routes: %w", err)
	}
	return guard(methods(mux), limits), nil
}

// marshaler renders answers with translate.Marshal (its fast encoder, with
// protojson as the reference it falls back to); it decodes bodies with
// protojson after bounding their nesting, and refuses trailing data
// (decode.go).
type marshaler struct{ runtime.JSONPb }

// Marshal renders a message as Stytch's JSON; Stytch's own bytes (see
// verbatimAnswer) are written as they are.
func (m *marshaler) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case stytchBytes:
		return v, nil
	case proto.Message:
		return translate.Marshal(v)
	}
	return m.JSONPb.Marshal(v)
}

// stytchBytes is a successful answer exactly as Stytch sent it.
type stytchBytes []byte

// verbatimAnswer serves a REST call Stytch's own body when the answer is
// the one decoded from it for this very call (package verbatim), so REST
// callers get Stytch's JSON byte for byte; any other answer is rendered by
// the encoder.
func verbatimAnswer(ctx context.Context, resp proto.Message) (any, error) {
	if raw, ok := verbatim.From(ctx).Bytes(resp); ok {
		return stytchBytes(raw), nil
	}
	return resp, nil
}

// incomingHeader forwards the request ID to gRPC metadata; everything else
// the gateway forwards by default (with its grpcgateway- prefix) stays as
// is, except attestd's own x-attestd-* keys, which a caller could otherwise
// forge with a Grpc-Metadata- header.
func incomingHeader(key string) (string, bool) {
	if textproto.CanonicalMIMEHeaderKey(key) == requestIDHeader {
		return middleware.RequestIDHeader, true
	}
	mapped, ok := runtime.DefaultHeaderMatcher(key)
	if ok && strings.HasPrefix(strings.ToLower(mapped), middleware.InternalHeaderPrefix) {
		return "", false
	}
	return mapped, ok
}

// peerMetadata tells the server what only the HTTP side knows of the
// caller: its address and its client certificate's identity.
func peerMetadata(_ context.Context, r *http.Request) metadata.MD {
	md := metadata.MD{}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		md.Set(middleware.PeerAddrHeader, host)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		// All of them: the server picks by its allow-list.
		md.Set(middleware.PeerCertHeader, security.Names(r.TLS.PeerCertificates[0])...)
	}
	return md
}

// outgoingHeader returns the request IDs as X-Request-Id and
// X-Stytch-Request-Id, and GetJwks's caching answer as Cache-Control, and
// nothing else: no Grpc-Metadata-* noise for Stytch SDK callers.
func outgoingHeader(key string) (string, bool) {
	switch key {
	case middleware.RequestIDHeader:
		return requestIDHeader, true
	case middleware.StytchRequestIDHeader:
		return stytchRequestIDHeader, true
	case jwks.CacheControlHeader:
		return "Cache-Control", true
	}
	return "", false
}

// writeError is the gateway's error handler: the status (with its
// StytchError, when attestd's server produced it) becomes a Stytch-shaped body.
func writeError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	e := apierr.FromStatus(st)
	if e.Domain == apierr.DomainAttestd && st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		// The gateway itself could not decode the body: name the problem
		// (e.g. `unknown field "foo"`) without protojson's prefix.
		e.Body.ErrorMessage = "invalid request body: " + strings.TrimSpace(strings.TrimPrefix(st.Message(), "proto:"))
		e.Bound() // the message may quote the caller's input at any length
	}
	chainRan := false // its first interceptor always sets the request ID
	if md, ok := runtime.ServerMetadataFromContext(ctx); ok {
		if ids := md.HeaderMD.Get(middleware.RequestIDHeader); len(ids) > 0 {
			// The header carries the call's ID; the body keeps Stytch's
			// request_id when Stytch answered, as Stytch's own errors do.
			w.Header().Set(requestIDHeader, ids[0])
			e.WithRequestID(ids[0])
			chainRan = true
		}
		if ids := md.HeaderMD.Get(middleware.StytchRequestIDHeader); len(ids) > 0 {
			w.Header().Set(stytchRequestIDHeader, ids[0])
		}
	}
	if !chainRan { // the body could not be decoded: the chain never saw it
		refuse(w, r, e)
		return
	}
	writeBody(w, r, e)
}

// routingError answers unknown routes and wrong methods in Stytch's shape.
func routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		if m := allowed(r.URL.Path); m != nil {
			w.Header().Set("Allow", strings.Join(m, ", "))
		}
		writeBody(w, r, apierr.MethodNotAllowed.New(fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)))
	case http.StatusNotFound:
		writeBody(w, r, apierr.RouteNotFound.New(fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)))
	default:
		writeBody(w, r, apierr.Kind{Code: codes.InvalidArgument, HTTPStatus: httpStatus, Type: apierr.TypeBadRequest}.New(http.StatusText(httpStatus)))
	}
}

// writeBody writes e as Stytch's error JSON with HTTP status = status_code.
func writeBody(w http.ResponseWriter, r *http.Request, e *apierr.Error) {
	if e.Body.GetRequestId() == "" {
		if id := r.Header.Get(requestIDHeader); middleware.ValidRequestID(id) {
			e.WithRequestID(id)
		} else {
			e.WithRequestID(middleware.NewRequestID())
		}
	}
	if w.Header().Get(requestIDHeader) == "" {
		w.Header().Set(requestIDHeader, e.Body.GetRequestId())
	}
	body, err := translate.Marshal(e.Body)
	if err != nil { // a StytchError always marshals; keep the contract anyway
		body = []byte(`{"status_code":500,"request_id":"","error_type":"internal_server_error","error_message":"internal error","error_url":""}`)
		e.Body.StatusCode = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	if e.Body.GetStatusCode() == http.StatusUnauthorized && e.Domain == apierr.DomainAttestd {
		// Both schemes attestd takes: a bearer token, or Basic name:token
		// (Stytch's SDKs).
		w.Header().Set("WWW-Authenticate", `Bearer realm="attestd", Basic realm="attestd"`)
	}
	if e.RetryAfter > 0 {
		// Whole seconds, rounded up: RFC 9110 delay-seconds.
		w.Header().Set("Retry-After", strconv.FormatInt(apierr.RetryAfterSeconds(e.RetryAfter), 10))
	}
	w.WriteHeader(int(e.Body.GetStatusCode()))
	_, _ = w.Write(body)
}
