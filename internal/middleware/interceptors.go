package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/codec"
)

// RequestIDHeader is the metadata key (and, through the gateway, HTTP header)
// that carries the caller's request ID in and attestd's out.
const RequestIDHeader = "x-request-id"

// maxRequestIDLen bounds a caller-chosen request ID.
const maxRequestIDLen = 128

// Options are the policies the chain enforces.
type Options struct {
	// Auth is the caller policy (bearer tokens, exemptions).
	Auth AuthOptions
	// Limiter rate-limits callers (internal/ratelimit); nil is no limit.
	Limiter Limiter
	// MaxDeadline caps every call's deadline; 0 is no cap.
	MaxDeadline time.Duration
	// Metrics receives calls and rate-limit refusals; nil records nothing.
	// It is the chain's only per-call metrics: grpc-ecosystem's server
	// metrics repeated it for every call without error_type or protocol.
	Metrics Recorder
	// Audit receives one event per attest; nil writes none. With it, an
	// attest's call line is debug unless the call failed loudly (see
	// callLevel): the audit event is the call's one event at info.
	Audit *slog.Logger
	// CallLog writes the call lines; nil means one of the chain's own. Set
	// it to share the failure lines' budget with the gateway.
	CallLog *CallLog
}

// Default is attestd's chain, outermost first:
//
//   - request_id: adopt the caller's x-request-id or mint one; echo it back,
//     with Stytch's request_id as x-stytch-request-id.
//   - metrics: every attest's count and latency by protocol, code and
//     error_type: the chain's only per-call metrics.
//   - logging: one structured line per call, after the status is final;
//     at info only when nothing else records the call (callLevel).
//   - audit: one audit event per attest.
//   - errors: the single place any error becomes a status with a StytchError.
//   - decode: a request the server codec could not decode (nested too
//     deeply, not protobuf) is refused here, InvalidArgument, so the call is
//     logged and counted like any other (internal/codec).
//   - recovery: a panic becomes an internal error instead of a crash
//     (go-grpc-middleware's recovery, attestd's answer and log line).
//   - deadline: cap the call's deadline, whatever the caller asked.
//   - auth: establish the caller (token, client certificate, address);
//     with tokens configured, refuse calls without a valid one
//     (go-grpc-middleware's auth, selector for the exempt services).
//   - rate_limit: a token bucket per caller (a Limiter; attestd's own
//     interceptor, see rateLimit).
//   - validate: protovalidate rules from the protos, before any handler work.
func Default(log *slog.Logger, v protovalidate.Validator, o Options) Chain {
	rec := o.Metrics
	if rec == nil {
		rec = noRecorder{}
	}
	callLog := o.CallLog
	if callLog == nil {
		callLog = NewCallLog(log)
	}
	return Chain{
		{Name: "request_id", Unary: requestID},
		{Name: "metrics", Unary: metrics(rec)},
		{Name: "logging", Unary: logging(callLog, o.Audit != nil)},
		{Name: "audit", Unary: audit(o.Audit)},
		{Name: "errors", Unary: toStatus},
		{Name: "decode", Unary: codec.UnaryServerInterceptor, Stream: codec.StreamServerInterceptor},
		{Name: "recovery", Unary: recovered(log)},
		{Name: "deadline", Unary: deadline(o.MaxDeadline)},
		{Name: "auth", Unary: authUnary(o.Auth, o.Limiter, rec), Stream: authStream(o.Auth)},
		{Name: "rate_limit", Unary: rateLimit(o.Limiter, rec)},
		{Name: "validate", Unary: validate(v)},
	}
}

// RequestID returns the call's request ID ("" outside an attestd call).
func RequestID(ctx context.Context) string { return callOf(ctx).requestID }

func requestID(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := firstIncoming(ctx, RequestIDHeader)
	if !ValidRequestID(id) {
		id = NewRequestID()
	}
	// The header cannot fail to send before the handler has written anything.
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
	resp, err := handler(context.WithValue(ctx, callKey{}, &call{requestID: id, method: info.FullMethod}), req)
	echoStytchRequestID(ctx, resp, err)
	return resp, err
}

// ValidRequestID accepts short printable-ASCII IDs, so a caller cannot inject
// log lines or oversized values.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// NewRequestID mints a random request ID.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "attestd-" + hex.EncodeToString(b[:])
}

// upstreamRequestID is implemented by AttestResponse: Stytch's request_id.
type upstreamRequestID interface{ GetRequestId() string }

// tokenBearer is implemented by AttestRequest: the IdP token, which a log
// line identifies only by its fingerprint.
type tokenBearer interface{ GetToken() string }

// logging writes the call line; audited says the chain's audit interceptor
// writes an event for every attest.
func logging(cl *CallLog, audited bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		var e *apierr.Error
		if err != nil {
			e = apierr.From(err)
		}
		level := callLevel(e, info.FullMethod == b2bsessionv1.SessionService_Attest_FullMethodName, audited)
		// The line is built only when it will be written: this runs on
		// every call, and at info most calls' lines are debug.
		if !cl.log.Enabled(ctx, level) {
			return resp, err
		}
		line := callLine{
			method: info.FullMethod, requestID: RequestID(ctx), took: time.Since(start),
			caller: CallerOf(ctx), err: e, stytchRequestID: stytchRequestID(resp, err),
		}
		if t, ok := req.(tokenBearer); ok && t.GetToken() != "" {
			line.tokenFP = tokenFingerprint(ctx, t.GetToken())
		}
		cl.write(ctx, level, line)
		return resp, err
	}
}

// callLevel is the level of a call's line (e nil on success). At info a
// call leaves one event, not two from the same fields: an attest that the
// audit interceptor records has its audit event (operators' pipelines read
// it), so its call line is debug; so is any other call that succeeded
// (health probes, reflection: noise at info). Failures at WARN and ERROR
// keep their line whatever else records them, since alerts key on those
// levels; and a failure nothing else records (a health check or reflection
// call refused, say) stays at info, its only trace.
func callLevel(e *apierr.Error, attest, audited bool) slog.Level {
	if e == nil {
		if attest && !audited {
			return slog.LevelInfo
		}
		return slog.LevelDebug
	}
	level := levelFor(e.Code)
	if level == slog.LevelInfo && attest && audited {
		return slog.LevelDebug
	}
	return level
}

// levelFor logs caller mistakes quietly and attestd's or Stytch's failures
// loudly.
func levelFor(c codes.Code) slog.Level {
	switch c {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func toStatus(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		return nil, apierr.From(err).WithRequestID(RequestID(ctx))
	}
	return resp, nil
}

// recovered is go-grpc-middleware's recovery with attestd's answer: the
// panic logged with its stack, the caller told only "internal error" (the
// errors and metrics interceptors outside then count it as any internal
// error).
func recovered(log *slog.Logger) grpc.UnaryServerInterceptor {
	return recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		// The panic value and stack describe attestd's code, not the
		// request, so they are safe to log. The handler runs in the
		// recovering defer, so the stack still shows where it panicked.
		log.Error("panic in handler", "method", callOf(ctx).method, "request_id", RequestID(ctx),
			"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return apierr.Internal.New("internal error")
	}))
}

func validate(v protovalidate.Validator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m, ok := req.(proto.Message); ok {
			if err := v.Validate(m); err != nil {
				return nil, validationError(err)
			}
		}
		return handler(ctx, req)
	}
}

// violationKinds gives Stytch's error type for rules Stytch has a name for,
// by field path or rule ID.
var violationKinds = map[string]apierr.Kind{
	"session_duration_minutes":   apierr.InvalidSessionDurationMinutes,
	"too_many_session_arguments": apierr.TooManySessionArguments,
}

// validationError renders protovalidate's verdict as InvalidArgument with a
// StytchError (type named after the first violation) whose error_details list
// every violation.
func validationError(err error) error {
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) || len(verr.Violations) == 0 {
		return apierr.Internal.Wrap(err, "request validation failed to run")
	}
	kind := apierr.BadRequest
	msgs := make([]string, 0, len(verr.Violations))
	list := make([]any, 0, len(verr.Violations))
	for i, v := range verr.Violations {
		field := protovalidate.FieldPathString(v.Proto.GetField())
		if i == 0 {
			if k, ok := violationKinds[field]; ok {
				kind = k
			} else if k, ok := violationKinds[v.Proto.GetRuleId()]; ok {
				kind = k
			}
		}
		msg := v.Proto.GetMessage()
		if field != "" {
			msg = field + ": " + msg
		}
		msgs = append(msgs, msg)
		list = append(list, map[string]any{"field": field, "rule": v.Proto.GetRuleId(), "message": v.Proto.GetMessage()})
	}
	e := kind.Wrap(err, strings.Join(msgs, "; "))
	e.Body.ErrorDetails, _ = structpb.NewStruct(map[string]any{"violations": list})
	return e
}
