package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/server"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/logsink"
	"github.com/attestd/attestd/internal/translate"
)

// harness is attestd started in process on random loopback ports, in front of
// a fake Stytch, with a gRPC client and REST base URL.
type harness struct {
	stytch *stytchtest.Server
	srv    *server.Server
	client b2bsessionv1.SessionServiceClient
	conn   *grpc.ClientConn
	rest   string
	logs   *logsink.Logs
}

func start(t testing.TB, mutate ...func(*config.Config)) *harness {
	t.Helper()
	logs := &logsink.Logs{}
	h := startLogging(t, logs, mutate...)
	h.logs = logs
	return h
}

// startLogging is start with the logs written to w (start keeps them all
// in memory, which a long run cannot afford).
func startLogging(t testing.TB, w io.Writer, mutate ...func(*config.Config)) *harness {
	t.Helper()
	return startServer(t, w, nil, mutate...)
}

// startServer is the harness with the logs written to w and server
// options (a span exporter, say).
func startServer(t testing.TB, w io.Writer, opts []server.Option, mutate ...func(*config.Config)) *harness {
	t.Helper()
	return startServerAt(t, w, slog.LevelDebug, opts, mutate...)
}

// startServerAt is startServer logging at level: the tests read debug
// lines, while production (and the benchmarks, startBench) runs at info.
func startServerAt(t testing.TB, w io.Writer, level slog.Level, opts []server.Option, mutate ...func(*config.Config)) *harness {
	t.Helper()
	h := &harness{stytch: stytchtest.NewServer(t)}
	cfg := config.Default()
	cfg.ProjectID, cfg.Secret = stytchtest.ProjectID, config.Secret(stytchtest.Secret)
	cfg.BaseURL = h.stytch.URL
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.ShutdownGrace = 5 * time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	srv, err := server.Start(context.Background(), cfg, log, opts...)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	h.srv = srv
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	h.conn, err = grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.conn.Close() })
	h.client = b2bsessionv1.NewSessionServiceClient(h.conn)
	h.rest = "http://" + srv.HTTPAddr().String()
	return h
}

// beginShutdown starts Shutdown and returns once it has begun (health goes
// NOT_SERVING first: the event waited for, rather than a sleep), with the
// channel its result arrives on.
func (h *harness) beginShutdown(t *testing.T) <-chan error {
	t.Helper()
	shut := make(chan error, 1)
	go func() { shut <- h.srv.Shutdown() }()
	hc := grpc_health_v1.NewHealthClient(h.conn)
	for {
		resp, err := hc.Check(ctx(t), &grpc_health_v1.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			return shut
		}
	}
}

// holdStytch makes Stytch hold the next call: entered is closed when it
// arrives, and it is answered (typical success) once release is closed.
func (h *harness) holdStytch() (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		stytchtest.Respond(200, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	return entered, release
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func validRequest() *b2bsessionv1.AttestRequest {
	return &b2bsessionv1.AttestRequest{ProfileId: "trusted-token-profile-test-1", Token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}
}

const validJSON = `{"profile_id":"trusted-token-profile-test-1","token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}`

// post sends a REST call and returns status, headers and body.
func (h *harness) post(t *testing.T, path, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, h.rest+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// stytchErrorOf decodes a REST error body, checking its shape: exactly
// Stytch's keys, status_code a number equal to the HTTP status.
func stytchErrorOf(t *testing.T, httpStatus int, body []byte) map[string]any {
	t.Helper()
	m, ok := stytchtest.Parse(t, body).(map[string]any)
	if !ok {
		t.Fatalf("error body is not an object: %s", body)
	}
	for _, k := range []string{"status_code", "request_id", "error_type", "error_message", "error_url"} {
		if _, ok := m[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, body)
		}
	}
	if _, ok := m["error"]; ok {
		t.Errorf("error body has a top-level \"error\" key (Stytch's Node SDK would misread it): %s", body)
	}
	if sc, ok := m["status_code"].(float64); !ok || int(sc) != httpStatus {
		t.Errorf("status_code %v, HTTP status %d: must be the same number", m["status_code"], httpStatus)
	}
	if m["request_id"] == "" {
		t.Errorf("empty request_id: %s", body)
	}
	return m
}

// details pulls the StytchError and ErrorInfo from a gRPC error.
func details(t *testing.T, err error) (*status.Status, *errorv1.StytchError, *errdetails.ErrorInfo) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status: %v", err)
	}
	se, info := apierr.Details(st)
	if se == nil || info == nil {
		t.Fatalf("status %v lacks StytchError or ErrorInfo details: %v", st.Code(), st.Details())
	}
	if info.GetReason() != se.GetErrorType() {
		t.Errorf("ErrorInfo.reason %q != error_type %q", info.GetReason(), se.GetErrorType())
	}
	return st, se, info
}

func TestAttestSuccessBothProtocols(t *testing.T) {
	for _, fixture := range []string{"attest-response-full.json", "attest-response-typical.json"} {
		t.Run(fixture, func(t *testing.T) {
			h := start(t)
			h.stytch.Handle(stytchtest.Respond(http.StatusOK, stytchtest.Fixture(fixture)))

			want := &b2bsessionv1.AttestResponse{}
			if err := translate.Unmarshal(stytchtest.Fixture(fixture), want, nil); err != nil {
				t.Fatal(err)
			}
			var header metadata.MD
			got, err := h.client.Attest(ctx(t), validRequest(), grpc.Header(&header))
			if err != nil {
				t.Fatalf("gRPC Attest: %v", err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("gRPC response differs from the decoded upstream answer")
			}
			if len(header.Get("x-request-id")) != 1 {
				t.Errorf("gRPC response header x-request-id missing: %v", header)
			}

			code, hdr, body := h.post(t, "/v1/b2b/sessions/attest", validJSON)
			if code != http.StatusOK {
				t.Fatalf("REST status %d: %s", code, body)
			}
			if !stytchtest.JSONEqual(t, body, stytchtest.Fixture(fixture)) {
				t.Errorf("REST body is not Stytch's JSON:\n%s", body)
			}
			if id := hdr.Get("X-Request-Id"); !strings.HasPrefix(id, "attestd-") {
				t.Errorf("REST X-Request-Id %q", id)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			for k := range hdr {
				if strings.HasPrefix(k, "Grpc-") {
					t.Errorf("REST response leaks gRPC header %s", k)
				}
			}
			if h.stytch.Calls() != 2 {
				t.Errorf("upstream calls = %d, want 2", h.stytch.Calls())
			}
		})
	}
}

func TestUpstreamRequestOnTheWire(t *testing.T) {
	h := start(t)
	claims, _ := structpb.NewStruct(map[string]any{"tenant": "acme", "tier": 2})
	req := validRequest()
	req.OrganizationId = proto.String("organization-test-1")
	req.SessionDurationMinutes = proto.Int32(120)
	req.SessionCustomClaims = claims
	req.SessionToken = proto.String("session-token-test-1")
	if _, err := h.client.Attest(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	last := h.stytch.Last()
	if last.Method != http.MethodPost || last.Path != "/v1/b2b/sessions/attest" {
		t.Errorf("upstream call %s %s", last.Method, last.Path)
	}
	if ct := last.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("upstream Content-Type %q", ct)
	}
	want := `{"profile_id":"trusted-token-profile-test-1","token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
	  "organization_id":"organization-test-1","session_duration_minutes":120,
	  "session_custom_claims":{"tenant":"acme","tier":2},"session_token":"session-token-test-1"}`
	if !stytchtest.JSONEqual(t, last.Body, []byte(want)) {
		t.Errorf("upstream body %s", last.Body)
	}
}

// errorCases is the HTTP status → gRPC code table, checked over both
// protocols with Stytch's own error bodies.
var errorCases = []struct {
	status    int
	errorType string
	code      codes.Code
}{
	{400, "invalid_trusted_auth_token", codes.InvalidArgument},
	{401, "unauthorized_action", codes.Unauthenticated}, // 401 unauthorized_credentials is attestd's own fault: TestWrongProjectSecret
	{403, "organization_suspended", codes.PermissionDenied},
	{404, "member_not_found", codes.NotFound},
	{409, "conflict", codes.Aborted},
	{429, "too_many_requests", codes.ResourceExhausted},
	{500, "internal_server_error", codes.Internal},
	{503, "service_unavailable", codes.Unavailable},
}

func TestStytchErrorsBothProtocols(t *testing.T) {
	h := start(t)
	for _, tc := range errorCases {
		t.Run(tc.errorType, func(t *testing.T) {
			h.stytch.Handle(stytchtest.Error(tc.status, tc.errorType, "message for "+tc.errorType))

			_, err := h.client.Attest(ctx(t), validRequest())
			st, se, info := details(t, err)
			if st.Code() != tc.code {
				t.Errorf("gRPC code %v, want %v", st.Code(), tc.code)
			}
			if se.GetStatusCode() != int32(tc.status) || se.GetErrorType() != tc.errorType ||
				se.GetRequestId() != "request-id-test-fake-0001" || se.GetErrorMessage() != "message for "+tc.errorType {
				t.Errorf("StytchError detail %v", se)
			}
			if info.GetDomain() != "stytch.com" {
				t.Errorf("ErrorInfo domain %q", info.GetDomain())
			}

			code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON)
			if code != tc.status {
				t.Errorf("REST status %d, want %d", code, tc.status)
			}
			m := stytchErrorOf(t, code, body)
			if m["error_type"] != tc.errorType || m["request_id"] != "request-id-test-fake-0001" {
				t.Errorf("REST error body %s", body)
			}
		})
	}
}

// TestWrongProjectSecret: Stytch rejecting attestd's own credentials is
// attestd's misconfiguration, not the caller's fault: callers get a 503
// upstream_credentials_rejected (never Stytch's 401, which would blame their
// own bearer token), it is logged at error and shown in a metric, /readyz
// and the service's gRPC health report it; once Stytch accepts the
// credentials again, readiness returns with no caller traffic. The secret
// appears nowhere.
func TestWrongProjectSecret(t *testing.T) {
	h := start(t)
	// Stytch rejects the secret until it is fixed on Stytch's side (rotated
	// back, say).
	var accepted atomic.Bool
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case !accepted.Load():
			stytchtest.Error(401, "unauthorized_credentials", "Unauthorized credentials.").ServeHTTP(w, r)
		case string(body) == "{}": // the credentials check
			stytchtest.Error(400, "bad_request", "profile_id is a required field.").ServeHTTP(w, r)
		default:
			stytchtest.Respond(200, stytchtest.Typical()).ServeHTTP(w, r)
		}
	}))
	_, err := h.client.Attest(ctx(t), validRequest())
	st, se, info := details(t, err)
	if st.Code() != codes.Unavailable || se.GetErrorType() != "upstream_credentials_rejected" || se.GetStatusCode() != 503 || info.GetDomain() != "attestd" {
		t.Errorf("gRPC: %v %v (domain %q)", st.Code(), se, info.GetDomain())
	}
	code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON)
	if m := stytchErrorOf(t, code, body); code != 503 || m["error_type"] != "upstream_credentials_rejected" {
		t.Errorf("REST: %d %s", code, body)
	}
	if code, body, _ := adminGet(t, h, "/readyz"); code != 503 || !strings.Contains(string(body), "stytch_credentials") {
		t.Errorf("/readyz with the secret rejected: %d %s", code, body)
	}
	hc := grpc_health_v1.NewHealthClient(h.conn)
	for svc, want := range map[string]grpc_health_v1.HealthCheckResponse_ServingStatus{
		"": grpc_health_v1.HealthCheckResponse_SERVING, // liveness: a restart fixes no secret
		b2bsessionv1.SessionService_ServiceDesc.ServiceName: grpc_health_v1.HealthCheckResponse_NOT_SERVING,
	} {
		if resp, err := hc.Check(ctx(t), &grpc_health_v1.HealthCheckRequest{Service: svc}); err != nil || resp.GetStatus() != want {
			t.Errorf("health %q: %v %v, want %v", svc, resp.GetStatus(), err, want)
		}
	}
	if g := series(t, scrape(t, h), "attestd_upstream_credentials_rejected", nil); g.GetGauge().GetValue() != 1 {
		t.Errorf("attestd_upstream_credentials_rejected = %v, want 1", g.GetGauge().GetValue())
	}
	logged := false
	for _, l := range h.logs.Lines(t) {
		if l["level"] == "ERROR" && strings.HasPrefix(fmt.Sprint(l["msg"]), "Stytch rejects attestd's project credentials") {
			logged = true
		}
	}
	if !logged {
		t.Error("no ERROR line says Stytch rejects the credentials")
	}

	accepted.Store(true)
	deadline := time.Now().Add(15 * time.Second) // three probe intervals
	for {
		code, _, _ := adminGet(t, h, "/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %v after Stytch accepted the credentials", code, 15*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g := series(t, scrape(t, h), "attestd_upstream_credentials_rejected", nil); g.GetGauge().GetValue() != 0 {
		t.Errorf("attestd_upstream_credentials_rejected = %v after recovery, want 0", g.GetGauge().GetValue())
	}
	if _, err := h.client.Attest(ctx(t), validRequest()); err != nil {
		t.Errorf("Attest after recovery: %v", err)
	}
	if strings.Contains(h.logs.String(), stytchtest.Secret) || strings.Contains(err.Error(), stytchtest.Secret) {
		t.Error("the secret leaked into logs or errors")
	}
}

// TestCallersCannotMakeAReplicaUnready: Stytch's other 4xx, whatever a
// caller sends, never touch readiness.
func TestCallersCannotMakeAReplicaUnready(t *testing.T) {
	h := start(t)
	for _, tc := range errorCases {
		if tc.status >= 500 {
			continue
		}
		h.stytch.Handle(stytchtest.Error(tc.status, tc.errorType, "no"))
		_, _ = h.client.Attest(ctx(t), validRequest())
		_, _, _ = h.post(t, "/v1/b2b/sessions/attest", validJSON)
		if code, body, _ := adminGet(t, h, "/readyz"); code != 200 {
			t.Errorf("/readyz after Stytch's %d %s: %d %s", tc.status, tc.errorType, code, body)
		}
	}
}

func TestValidationNeverReachesUpstream(t *testing.T) {
	h := start(t)
	bigClaims := map[string]any{"blob": strings.Repeat("x", 4100)}
	cases := []struct {
		name      string
		mutate    func(*b2bsessionv1.AttestRequest)
		json      string
		errorType string
	}{
		{"missing profile_id", func(r *b2bsessionv1.AttestRequest) { r.ProfileId = "" },
			`{"token":"t"}`, "bad_request"},
		{"missing token", func(r *b2bsessionv1.AttestRequest) { r.Token = "" },
			`{"profile_id":"p"}`, "bad_request"},
		{"duration too short", func(r *b2bsessionv1.AttestRequest) { r.SessionDurationMinutes = proto.Int32(4) },
			`{"profile_id":"p","token":"t","session_duration_minutes":4}`, "invalid_session_duration_minutes"},
		{"duration too long", func(r *b2bsessionv1.AttestRequest) { r.SessionDurationMinutes = proto.Int32(527041) },
			`{"profile_id":"p","token":"t","session_duration_minutes":527041}`, "invalid_session_duration_minutes"},
		{"token and jwt", func(r *b2bsessionv1.AttestRequest) {
			r.SessionToken, r.SessionJwt = proto.String("a"), proto.String("b")
		}, `{"profile_id":"p","token":"t","session_token":"a","session_jwt":"b"}`, "too_many_session_arguments"},
		{"claims over 4 KB", func(r *b2bsessionv1.AttestRequest) {
			r.SessionCustomClaims, _ = structpb.NewStruct(bigClaims)
		}, `{"profile_id":"p","token":"t","session_custom_claims":{"blob":"` + strings.Repeat("x", 4100) + `"}}`, "custom_claims_too_large"},
		{"profile_id too long", func(r *b2bsessionv1.AttestRequest) { r.ProfileId = strings.Repeat("p", 257) },
			`{"profile_id":"` + strings.Repeat("p", 257) + `","token":"t"}`, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := validRequest()
			tc.mutate(req)
			_, err := h.client.Attest(ctx(t), req)
			st, se, info := details(t, err)
			if st.Code() != codes.InvalidArgument || se.GetErrorType() != tc.errorType || se.GetStatusCode() != 400 {
				t.Errorf("gRPC: %v %v", st.Code(), se)
			}
			if info.GetDomain() != "attestd" || !strings.HasPrefix(se.GetRequestId(), "attestd-") {
				t.Errorf("local error identity: domain %q request_id %q", info.GetDomain(), se.GetRequestId())
			}
			code, _, body := h.post(t, "/v1/b2b/sessions/attest", tc.json)
			m := stytchErrorOf(t, code, body)
			if code != 400 || m["error_type"] != tc.errorType {
				t.Errorf("REST: %d %s", code, body)
			}
		})
	}
	if n := h.stytch.Calls(); n != 0 {
		t.Errorf("invalid requests reached the upstream %d times", n)
	}
}

func TestRESTEdgeErrors(t *testing.T) {
	h := start(t, func(c *config.Config) { c.MaxRequestBytes = 8 << 10 })
	cases := []struct {
		name, method, path, body string
		status                   int
		errorType, mentions      string
	}{
		{"unknown field", "POST", "/v1/b2b/sessions/attest", `{"profile_id":"p","token":"t","profileId2":"x"}`, 400, "bad_request", `profileId2`},
		{"not JSON", "POST", "/v1/b2b/sessions/attest", `profile_id=p`, 400, "bad_request", "invalid request body"},
		{"wrong type", "POST", "/v1/b2b/sessions/attest", `{"profile_id":"p","token":"t","session_duration_minutes":"ten"}`, 400, "bad_request", "session_duration_minutes"},
		{"too large", "POST", "/v1/b2b/sessions/attest", `{"profile_id":"p","token":"` + strings.Repeat("t", 9<<10) + `"}`, 413, "request_too_large", "exceeds"},
		{"empty body", "POST", "/v1/b2b/sessions/attest", ``, 400, "bad_request", "profile_id"},
		{"null body", "POST", "/v1/b2b/sessions/attest", `null`, 400, "bad_request", "invalid request body"},
		{"array body", "POST", "/v1/b2b/sessions/attest", `[]`, 400, "bad_request", "invalid request body"},
		{"string body", "POST", "/v1/b2b/sessions/attest", `"x"`, 400, "bad_request", "invalid request body"},
		{"truncated body", "POST", "/v1/b2b/sessions/attest", `{"profile_id":"p","tok`, 400, "bad_request", "invalid request body"},
		{"claims not an object", "POST", "/v1/b2b/sessions/attest", `{"profile_id":"p","token":"t","session_custom_claims":[1]}`, 400, "bad_request", "invalid request body"},
		{"protobuf form over the gRPC limit", "POST", "/v1/b2b/sessions/attest", `{"profile_id":"p","token":"t","session_custom_claims":{"l":[` + strings.Repeat("1,", 1000) + `1]}}`, 413, "request_too_large", "larger than max"},
		{"unknown route", "POST", "/v1/b2b/sessions/nope", `{}`, 404, "route_not_found", "/v1/b2b/sessions/nope"},
		{"wrong method", "GET", "/v1/b2b/sessions/attest", ``, 405, "method_not_allowed", "GET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx(t), tc.method, h.rest+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			m := stytchErrorOf(t, resp.StatusCode, body)
			if resp.StatusCode != tc.status || m["error_type"] != tc.errorType {
				t.Errorf("got %d %s", resp.StatusCode, body)
			}
			if msg, _ := m["error_message"].(string); !strings.Contains(msg, tc.mentions) {
				t.Errorf("error_message %q does not mention %q", msg, tc.mentions)
			}
			if resp.Header.Get("X-Request-Id") != m["request_id"] {
				t.Errorf("X-Request-Id %q != body request_id %v", resp.Header.Get("X-Request-Id"), m["request_id"])
			}
		})
	}
	if n := h.stytch.Calls(); n != 0 {
		t.Errorf("bad REST input reached the upstream %d times", n)
	}
}

// TestRESTMethodsAndMediaTypes: every route says what it answers (Allow on
// 405, OPTIONS answered 204), and a body that is not JSON gets 415, never a
// parse; JSON types (and no type) go through.
func TestRESTMethodsAndMediaTypes(t *testing.T) {
	h := start(t)
	cases := []struct {
		name, method, contentType string
		status                    int
		errorType, allow          string
	}{
		{"GET", "GET", "", 405, "method_not_allowed", "POST, OPTIONS"},
		{"HEAD", "HEAD", "", 405, "", "POST, OPTIONS"},
		{"PUT", "PUT", "application/json", 405, "method_not_allowed", "POST, OPTIONS"},
		{"OPTIONS", "OPTIONS", "", 204, "", "POST, OPTIONS"},
		{"curl -d's form type", "POST", "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"text/plain", "POST", "text/plain; charset=utf-8", 415, "unsupported_media_type", ""},
		{"XML", "POST", "application/xml", 415, "unsupported_media_type", ""},
		{"malformed type", "POST", "json;;", 415, "unsupported_media_type", ""},
		{"application/json", "POST", "application/json; charset=utf-8", 200, "", ""},
		{"a +json type", "POST", "application/vnd.attestd+json", 200, "", ""},
		{"no type", "POST", "", 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx(t), tc.method, h.rest+"/v1/b2b/sessions/attest", strings.NewReader(validJSON))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
				t.Fatalf("got %d, Allow %q: %s", resp.StatusCode, resp.Header.Get("Allow"), body)
			}
			if tc.errorType != "" {
				if m := stytchErrorOf(t, resp.StatusCode, body); m["error_type"] != tc.errorType {
					t.Errorf("error_type %v, want %s", m["error_type"], tc.errorType)
				}
			}
		})
	}
}

func TestRequestIDPropagates(t *testing.T) {
	h := start(t)
	h.stytch.Handle(stytchtest.Error(400, "invalid_trusted_auth_token", "bad token"))
	code, hdr, body := h.post(t, "/v1/b2b/sessions/attest", `{"profile_id":"p"}`, "X-Request-Id", "caller-req-42")
	if code != 400 || hdr.Get("X-Request-Id") != "caller-req-42" {
		t.Errorf("status %d, X-Request-Id %q", code, hdr.Get("X-Request-Id"))
	}
	if m := stytchErrorOf(t, code, body); m["request_id"] != "caller-req-42" {
		t.Errorf("local error request_id %v", m["request_id"])
	}
	// A Stytch error keeps Stytch's request_id in the body; the header still
	// carries the call's ID.
	code, hdr, body = h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Request-Id", "caller-req-44")
	if m := stytchErrorOf(t, code, body); hdr.Get("X-Request-Id") != "caller-req-44" || m["request_id"] != "request-id-test-fake-0001" {
		t.Errorf("Stytch error: X-Request-Id %q, body request_id %v", hdr.Get("X-Request-Id"), m["request_id"])
	}
	// Over gRPC the same ID comes back in the response header.
	var header metadata.MD
	c := metadata.AppendToOutgoingContext(ctx(t), "x-request-id", "caller-req-43")
	_, _ = h.client.Attest(c, validRequest(), grpc.Header(&header))
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "caller-req-43" {
		t.Errorf("gRPC x-request-id %v", got)
	}
	if !strings.Contains(h.logs.String(), `"request_id":"caller-req-43"`) ||
		!strings.Contains(h.logs.String(), `"stytch_request_id":"request-id-test-fake-0001"`) {
		t.Errorf("log lines do not correlate the two request IDs:\n%s", h.logs.String())
	}
}

// hang answers only when the test ends, so the caller's deadline decides.
func hang(t *testing.T) http.Handler {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})
}

func TestDeadlines(t *testing.T) {
	h := start(t)
	h.stytch.Handle(hang(t))

	c, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
	defer cancel()
	_, err := h.client.Attest(c, validRequest())
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("gRPC with a short deadline: %v", err)
	}

	code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON, "Grpc-Timeout", "200m")
	m := stytchErrorOf(t, code, body)
	if code != http.StatusGatewayTimeout || m["error_type"] != "upstream_timeout" {
		t.Errorf("REST with Grpc-Timeout: %d %s", code, body)
	}
}

func TestUpstreamTimeoutCap(t *testing.T) {
	h := start(t, func(c *config.Config) { c.UpstreamTimeout = 100 * time.Millisecond })
	h.stytch.Handle(hang(t))
	_, err := h.client.Attest(ctx(t), validRequest())
	st, se, _ := details(t, err)
	if st.Code() != codes.DeadlineExceeded || se.GetErrorType() != "upstream_timeout" || se.GetStatusCode() != 504 {
		t.Errorf("got %v %v", st.Code(), se)
	}
}

func TestUpstreamDown(t *testing.T) {
	h := start(t)
	h.stytch.Close() // nothing listens any more
	_, err := h.client.Attest(ctx(t), validRequest())
	st, se, _ := details(t, err)
	if st.Code() != codes.Unavailable || se.GetErrorType() != "upstream_unavailable" {
		t.Errorf("gRPC: %v %v", st.Code(), se)
	}
	code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON)
	if m := stytchErrorOf(t, code, body); code != 503 || m["error_type"] != "upstream_unavailable" {
		t.Errorf("REST: %d %s", code, body)
	}
}

// TestUpstreamGarbageBothProtocols: whatever broken answer Stytch gives, both
// protocols get attestd's error for it, never a success-shaped answer.
func TestUpstreamGarbageBothProtocols(t *testing.T) {
	h := start(t, func(c *config.Config) { c.MaxUpstreamResponseBytes = 16 << 10 })
	full := stytchtest.Full()
	cases := []struct {
		name      string
		answer    http.Handler
		code      codes.Code
		status    int
		errorType string
	}{
		{"HTML 502 from a proxy", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
		}), codes.Unavailable, 502, "upstream_error"},
		{"truncated success", stytchtest.Respond(200, stytchtest.Typical()[:4000]), codes.Internal, 502, "upstream_invalid_response"},
		{"empty success", stytchtest.Respond(200, nil), codes.Internal, 502, "upstream_invalid_response"},
		{"success without member", stytchtest.Respond(200, []byte(`{"status_code":200,"request_id":"r"}`)), codes.Internal, 502, "upstream_invalid_response"},
		{"answer over the cap", stytchtest.Respond(200, full), codes.Internal, 502, "upstream_response_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.stytch.Handle(tc.answer)
			_, err := h.client.Attest(ctx(t), validRequest())
			st, se, _ := details(t, err)
			if st.Code() != tc.code || se.GetErrorType() != tc.errorType || se.GetStatusCode() != int32(tc.status) {
				t.Errorf("gRPC: %v %v", st.Code(), se)
			}
			code, _, body := h.post(t, "/v1/b2b/sessions/attest", validJSON)
			if m := stytchErrorOf(t, code, body); code != tc.status || m["error_type"] != tc.errorType {
				t.Errorf("REST: %d %s", code, body)
			}
		})
	}
}

func TestReflectionListsTheService(t *testing.T) {
	h := start(t)
	stream, err := grpc_reflection_v1.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	if !slices.Contains(names, "stytch.b2b.session.v1.SessionService") || !slices.Contains(names, "grpc.health.v1.Health") {
		t.Errorf("reflection lists %v", names)
	}
}

func TestHealth(t *testing.T) {
	h := start(t)
	resp, err := grpc_health_v1.NewHealthClient(h.conn).Check(ctx(t), &grpc_health_v1.HealthCheckRequest{
		Service: b2bsessionv1.SessionService_ServiceDesc.ServiceName,
	})
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health: %v %v", resp, err)
	}
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, h.rest+"/healthz", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.StatusCode != 200 || body["status"] != "SERVING" {
		t.Errorf("/healthz: %d %v %v", r.StatusCode, body, err)
	}
}

func TestDriftIsCountedOncePerPath(t *testing.T) {
	h := start(t)
	var v map[string]any
	_ = json.Unmarshal(stytchtest.Typical(), &v)
	v["brand_new_key"] = true
	v["member"].(map[string]any)["pronouns"] = "she/her"
	body, _ := json.Marshal(v)
	h.stytch.Handle(stytchtest.Respond(200, body))
	for range 3 {
		if _, err := h.client.Attest(ctx(t), validRequest()); err != nil {
			t.Fatal(err)
		}
	}
	counts := h.srv.Drift().Counts()
	if counts["brand_new_key"] != 3 || counts["member.pronouns"] != 3 || len(counts) != 2 {
		t.Errorf("drift counts %v", counts)
	}
	if n := strings.Count(h.logs.String(), `"path":"member.pronouns"`); n != 1 {
		t.Errorf("drift for member.pronouns logged %d times, want once", n)
	}
}

func TestGracefulShutdownFinishesInFlightCalls(t *testing.T) {
	h := start(t)
	entered, release := h.holdStytch()
	result := make(chan error, 1)
	go func() {
		_, err := h.client.Attest(ctx(t), validRequest())
		result <- err
	}()
	<-entered
	shut := h.beginShutdown(t)
	close(release)
	if err := <-result; err != nil {
		t.Errorf("in-flight call failed during shutdown: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, err := h.client.Attest(ctx(t), validRequest()); status.Code(err) != codes.Unavailable {
		t.Errorf("call after shutdown: %v", err)
	}
}

// The benchmarks measure a whole Attest in process: caller → attestd (gRPC,
// or REST through the gateway) → fake Stytch on loopback, typical answer.
func BenchmarkAttestGRPC(b *testing.B) { benchGRPC(b, startBench(b)) }

func BenchmarkAttestREST(b *testing.B) { benchREST(b, startBench(b), validJSON, http.StatusOK) }

// startBench is attestd logging as production does: level info, through
// slog's JSON handler, whose formatting a line costs what it costs on
// stderr, into io.Discard. The tests' debug level into memory would add the
// debug call lines and a growing buffer to every call's allocations and
// time, which no operator pays.
func startBench(b *testing.B) *harness {
	b.Helper()
	return startServerAt(b, io.Discard, slog.LevelInfo, nil)
}

func benchGRPC(b *testing.B, h *harness) {
	c, req := ctx(b), validRequest()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := h.client.Attest(c, req); err != nil {
			b.Fatal(err)
		}
	}
}

// benchREST posts body in a loop, each answer expected with want.
func benchREST(b *testing.B, h *harness, body string, want int) {
	c := ctx(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	defer cpuPerOp(b)()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(c, http.MethodPost, h.rest+"/v1/b2b/sessions/attest", strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("status %d, want %d", resp.StatusCode, want)
		}
	}
}

// cpuPerOp reports the CPU time the process spent per operation (user and
// system, every thread: attestd, the client and the fake Stytch alike), in
// clock ticks from /proc/self/stat. Unlike ns/op it barely moves when
// other work shares the machine's cores, so a lever's effect shows.
func cpuPerOp(b *testing.B) func() {
	start, ok := cpuTicks()
	return func() {
		if end, ok2 := cpuTicks(); ok && ok2 && b.N > 0 {
			const tick = 10 * time.Millisecond // USER_HZ, 100 on every Linux ABI
			b.ReportMetric(float64((end-start)*int64(tick))/float64(b.N), "cpu-ns/op")
		}
	}
}

// cpuTicks is utime+stime of /proc/self/stat (false without /proc).
func cpuTicks() (int64, bool) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is the first, utime and stime the 12th and 13th.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + s, err1 == nil && err2 == nil
}
