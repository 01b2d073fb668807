package middleware

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
)

// StytchRequestIDHeader returns Stytch's request_id to the caller (gRPC
// response metadata; X-Stytch-Request-Id over REST) next to x-request-id.
const StytchRequestIDHeader = "x-stytch-request-id"

// Recorder receives the chain's measurements (internal/observe.Metrics).
type Recorder interface {
	// Call records one finished call.
	Call(protocol, code, errorType string, took time.Duration)
	// RateLimited records a rate-limit refusal ("caller" or "auth_failure").
	RateLimited(reason string)
}

// noRecorder records nothing: the chain without metrics.
type noRecorder struct{}

func (noRecorder) Call(string, string, string, time.Duration) {}
func (noRecorder) RateLimited(string)                         {}

// stytchRequestID is Stytch's request_id of a call's answer or error ("" if
// Stytch did not answer).
func stytchRequestID(resp any, err error) string {
	if err != nil {
		e := apierr.From(err)
		if e.Domain != apierr.DomainStytch {
			return ""
		}
		return e.Body.GetRequestId()
	}
	if r, ok := resp.(upstreamRequestID); ok {
		return r.GetRequestId()
	}
	return ""
}

// metrics records every call's protocol, code, error_type and latency.
func metrics(r Recorder) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		code, errorType := codes.OK, ""
		if err != nil {
			e := apierr.From(err)
			code, errorType = e.Code, e.Body.GetErrorType()
		}
		if info.FullMethod == b2bsessionv1.SessionService_Attest_FullMethodName {
			r.Call(protocolOf(ctx), code.String(), errorType, time.Since(start))
		}
		return resp, err
	}
}

// protocolOf is "rest" for calls the gateway forwarded, else "grpc".
func protocolOf(ctx context.Context) string {
	if p := CallerOf(ctx).Protocol; p != "" {
		return p
	}
	return "grpc"
}

// audit writes one event per attest: who, what, the outcome, how long,
// which token (by fingerprint only).
// audit writes one event per attest. Every success and every outcome
// Stytch decided is recorded; failures of attestd's own (its refusals — rate
// limits, load shedding, an open circuit, a malformed request — and Stytch
// unreachable or misbehaving) are rate-limited per error type as the call
// lines are, with a suppressed count, so that a flood of them cannot flood
// the audit trail.
func audit(log *slog.Logger) grpc.UnaryServerInterceptor {
	local := newLineLimiter(nil)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		in, ok := req.(*b2bsessionv1.AttestRequest)
		if log == nil || !ok {
			return handler(ctx, req)
		}
		start := time.Now()
		resp, err := handler(ctx, req)
		if !log.Enabled(ctx, slog.LevelInfo) {
			return resp, err
		}
		out, _ := resp.(*b2bsessionv1.AttestResponse)
		caller := CallerOf(ctx)
		org := in.GetOrganizationId()
		if o := out.GetOrganization().GetOrganizationId(); o != "" {
			org = o
		}
		outcome, code, errorType := "success", codes.OK, ""
		var suppressed int64
		if err != nil {
			e := apierr.From(err)
			outcome, code, errorType = "failure", e.Code, e.Body.GetErrorType()
			if e.Domain == apierr.DomainAttestd {
				ok, n := local.allow(errorType)
				if !ok {
					return resp, err
				}
				suppressed = n
			}
		}
		attrs := []slog.Attr{
			slog.String("event", "attest"),
			slog.String("outcome", outcome),
			slog.String("code", code.String()),
			slog.String("error_type", errorType),
			slog.String("caller", caller.Name),
			slog.String("caller_via", caller.Via),
			slog.String("peer", caller.Addr),
			slog.String("protocol", protocolOf(ctx)),
			slog.String("profile_id", in.GetProfileId()),
			slog.String("organization_id", org),
			slog.String("member_id", out.GetMemberId()),
			slog.String("member_session_id", out.GetMemberSession().GetMemberSessionId()),
			slog.String("token_fp", tokenFingerprint(ctx, in.GetToken())),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", RequestID(ctx)),
			slog.String("stytch_request_id", stytchRequestID(resp, err)),
		}
		if suppressed > 0 {
			attrs = append(attrs, slog.Int64("suppressed", suppressed))
		}
		log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
		return resp, err
	}
}

// echoStytchRequestID returns Stytch's request_id in the response metadata.
func echoStytchRequestID(ctx context.Context, resp any, err error) {
	if id := stytchRequestID(resp, err); id != "" {
		_ = grpc.SetHeader(ctx, metadata.Pairs(StytchRequestIDHeader, id))
	}
}
