package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/observe"
	"github.com/attestd/attestd/internal/testkit/logsink"
)

func validator(t testing.TB) protovalidate.Validator {
	t.Helper()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatalf("protovalidate.New: %v", err)
	}
	return v
}

func passThrough(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(ctx, req)
}

func TestDefaultChainOrder(t *testing.T) {
	chain := middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{})
	want := []string{"request_id", "metrics", "logging", "audit", "errors", "decode", "recovery", "deadline", "auth", "rate_limit", "validate"}
	if got := chain.Names(); !slices.Equal(got, want) {
		t.Errorf("Default chain %v, want %v", got, want)
	}
	for _, n := range chain {
		if n.Unary == nil {
			t.Errorf("interceptor %q is nil", n.Name)
		}
	}
}

func TestServerOption(t *testing.T) {
	cases := []struct {
		name    string
		chain   middleware.Chain
		mention string // "" means valid
	}{
		{"default", middleware.Default(slog.New(slog.DiscardHandler), validator(t), middleware.Options{}), ""},
		{"empty", middleware.Chain{}, ""},
		{"duplicate name", middleware.Chain{{Name: "a", Unary: passThrough}, {Name: "b", Unary: passThrough}, {Name: "a", Unary: passThrough}}, `"a" appears twice`},
		{"empty name", middleware.Chain{{Name: "a", Unary: passThrough}, {Name: "", Unary: passThrough}}, "incomplete"},
		{"nil interceptor", middleware.Chain{{Name: "a", Unary: passThrough}, {Name: "b", Unary: nil}}, `"b" is incomplete`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt, err := tc.chain.ServerOptions()
			if tc.mention == "" {
				if err != nil || opt == nil {
					t.Errorf("ServerOptions() = %v, %v", opt, err)
				}
				return
			}
			if err == nil || opt != nil {
				t.Fatalf("ServerOptions() = %v, %v; want an error", opt, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestValidRequestID(t *testing.T) {
	cases := []struct {
		name string
		id   string
		want bool
	}{
		{"empty", "", false},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"space", "req 1", false},
		{"leading space", " req-1", false},
		{"newline", "req-1\n{\"level\":\"ERROR\"}", false},
		{"carriage return", "req-1\r", false},
		{"tab", "req\t1", false},
		{"NUL", "req\x001", false},
		{"DEL", "req\x7f", false},
		{"non-ASCII", "req-é", false},
		{"invalid UTF-8", "req-\xff", false},
		{"single char", "x", true},
		{"uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"printable punctuation", "caller/req_42:v=1;a|b~{}", true},
		{"minted", middleware.NewRequestID(), true},
	}
	for _, tc := range cases {
		if got := middleware.ValidRequestID(tc.id); got != tc.want {
			t.Errorf("%s: ValidRequestID(%q) = %v, want %v", tc.name, tc.id, got, tc.want)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	seen := make(map[string]bool, 1000)
	for range 1000 {
		id := middleware.NewRequestID()
		if !strings.HasPrefix(id, "attestd-") || len(id) != len("attestd-")+32 {
			t.Fatalf("request ID %q: want attestd- and 32 hex digits", id)
		}
		if strings.Trim(strings.TrimPrefix(id, "attestd-"), "0123456789abcdef") != "" {
			t.Fatalf("request ID %q is not hex after its prefix", id)
		}
		if seen[id] {
			t.Fatalf("request ID %q minted twice", id)
		}
		seen[id] = true
	}
}

// run composes the chain exactly as grpc.ChainUnaryInterceptor does (first
// entry outermost) and calls it.
func run(ctx context.Context, chain middleware.Chain, req any, handler grpc.UnaryHandler) (any, error) {
	info := &grpc.UnaryServerInfo{FullMethod: b2bsessionv1.SessionService_Attest_FullMethodName}
	h := handler
	for i := len(chain) - 1; i >= 0; i-- {
		next, ic := h, chain[i].Unary
		h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
	}
	return h(ctx, req)
}

func validRequest() *b2bsessionv1.AttestRequest {
	return &b2bsessionv1.AttestRequest{ProfileId: "trusted-token-profile-test-1", Token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}
}

func TestDefaultChainErrors(t *testing.T) {
	const callerID, minted = "caller-req-42", "(minted)"
	stytchErr := apierr.FromStytch(400, &errorv1.StytchError{
		RequestId: "request-id-test-stytch-1", ErrorType: "invalid_trusted_auth_token", ErrorMessage: "bad token",
	})
	cases := []struct {
		name      string
		incoming  string // x-request-id sent by the caller; "" sends no metadata
		req       *b2bsessionv1.AttestRequest
		handler   func(ctx context.Context) (any, error)
		code      codes.Code
		errorType string
		status    int32
		domain    string
		message   string
		requestID string // in the error body; minted means a fresh attestd- ID
		level     string
		panicLog  bool
	}{
		{
			name: "panic", incoming: callerID,
			handler: func(context.Context) (any, error) { panic("boom: nil map") },
			code:    codes.Internal, errorType: apierr.TypeInternal, status: 500, domain: apierr.DomainAttestd,
			message: "internal error", requestID: callerID, level: "ERROR", panicLog: true,
		},
		{
			name: "panic with an error value", incoming: "",
			handler: func(context.Context) (any, error) { panic(errors.New("boom")) },
			code:    codes.Internal, errorType: apierr.TypeInternal, status: 500, domain: apierr.DomainAttestd,
			message: "internal error", requestID: minted, level: "ERROR", panicLog: true,
		},
		{
			name: "deadline exceeded", incoming: callerID,
			handler: func(context.Context) (any, error) { return nil, context.DeadlineExceeded },
			code:    codes.DeadlineExceeded, errorType: apierr.TypeUpstreamTimeout, status: 504, domain: apierr.DomainAttestd,
			requestID: callerID, level: "WARN",
		},
		{
			name: "wrapped deadline exceeded", incoming: callerID,
			handler: func(context.Context) (any, error) { return nil, fmt.Errorf("calling: %w", context.DeadlineExceeded) },
			code:    codes.DeadlineExceeded, errorType: apierr.TypeUpstreamTimeout, status: 504, domain: apierr.DomainAttestd,
			requestID: callerID, level: "WARN",
		},
		{
			name: "canceled", incoming: callerID,
			handler: func(context.Context) (any, error) { return nil, context.Canceled },
			code:    codes.Canceled, errorType: apierr.TypeRequestCanceled, status: 499, domain: apierr.DomainAttestd,
			requestID: callerID, level: "INFO",
		},
		{
			name: "plain error stays private", incoming: callerID,
			handler: func(context.Context) (any, error) { return nil, errors.New("dial db: password=hunter2") },
			code:    codes.Internal, errorType: apierr.TypeInternal, status: 500, domain: apierr.DomainAttestd,
			message: "internal error", requestID: callerID, level: "ERROR",
		},
		{
			name: "Stytch error keeps Stytch's request ID", incoming: callerID,
			handler: func(context.Context) (any, error) { return nil, stytchErr },
			code:    codes.InvalidArgument, errorType: "invalid_trusted_auth_token", status: 400, domain: apierr.DomainStytch,
			message: "bad token", requestID: "request-id-test-stytch-1", level: "INFO",
		},
		{
			name: "bare status from a handler", incoming: callerID,
			handler: func(context.Context) (any, error) { return nil, status.Error(codes.Unavailable, "down") },
			code:    codes.Unavailable, errorType: apierr.TypeUpstreamUnavailable, status: 503, domain: apierr.DomainAttestd,
			message: "down", requestID: callerID, level: "WARN",
		},
		{
			name: "invalid request never reaches the handler", incoming: callerID,
			req:     &b2bsessionv1.AttestRequest{Token: "t"},
			handler: func(context.Context) (any, error) { panic("handler called for an invalid request") },
			code:    codes.InvalidArgument, errorType: apierr.TypeBadRequest, status: 400, domain: apierr.DomainAttestd,
			requestID: callerID, level: "INFO",
		},
		{
			name: "invalid caller request ID is replaced", incoming: "bad id\nforged",
			handler: func(context.Context) (any, error) { return nil, context.DeadlineExceeded },
			code:    codes.DeadlineExceeded, errorType: apierr.TypeUpstreamTimeout, status: 504, domain: apierr.DomainAttestd,
			requestID: minted, level: "WARN",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logsink.Logs{}
			chain := middleware.Default(slog.New(slog.NewJSONHandler(logs, nil)), validator(t), middleware.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if tc.incoming != "" {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-request-id", tc.incoming))
			}
			req := tc.req
			if req == nil {
				req = validRequest()
			}
			var handlerID string
			resp, err := run(ctx, chain, req, func(ctx context.Context, _ any) (any, error) {
				handlerID = middleware.RequestID(ctx)
				return tc.handler(ctx)
			})
			if resp != nil || err == nil {
				t.Fatalf("got %v, %v; want an error", resp, err)
			}
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("error %v is not a status", err)
			}
			se, info := apierr.Details(st)
			if se == nil || info == nil {
				t.Fatalf("status %v lacks StytchError or ErrorInfo: %v", st.Code(), st.Details())
			}
			if st.Code() != tc.code || se.GetErrorType() != tc.errorType || se.GetStatusCode() != tc.status {
				t.Errorf("got %v %q %d, want %v %q %d", st.Code(), se.GetErrorType(), se.GetStatusCode(), tc.code, tc.errorType, tc.status)
			}
			if info.GetReason() != tc.errorType || info.GetDomain() != tc.domain {
				t.Errorf("ErrorInfo %v, want reason %q domain %q", info, tc.errorType, tc.domain)
			}
			if tc.message != "" && (se.GetErrorMessage() != tc.message || st.Message() != tc.message) {
				t.Errorf("message %q / %q, want %q", se.GetErrorMessage(), st.Message(), tc.message)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(se.GetErrorMessage(), "hunter2") {
				t.Errorf("internal error text reached the caller: %v", err)
			}

			// callID is the request ID attestd used for the call.
			callID := tc.incoming
			if tc.requestID == minted {
				callID = se.GetRequestId()
				if !strings.HasPrefix(callID, "attestd-") || !middleware.ValidRequestID(callID) {
					t.Errorf("request_id %q, want a minted attestd- ID", callID)
				}
			} else if se.GetRequestId() != tc.requestID {
				t.Errorf("request_id %q, want %q", se.GetRequestId(), tc.requestID)
			}
			if handlerID != "" && handlerID != callID {
				t.Errorf("handler saw request ID %q, the call used %q", handlerID, callID)
			}

			lines := logs.Lines(t)
			var call, panicked map[string]any
			for _, l := range lines {
				switch l["msg"] {
				case "call":
					call = l
				case "panic in handler":
					panicked = l
				}
			}
			if call == nil {
				t.Fatalf("no call log line: %v", lines)
			}
			if call["code"] != tc.code.String() || call["error_type"] != tc.errorType || call["level"] != tc.level ||
				call["method"] != b2bsessionv1.SessionService_Attest_FullMethodName {
				t.Errorf("call log line %v", call)
			}
			if call["request_id"] != callID {
				t.Errorf("call logged with request_id %v, want %q", call["request_id"], callID)
			}
			if tc.panicLog {
				if panicked == nil {
					t.Fatalf("panic not logged: %v", lines)
				}
				if panicked["level"] != "ERROR" || !strings.Contains(fmt.Sprint(panicked["panic"]), "boom") ||
					!strings.Contains(fmt.Sprint(panicked["stack"]), "chain_test.go") || panicked["request_id"] != callID ||
					panicked["method"] != b2bsessionv1.SessionService_Attest_FullMethodName {
					t.Errorf("panic log line %v", panicked)
				}
			} else if panicked != nil {
				t.Errorf("unexpected panic log line %v", panicked)
			}
		})
	}
}

// TestOneEventPerCallAtInfo: at info a call leaves one event. An attest
// with the audit on has its audit event and a debug call line, unless it
// failed at WARN or ERROR (alerts read those); a health check that succeeds
// is debug; a failure nothing else records keeps its info line; without the
// audit an attest's line is its event.
func TestOneEventPerCallAtInfo(t *testing.T) {
	health := &grpc_health_v1.HealthCheckRequest{}
	stytch404 := apierr.FromStytch(404, &errorv1.StytchError{ErrorType: "member_not_found", ErrorMessage: "no"})
	cases := []struct {
		name    string
		audit   bool
		method  string
		req     any
		err     error  // the handler's
		call    string // the call line's level
		audited bool   // an audit event is written
	}{
		{"attest success", true, attestMethod, validRequest(), nil, "DEBUG", true},
		{"attest refused by Stytch (info)", true, attestMethod, validRequest(), stytch404, "DEBUG", true},
		{"attest invalid (info)", true, attestMethod, &b2bsessionv1.AttestRequest{Token: "t"}, nil, "DEBUG", true},
		{"attest unavailable (warn)", true, attestMethod, validRequest(), apierr.UpstreamUnavailable.New("down"), "WARN", true},
		{"attest internal (error)", true, attestMethod, validRequest(), errors.New("bug"), "ERROR", true},
		{"attest success without audit", false, attestMethod, validRequest(), nil, "INFO", false},
		{"attest refused without audit", false, attestMethod, validRequest(), stytch404, "INFO", false},
		{"health success", true, healthMethod, health, nil, "DEBUG", false},
		{"health not found (info)", true, healthMethod, health, status.Error(codes.NotFound, "unknown service"), "INFO", false},
		{"health unavailable (warn)", true, healthMethod, health, status.Error(codes.Unavailable, "x"), "WARN", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logsink.Logs{}
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			o := middleware.Options{}
			if tc.audit {
				o.Audit = log.With("log_type", "audit")
			}
			chain := middleware.Default(log, validator(t), o)
			_, _ = runAt(testCtx(t), chain, tc.method, tc.req, func(context.Context, any) (any, error) {
				if tc.err != nil {
					return nil, tc.err
				}
				return &b2bsessionv1.AttestResponse{}, nil
			})
			var calls, audits []map[string]any
			for _, l := range logs.Lines(t) {
				switch l["msg"] {
				case "call":
					calls = append(calls, l)
				case "audit":
					audits = append(audits, l)
				}
			}
			if len(calls) != 1 || calls[0]["level"] != tc.call {
				t.Errorf("call lines %v, want one at %s", calls, tc.call)
			}
			if (len(audits) == 1) != tc.audited || len(audits) > 1 {
				t.Errorf("audit events %v, want audited=%v", audits, tc.audited)
			}
		})
	}
}

// TestRefusedKeepsItsLevel: a REST call the gateway refuses before the
// chain has no audit event, so its call line is its one event at info:
// never moved to debug.
func TestRefusedKeepsItsLevel(t *testing.T) {
	logs := &logsink.Logs{}
	cl := middleware.NewCallLog(slog.New(slog.NewJSONHandler(logs, nil))) // level info
	cl.Refused(testCtx(t), attestMethod, "10.0.0.1", "req-too-large", apierr.RequestTooLarge.New("too large"), time.Millisecond)
	cl.Refused(testCtx(t), attestMethod, "10.0.0.1", "req-shed", apierr.UpstreamOverloaded.New("busy"), time.Millisecond)
	want := map[string]string{"req-too-large": "INFO", "req-shed": "WARN"}
	for _, l := range logs.Lines(t) {
		id, _ := l["request_id"].(string)
		if l["msg"] != "call" || l["level"] != want[id] {
			t.Errorf("line %v, want a call line at %s", l, want[id])
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Errorf("no line for %v", want)
	}
}

// BenchmarkDefaultChainAttest is one successful attest through attestd's
// whole chain as production runs it (logs at info to /dev/null, a write per
// line as to stderr; the audit on; attestd's metrics), with a handler that
// answers at once: what the chain itself costs a call.
func BenchmarkDefaultChainAttest(b *testing.B) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { devNull.Close() })
	log := slog.New(slog.NewJSONHandler(devNull, nil))
	m := observe.NewMetrics("bench", nil)
	chain := middleware.Default(log, validator(b), middleware.Options{
		Metrics: m, Audit: log.With("log_type", "audit"),
	})
	ic := chain.Interceptor()
	info := &grpc.UnaryServerInfo{FullMethod: attestMethod}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 40000}})
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-request-id", "bench-1", "user-agent", "grpc-go/1.85.0"))
	req := validRequest()
	resp := &b2bsessionv1.AttestResponse{RequestId: "request-id-test-1", MemberId: "member-test-1"}
	handler := func(context.Context, any) (any, error) { return resp, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ic(ctx, req, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}
