// Package apierr is the one place where attestd's failures become gRPC
// statuses and Stytch-shaped REST bodies.
//
// Every error that leaves attestd carries a stytch.error.v1.StytchError in its
// status details (plus a google.rpc.ErrorInfo whose reason is the error_type),
// so gRPC clients in any language can decode it and the REST gateway can write
// it back as exactly the body Stytch would have sent, with the HTTP status
// equal to its status_code.
//
// It is also where what leaves attestd is bounded, whoever wrote it (Stytch,
// a proxy in Stytch's place, or a caller whose input an error echoes): every
// field of the body has a size cap (see MaxErrorMessageBytes and its
// siblings) and every retry delay lies within [0, MaxRetryAfter], so that a
// status's details always fit in the trailers gRPC clients accept and a
// Retry-After never overflows.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
)

// Domains of google.rpc.ErrorInfo: who decided the failure.
const (
	// DomainStytch marks errors Stytch returned.
	DomainStytch = "stytch.com"
	// DomainAttestd marks errors attestd raised itself.
	DomainAttestd = "attestd"
)

// Error types attestd raises itself. Where Stytch has a name for the same
// failure, attestd uses Stytch's name. Every name attestd knows, these and
// Stytch's, is in Types (types.go).
const (
	TypeBadRequest                    = "bad_request"
	TypeInvalidSessionDurationMinutes = "invalid_session_duration_minutes"
	TypeTooManySessionArguments       = "too_many_session_arguments"
	TypeCustomClaimsTooLarge          = "custom_claims_too_large"
	TypeRequestTooLarge               = "request_too_large"
	TypeRouteNotFound                 = "route_not_found"
	TypeMethodNotAllowed              = "method_not_allowed"
	TypeUnsupportedMediaType          = "unsupported_media_type"
	TypeUpstreamTimeout               = "upstream_timeout"
	TypeUpstreamUnavailable           = "upstream_unavailable"
	TypeUpstreamInvalidResponse       = "upstream_invalid_response"
	TypeUpstreamResponseTooLarge      = "upstream_response_too_large"
	TypeUpstreamError                 = "upstream_error"
	TypeRequestCanceled               = "request_canceled"
	TypeInternal                      = "internal_server_error"
	TypeUnauthorizedCredentials       = "unauthorized_credentials"
	TypeTooManyRequests               = "too_many_requests"
	TypeUpstreamOverloaded            = "upstream_overloaded"
	TypeUpstreamCircuitOpen           = "upstream_circuit_open"
	TypeUpstreamCredentialsRejected   = "upstream_credentials_rejected"
)

// StatusClientClosedRequest is the de-facto HTTP status for a call its
// client abandoned (nginx's 499); net/http has no constant for it.
const StatusClientClosedRequest = 499

// Error is a failure on its way to a caller: a gRPC code and the Stytch-shaped
// body that describes it.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Body is what REST callers receive and gRPC callers find in the details.
	Body *errorv1.StytchError
	// Domain is the ErrorInfo domain: DomainStytch or DomainAttestd.
	Domain string
	// RetryAfter, when positive, tells the caller when a retry may succeed:
	// a google.rpc.RetryInfo detail over gRPC, Retry-After over REST. It is
	// rendered clamped to MaxRetryAfter (see RetryAfterSeconds).
	RetryAfter time.Duration
	// cause is kept for errors.Is/As and logs; it is never sent to callers.
	cause error
}

// Error implements error with the public message only.
func (e *Error) Error() string {
	return e.Body.GetErrorType() + ": " + e.Body.GetErrorMessage()
}

// Unwrap exposes the internal cause to errors.Is/As.
func (e *Error) Unwrap() error { return e.cause }

// GRPCStatus lets grpc-go turn the error into its status directly.
func (e *Error) GRPCStatus() *status.Status { return e.Status() }

// Status renders the error as a gRPC status carrying the StytchError and an
// ErrorInfo in its details, bounded (see Bound) even if the body was changed
// after the error was built: gRPC clients refuse trailers over a few KiB
// (grpc C-core's soft limit is 8 KiB) and the details travel in a trailer.
// e itself is not modified, so concurrent renderings are safe.
func (e *Error) Status() *status.Status {
	body := e.Body
	if body == nil {
		body = &errorv1.StytchError{}
	}
	if !bounded(body) {
		body = proto.Clone(body).(*errorv1.StytchError)
		boundBody(body)
	}
	st := status.New(e.Code, body.GetErrorMessage())
	info := &errdetails.ErrorInfo{
		Reason: body.GetErrorType(),
		Domain: e.Domain,
		Metadata: map[string]string{
			"status_code": strconv.Itoa(int(body.GetStatusCode())),
			"request_id":  body.GetRequestId(),
		},
	}
	details := []protoadapt.MessageV1{body, info}
	if e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(ClampRetryAfter(e.RetryAfter))})
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil { // only if a detail cannot be marshalled: never for these types
		return st
	}
	return withDetails
}

// Kind is one of the failures attestd raises itself: its error type with the
// gRPC code and HTTP status that always go with it. The kinds below are the
// README's table of attestd's own errors.
type Kind struct {
	// Code is the gRPC status code.
	Code codes.Code
	// HTTPStatus is the body's status_code and the REST status.
	HTTPStatus int
	// Type is the error_type.
	Type string
}

// attestd's own failures.
var (
	BadRequest                    = Kind{codes.InvalidArgument, http.StatusBadRequest, TypeBadRequest}
	InvalidSessionDurationMinutes = Kind{codes.InvalidArgument, http.StatusBadRequest, TypeInvalidSessionDurationMinutes}
	TooManySessionArguments       = Kind{codes.InvalidArgument, http.StatusBadRequest, TypeTooManySessionArguments}
	CustomClaimsTooLarge          = Kind{codes.InvalidArgument, http.StatusBadRequest, TypeCustomClaimsTooLarge}
	RequestTooLarge               = Kind{codes.InvalidArgument, http.StatusRequestEntityTooLarge, TypeRequestTooLarge}
	RouteNotFound                 = Kind{codes.NotFound, http.StatusNotFound, TypeRouteNotFound}
	MethodNotAllowed              = Kind{codes.Unimplemented, http.StatusMethodNotAllowed, TypeMethodNotAllowed}
	// UnsupportedMediaType: a REST body sent as something other than JSON
	// (curl -d's form encoding, text/plain, XML).
	UnsupportedMediaType     = Kind{codes.InvalidArgument, http.StatusUnsupportedMediaType, TypeUnsupportedMediaType}
	UpstreamTimeout          = Kind{codes.DeadlineExceeded, http.StatusGatewayTimeout, TypeUpstreamTimeout}
	UpstreamUnavailable      = Kind{codes.Unavailable, http.StatusServiceUnavailable, TypeUpstreamUnavailable}
	UpstreamInvalidResponse  = Kind{codes.Internal, http.StatusBadGateway, TypeUpstreamInvalidResponse}
	UpstreamResponseTooLarge = Kind{codes.Internal, http.StatusBadGateway, TypeUpstreamResponseTooLarge}
	RequestCanceled          = Kind{codes.Canceled, StatusClientClosedRequest, TypeRequestCanceled}
	Internal                 = Kind{codes.Internal, http.StatusInternalServerError, TypeInternal}
	// UnauthorizedCredentials: a caller without valid attestd credentials
	// (bearer token). Stytch's name for the same failure.
	UnauthorizedCredentials = Kind{codes.Unauthenticated, http.StatusUnauthorized, TypeUnauthorizedCredentials}
	// TooManyRequests: the caller's rate limit. Stytch's name and status.
	TooManyRequests = Kind{codes.ResourceExhausted, http.StatusTooManyRequests, TypeTooManyRequests}
	// UpstreamOverloaded: load shed, every upstream slot busy and the queue
	// full.
	UpstreamOverloaded = Kind{codes.ResourceExhausted, http.StatusServiceUnavailable, TypeUpstreamOverloaded}
	// UpstreamCircuitOpen: Stytch has been failing; calls fail fast until a
	// probe succeeds.
	UpstreamCircuitOpen = Kind{codes.Unavailable, http.StatusServiceUnavailable, TypeUpstreamCircuitOpen}
	// UpstreamCredentialsRejected: Stytch refused attestd's own project
	// credentials (401 unauthorized_credentials). attestd is misconfigured,
	// not the caller, so it is not the caller's 401: Unavailable and 503,
	// because another replica, configured right, may succeed.
	UpstreamCredentialsRejected = Kind{codes.Unavailable, http.StatusServiceUnavailable, TypeUpstreamCredentialsRejected}
	// upstreamError: Stytch's answer is neither a success nor a Stytch error
	// (see UpstreamError).
	upstreamError = Kind{codes.Unavailable, http.StatusBadGateway, TypeUpstreamError}
)

// New builds an error of this kind. The message is bounded (see Bound), as
// it may echo a caller's input.
func (k Kind) New(message string) *Error {
	e := &Error{
		Code:   k.Code,
		Domain: DomainAttestd,
		Body: &errorv1.StytchError{
			StatusCode:   int32(k.HTTPStatus),
			ErrorType:    k.Type,
			ErrorMessage: message,
			ErrorUrl:     docURL(k.HTTPStatus, k.Type),
		},
	}
	return e.Bound()
}

// Wrap is New with an internal cause kept for errors.Is/As (never shown to
// callers).
func (k Kind) Wrap(cause error, message string) *Error {
	e := k.New(message)
	e.cause = cause
	return e
}

// UpstreamError is Stytch (or whatever answers in its place) answering
// httpStatus with neither an attest response nor a Stytch error: an HTML
// 4xx/5xx from a proxy, a redirect, a 1xx, a 202 or 204. attestd cannot use
// the answer, so it is attestd's 502 upstream_error (gRPC Unavailable,
// domain attestd, like upstream_invalid_response) whose message names
// Stytch's status. Stytch's status is never passed on as-is: a caller would
// read a proxy's 404 or 401 as a verdict on its own request.
func UpstreamError(httpStatus int) *Error {
	return upstreamError.New(fmt.Sprintf(
		"Stytch answered HTTP %d with neither an attest response nor a Stytch error", httpStatus))
}

// FromStytch builds the error for a Stytch error body received with the
// given HTTP status. The body's status_code is set to the HTTP status, as
// Stytch's Go SDK does, so REST callers see the two agree. The body is
// bounded in place (see Bound).
func FromStytch(httpStatus int, body *errorv1.StytchError) *Error {
	body.StatusCode = int32(httpStatus)
	e := &Error{Code: CodeForHTTPStatus(httpStatus), Body: body, Domain: DomainStytch}
	return e.Bound()
}

// Size caps of an error body's fields, whoever filled them in. A gRPC
// error travels in trailers, and grpc C-core clients (Python, Ruby, PHP, C#)
// reset the stream, at random from 8 KiB and always from 16 KiB, when the
// trailers are larger. The message is there three times (grpc-message,
// percent-encoded: up to 3 bytes per byte that is not printable ASCII; and
// twice in grpc-status-details-bin, base64 of the status with its
// StytchError), everything else once, as base64. With these caps the whole
// status is at most about 3.5 KiB as protobuf and the trailers at most
// about 6.5 KiB, whatever the text.
const (
	// MaxErrorMessageBytes caps error_message (and the gRPC status
	// message); a longer one is cut on a UTF-8 boundary and ends with
	// truncatedMarker. Stytch's messages and attestd's own are well under
	// it; the cap is for what echoes a caller or comes from a proxy.
	MaxErrorMessageBytes = 512
	// MaxErrorDetailsBytes caps error_details, measured as protobuf (what
	// the trailer carries; its JSON is of the same order). A larger one is
	// replaced by a note saying it was omitted. It leaves room for attestd's
	// own bad_request violations of every request field.
	MaxErrorDetailsBytes = 1536
	// MaxErrorURLBytes caps error_url; a longer one is dropped, not cut,
	// since a cut URL points somewhere else.
	MaxErrorURLBytes = 256
	// MaxErrorTypeBytes caps error_type (also the ErrorInfo reason).
	MaxErrorTypeBytes = 128
	// MaxRequestIDBytes caps request_id.
	MaxRequestIDBytes = 128
)

// truncatedMarker ends a message cut to MaxErrorMessageBytes.
const truncatedMarker = "… (truncated)"

// Bound caps every field of e's body in place (see MaxErrorMessageBytes and
// its siblings) and makes every string valid UTF-8, without which the body
// could not be marshalled into the status details at all. Errors built by
// this package are bounded already; code that changes a body afterwards
// (a message rewritten, details added) calls Bound again before writing it.
// It returns e for chaining.
func (e *Error) Bound() *Error {
	if e.Body != nil && !bounded(e.Body) {
		boundBody(e.Body)
	}
	return e
}

// bounded reports whether body is within every cap already: the common case,
// checked without allocating.
func bounded(b *errorv1.StytchError) bool {
	return len(b.GetErrorMessage()) <= MaxErrorMessageBytes && utf8.ValidString(b.GetErrorMessage()) &&
		len(b.GetErrorType()) <= MaxErrorTypeBytes && utf8.ValidString(b.GetErrorType()) &&
		len(b.GetErrorUrl()) <= MaxErrorURLBytes && utf8.ValidString(b.GetErrorUrl()) &&
		len(b.GetRequestId()) <= MaxRequestIDBytes && utf8.ValidString(b.GetRequestId()) &&
		(b.GetErrorDetails() == nil || proto.Size(b.GetErrorDetails()) <= MaxErrorDetailsBytes)
}

// boundBody applies the caps to b in place.
func boundBody(b *errorv1.StytchError) {
	b.ErrorMessage = truncate(b.ErrorMessage, MaxErrorMessageBytes, truncatedMarker)
	b.ErrorType = truncate(b.ErrorType, MaxErrorTypeBytes, "")
	b.RequestId = truncate(b.RequestId, MaxRequestIDBytes, "")
	if b.ErrorUrl = strings.ToValidUTF8(b.ErrorUrl, "\uFFFD"); len(b.ErrorUrl) > MaxErrorURLBytes {
		b.ErrorUrl = ""
	}
	if b.ErrorDetails != nil && proto.Size(b.ErrorDetails) > MaxErrorDetailsBytes {
		b.ErrorDetails = &structpb.Struct{Fields: map[string]*structpb.Value{
			"omitted": structpb.NewStringValue(fmt.Sprintf("error_details was over %d bytes", MaxErrorDetailsBytes)),
		}}
	}
}

// truncate makes s valid UTF-8 and at most limit bytes long, cutting on a
// rune boundary and ending a cut string with marker.
func truncate(s string, limit int, marker string) string {
	if len(s) <= limit && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := max(limit-len(marker), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

// MaxRetryAfter caps every retry delay attestd passes on. A delay from
// outside (Stytch's Retry-After, a status's RetryInfo) can be absurd, even
// past what a time.Duration holds; an hour is far beyond any wait worth
// telling a caller about, and small enough that no arithmetic on it
// overflows.
const MaxRetryAfter = time.Hour

// ClampRetryAfter returns d within [0, MaxRetryAfter].
func ClampRetryAfter(d time.Duration) time.Duration {
	return min(max(d, 0), MaxRetryAfter)
}

// RetryAfterSeconds renders a retry delay as RFC 9110 delay-seconds for a
// REST Retry-After header: whole seconds rounded up, within [0, 3600] (see
// MaxRetryAfter) whatever d is, so it never overflows or goes negative.
func RetryAfterSeconds(d time.Duration) int64 {
	d = ClampRetryAfter(d)
	return int64((d + time.Second - 1) / time.Second)
}

// CodeForHTTPStatus maps an upstream HTTP status to a gRPC code. The table is
// documented in the README ("Error mapping").
func CodeForHTTPStatus(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusPreconditionFailed:
		return codes.FailedPrecondition
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusInternalServerError:
		return codes.Internal
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	switch {
	case httpStatus >= 500:
		return codes.Unavailable
	case httpStatus >= 400:
		return codes.FailedPrecondition
	}
	return codes.Unknown
}

// byCode names the kind of a status that reached the edge without a
// StytchError (raised by grpc-go or the gateway itself, not by attestd's
// handlers, whose errors always carry one).
var byCode = map[codes.Code]Kind{
	codes.InvalidArgument:    BadRequest,
	codes.FailedPrecondition: BadRequest,
	codes.NotFound:           RouteNotFound,
	codes.DeadlineExceeded:   UpstreamTimeout,
	codes.Canceled:           RequestCanceled,
	codes.Unavailable:        UpstreamUnavailable,
	codes.Unauthenticated:    {codes.Unauthenticated, http.StatusUnauthorized, "unauthenticated"},
	codes.PermissionDenied:   {codes.PermissionDenied, http.StatusForbidden, "permission_denied"},
	codes.Unimplemented:      {codes.Unimplemented, http.StatusNotImplemented, "unimplemented"},
	// grpc-go's message size limit: a REST body within its JSON cap whose
	// protobuf form is larger (numbers in a Struct grow 4-5x).
	codes.ResourceExhausted: {codes.ResourceExhausted, http.StatusRequestEntityTooLarge, TypeRequestTooLarge},
	codes.Aborted:           {codes.Aborted, http.StatusConflict, "aborted"},
}

// From turns any error into an *Error. Errors already carrying a StytchError
// keep it; context errors get their codes; anything else is an internal error
// whose text is not shown to callers (it may hold details of attestd itself).
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return UpstreamTimeout.Wrap(err, "the call's deadline expired")
	case errors.Is(err, context.Canceled):
		return RequestCanceled.Wrap(err, "the call was canceled by its caller")
	}
	st, ok := status.FromError(err)
	if !ok {
		return Internal.Wrap(err, "internal error")
	}
	return FromStatus(st)
}

// FromStatus recovers the StytchError from a status's details, or builds one
// from its code when the status came from grpc-go or the gateway itself.
func FromStatus(st *status.Status) *Error {
	if body, info := Details(st); body != nil {
		domain := info.GetDomain()
		if domain == "" {
			domain = DomainStytch
		}
		e := &Error{Code: st.Code(), Body: body, Domain: domain, RetryAfter: retryAfter(st)}
		return e.Bound()
	}
	k, ok := byCode[st.Code()]
	if !ok {
		k = Internal
	}
	e := k.New(st.Message())
	e.Code = st.Code()
	return e
}

// retryAfter reads a status's google.rpc.RetryInfo (0 without one), clamped
// to [0, MaxRetryAfter]: the status may come from anywhere.
func retryAfter(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			return ClampRetryAfter(r.GetRetryDelay().AsDuration())
		}
	}
	return 0
}

// Details returns the StytchError and ErrorInfo a status carries (nil for
// each one it lacks): how any Go client reads attestd's errors.
func Details(st *status.Status) (*errorv1.StytchError, *errdetails.ErrorInfo) {
	var body *errorv1.StytchError
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errorv1.StytchError:
			body = d
		case *errdetails.ErrorInfo:
			info = d
		}
	}
	return body, info
}

// WithRequestID fills in the request ID of locally raised errors, which do not
// have Stytch's, bounded to MaxRequestIDBytes. It returns e for chaining.
func (e *Error) WithRequestID(id string) *Error {
	if e.Body.GetRequestId() == "" {
		e.Body.RequestId = truncate(id, MaxRequestIDBytes, "")
	}
	return e
}
