package upstream_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/upstream"
)

// Secret values that must never surface in an error message.
const (
	requestToken        = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
	requestSessionToken = "session-token-test-must-not-leak"
	fixtureSessionToken = "Xq3vT9bL0sKp2mW7aZ4cR8yN1dF6hJ5uE0iO3gB7tY2w"
)

// newClient returns a client for the fake at baseURL with the fake's
// credentials and generous limits; mutate adjusts the options. Its idle
// connections are closed when the test ends, so no goroutine outlives it.
func newClient(tb testing.TB, baseURL string, mutate ...func(*upstream.Options)) *upstream.Client {
	opts := upstream.Options{
		BaseURL:          baseURL,
		ProjectID:        stytchtest.ProjectID,
		Secret:           stytchtest.Secret,
		Timeout:          5 * time.Second,
		MaxResponseBytes: 1 << 20,
		UserAgent:        "attestd-test/1.2.3",
	}
	for _, m := range mutate {
		m(&opts)
	}
	c := upstream.New(opts)
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func validRequest() *b2bsessionv1.AttestRequest {
	return &b2bsessionv1.AttestRequest{ProfileId: "trusted-token-profile-test-1", Token: requestToken}
}

// apiErr asserts err is an *apierr.Error and returns it.
func apiErr(t testing.TB, err error) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apierr.Error", err, err)
	}
	return e
}

// mutateJSON parses body, applies edit to the generic value and re-marshals.
func mutateJSON(t testing.TB, body []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	m, ok := stytchtest.Parse(t, body).(map[string]any)
	if !ok {
		t.Fatalf("fixture is not an object")
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hang answers only when the request is abandoned or the test ends, so the
// client's deadline decides.
// entered is closed when the first request arrives.
func hang(t *testing.T, entered chan<- struct{}) http.Handler {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})
}

// errorCase is a non-success answer and the error attestd must make of it.
type errorCase struct {
	name   string
	status int
	// statusCode is the status_code (and REST status) attestd answers; 0
	// means Stytch's status.
	statusCode int32
	body       []byte
	code       codes.Code
	errorType  string
	domain     string
	requestID  string
	message    string
	url        string
	details    *structpb.Struct
}

func TestStytchErrorBodies(t *testing.T) {
	oauthBody := []byte(`{"status_code":400,"request_id":"request-id-test-oauth-1","error":"invalid_grant",
	  "error_description":"The grant is expired.","error_uri":"https://stytch.com/docs/oauth#invalid_grant"}`)
	detailsBody := []byte(`{"status_code":400,"request_id":"request-id-test-details-1","error_type":"invalid_claims",
	  "error_message":"Claims are invalid.","error_url":"https://stytch.com/docs/x","error_details":{"a":[1,"x"]}}`)
	wantDetails, err := structpb.NewStruct(map[string]any{"a": []any{1, "x"}})
	if err != nil {
		t.Fatal(err)
	}
	stytchCase := func(status int, errorType string, code codes.Code) errorCase {
		return errorCase{
			name: fmt.Sprintf("%d %s", status, errorType), status: status,
			body: stytchtest.ErrorBody(status, errorType, "message for "+errorType), code: code,
			errorType: errorType, domain: apierr.DomainStytch, requestID: "request-id-test-fake-0001",
			message: "message for " + errorType,
			url:     fmt.Sprintf("https://stytch.com/docs/api-reference/b2b/api/errors/%d#%s", status, errorType),
		}
	}
	// upstreamError is attestd's 502 for an answer that is not Stytch's.
	upstreamError := func(name string, status int, body []byte) errorCase {
		return errorCase{
			name: name, status: status, statusCode: http.StatusBadGateway, body: body,
			code: codes.Unavailable, errorType: apierr.TypeUpstreamError, domain: apierr.DomainAttestd,
			message: fmt.Sprintf("Stytch answered HTTP %d with neither an attest response nor a Stytch error", status),
		}
	}
	cases := []errorCase{
		stytchCase(400, "invalid_trusted_auth_token", codes.InvalidArgument),
		// Stytch refusing attestd's own credentials is attestd's problem,
		// not the caller's (see credentials_test.go).
		{
			name: "401 unauthorized_credentials", status: 401, statusCode: http.StatusServiceUnavailable,
			body: stytchtest.ErrorBody(401, "unauthorized_credentials", "Unauthorized credentials."),
			code: codes.Unavailable, errorType: apierr.TypeUpstreamCredentialsRejected, domain: apierr.DomainAttestd,
			requestID: "request-id-test-fake-0001",
			message:   "Stytch rejected attestd's project credentials (project ID and secret): attestd is misconfigured",
		},
		// Any other 401 is Stytch's verdict on the caller's request.
		stytchCase(401, "unauthorized_action", codes.Unauthenticated),
		stytchCase(403, "organization_suspended", codes.PermissionDenied),
		stytchCase(404, "member_not_found", codes.NotFound),
		stytchCase(409, "duplicate_member", codes.Aborted),
		stytchCase(429, "too_many_requests", codes.ResourceExhausted),
		stytchCase(500, "internal_server_error", codes.Internal),
		stytchCase(502, "bad_gateway", codes.Unavailable),
		stytchCase(503, "service_unavailable", codes.Unavailable),
		{
			// The body claims 400; the HTTP status (429) wins, as in Stytch's Go SDK.
			name: "body status_code differs from HTTP status", status: 429,
			body: stytchtest.ErrorBody(400, "too_many_requests", "slow down"), code: codes.ResourceExhausted,
			errorType: "too_many_requests", domain: apierr.DomainStytch, requestID: "request-id-test-fake-0001",
			message: "slow down", url: "https://stytch.com/docs/api-reference/b2b/api/errors/400#too_many_requests",
		},
		{
			name: "error fixture", status: 400, body: stytchtest.Fixture("attest-error.json"), code: codes.InvalidArgument,
			errorType: "invalid_trusted_auth_token", domain: apierr.DomainStytch,
			requestID: "request-id-test-9c1e3a5c-7e9b-4d1f-a3c5-e7b9d1f3a5c7",
			message:   "The trusted auth token could not be validated for the given Trusted Auth Token profile.",
			url:       "https://stytch.com/docs/api-reference/b2b/api/errors/400#invalid_trusted_auth_token",
		},
		{
			name: "OAuth2-style body", status: 400, body: oauthBody, code: codes.InvalidArgument,
			errorType: "invalid_grant", domain: apierr.DomainStytch, requestID: "request-id-test-oauth-1",
			message: "The grant is expired.", url: "https://stytch.com/docs/oauth#invalid_grant",
		},
		{
			name: "error_details kept", status: 400, body: detailsBody, code: codes.InvalidArgument,
			errorType: "invalid_claims", domain: apierr.DomainStytch, requestID: "request-id-test-details-1",
			message: "Claims are invalid.", url: "https://stytch.com/docs/x", details: wantDetails,
		},
		upstreamError("HTML 502 from a proxy", 502,
			[]byte("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")),
		upstreamError("HTML 500 from a proxy", 500, []byte("<html><body>Internal Server Error</body></html>")),
		upstreamError("HTML 404 from a proxy", 404, []byte("<html><body>Not Found</body></html>")),
		// A proxy's 401 is not Stytch refusing attestd's credentials.
		upstreamError("HTML 401 from a proxy", 401, []byte("<html><body>Unauthorized</body></html>")),
		upstreamError("JSON without error_type", 500, []byte(`{"status_code":500,"request_id":"request-id-test-x","message":"oops"}`)),
		upstreamError("empty body", 503, nil),
		upstreamError("empty 400", 400, nil),
		// Neither success nor error: the body is not read, even a Stytch
		// error's.
		upstreamError("202 Accepted", 202, stytchtest.Typical()),
		upstreamError("203 with an attest response", 203, stytchtest.Typical()),
		upstreamError("204 No Content", 204, nil),
		upstreamError("302 with a Stytch error body", 302, stytchtest.ErrorBody(400, "invalid_trusted_auth_token", "x")),
		upstreamError("304 Not Modified", 304, nil),
		upstreamError("307 without Location", 307, nil),
	}
	fake := stytchtest.NewServer(t)
	client := newClient(t, fake.URL)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake.Handle(stytchtest.Respond(tc.status, tc.body))
			resp, err := client.Attest(ctx(t), validRequest())
			if resp != nil {
				t.Errorf("got a response alongside an error: %v", resp)
			}
			e := apiErr(t, err)
			if e.Code != tc.code {
				t.Errorf("code %v, want %v", e.Code, tc.code)
			}
			wantStatus := tc.statusCode
			if wantStatus == 0 {
				wantStatus = int32(tc.status)
			}
			if got := e.Body.GetStatusCode(); got != wantStatus {
				t.Errorf("status_code %d, want %d (Stytch answered %d)", got, wantStatus, tc.status)
			}
			if e.Body.GetErrorType() != tc.errorType || e.Domain != tc.domain || e.Body.GetRequestId() != tc.requestID {
				t.Errorf("error_type %q domain %q request_id %q, want %q %q %q",
					e.Body.GetErrorType(), e.Domain, e.Body.GetRequestId(), tc.errorType, tc.domain, tc.requestID)
			}
			if e.Body.GetErrorMessage() != tc.message {
				t.Errorf("error_message %q, want %q", e.Body.GetErrorMessage(), tc.message)
			}
			if e.Body.GetErrorUrl() != tc.url {
				t.Errorf("error_url %q, want %q", e.Body.GetErrorUrl(), tc.url)
			}
			if !proto.Equal(e.Body.GetErrorDetails(), tc.details) {
				t.Errorf("error_details %v, want %v", e.Body.GetErrorDetails(), tc.details)
			}
		})
	}
}

func TestSuccessDecoding(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		fixture string
		check   func(t *testing.T, r *b2bsessionv1.AttestResponse)
	}{
		{"full 200", http.StatusOK, "attest-response-full.json", func(t *testing.T, r *b2bsessionv1.AttestResponse) {
			mgr := r.GetMember().GetScimRegistration().GetScimAttributes().GetEnterpriseExtension().GetManager()
			if mgr.GetDisplayName() != "Charles Babbage" {
				t.Errorf("member.scim_registration.scim_attributes.enterprise_extension.manager.display_name %q", mgr.GetDisplayName())
			}
			if n := len(r.GetMemberSession().GetAuthenticationFactors()); n != 42 {
				t.Errorf("authentication_factors: %d, want 42", n)
			}
			if city := r.GetMemberDevice().GetIpGeoCity(); city != "London" {
				t.Errorf("member_device.ip_geo_city %q", city)
			}
		}},
		{"typical 200", http.StatusOK, "attest-response-typical.json", func(t *testing.T, r *b2bsessionv1.AttestResponse) {
			if r.GetMember().GetScimRegistration() != nil || r.GetMemberDevice() != nil {
				t.Errorf("typical answer grew scim_registration or member_device")
			}
			f := r.GetMemberSession().GetAuthenticationFactors()
			if len(f) != 1 || f[0].GetTrustedAuthTokenFactor().GetTokenId() != "tat-test-jti-77f1c0de" {
				t.Errorf("authentication_factors %v", f)
			}
		}},
		{"typical 201", http.StatusCreated, "attest-response-typical.json", nil},
	}
	fake := stytchtest.NewServer(t)
	client := newClient(t, fake.URL)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake.Handle(stytchtest.Respond(tc.status, stytchtest.Fixture(tc.fixture)))
			r, err := client.Attest(ctx(t), validRequest())
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if r.GetStatusCode() != 200 || r.GetMemberId() != "member-test-a2d4f6b8-1c3e-4a5b-9d7f-e8c6b4a29013" ||
				r.GetSessionToken() != fixtureSessionToken || !strings.HasPrefix(r.GetRequestId(), "request-id-test-") {
				t.Errorf("top level: status_code %d member_id %q request_id %q", r.GetStatusCode(), r.GetMemberId(), r.GetRequestId())
			}
			if r.GetOrganization().GetOrganizationName() != "Acme Test Corp" || r.GetOrganization().GetOrganizationSlug() != "acme-test" {
				t.Errorf("organization %q %q", r.GetOrganization().GetOrganizationName(), r.GetOrganization().GetOrganizationSlug())
			}
			tenants := r.GetOrganization().GetAllowedOauthTenants().AsMap()
			wantTenants := map[string]any{"slack": []any{"T0TESTACME"}, "hubspot": []any{"Hub4242"}, "github": []any{"acme-test-gh-org"}}
			if !reflect.DeepEqual(tenants, wantTenants) {
				t.Errorf("organization.allowed_oauth_tenants %v, want %v", tenants, wantTenants)
			}
			seats := r.GetMember().GetTrustedMetadata().GetFields()["seats"].GetStructValue().GetFields()
			if seats["purchased"].GetNumberValue() != 25 || seats["used"].GetNumberValue() != 19 {
				t.Errorf("member.trusted_metadata.seats %v", seats)
			}
			if got := r.GetMemberSession().GetCustomClaims().GetFields()["support_tier"].GetNumberValue(); got != 2 {
				t.Errorf("member_session.custom_claims.support_tier %v", got)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestMalformedSuccessBodies(t *testing.T) {
	typical := stytchtest.Typical()
	full := stytchtest.Full()
	cases := []struct {
		name string
		body []byte
	}{
		{"truncated in the middle", full[:len(full)/2]},
		{"truncated by one byte", typical[:len(typical)-1]},
		{"status_code a string", mutateJSON(t, typical, func(m map[string]any) { m["status_code"] = "abc" })},
		{"member an array", mutateJSON(t, typical, func(m map[string]any) { m["member"] = []any{m["member"]} })},
		{"session_token a number", mutateJSON(t, typical, func(m map[string]any) { m["session_token"] = 42 })},
		{"bad timestamp", mutateJSON(t, typical, func(m map[string]any) {
			m["member_session"].(map[string]any)["expires_at"] = "tomorrow"
		})},
		{"empty body", []byte{}},
		{"empty object", []byte(`{}`)},
		{"null", []byte(`null`)},
		{"array", []byte(`[]`)},
		{"string", []byte(`"ok"`)},
		{"HTML", []byte(`<html>OK</html>`)},
		{"organization missing", mutateJSON(t, typical, func(m map[string]any) { delete(m, "organization") })},
		{"member null", mutateJSON(t, typical, func(m map[string]any) { m["member"] = nil })},
		{"member_session missing", mutateJSON(t, typical, func(m map[string]any) { delete(m, "member_session") })},
	}
	fake := stytchtest.NewServer(t)
	client := newClient(t, fake.URL)
	for _, tc := range cases {
		for _, status := range []int{http.StatusOK, http.StatusCreated} {
			t.Run(fmt.Sprintf("%s %d", tc.name, status), func(t *testing.T) {
				fake.Handle(stytchtest.Respond(status, tc.body))
				req := validRequest()
				req.SessionToken = proto.String(requestSessionToken)
				resp, err := client.Attest(ctx(t), req)
				if err == nil {
					t.Fatalf("malformed body accepted as success: %v", resp)
				}
				if resp != nil {
					t.Errorf("got a response alongside an error")
				}
				e := apiErr(t, err)
				if e.Code != codes.Internal || e.Body.GetErrorType() != apierr.TypeUpstreamInvalidResponse ||
					e.Body.GetStatusCode() != http.StatusBadGateway || e.Domain != apierr.DomainAttestd {
					t.Errorf("got %v %q %d %q, want Internal upstream_invalid_response 502 attestd",
						e.Code, e.Body.GetErrorType(), e.Body.GetStatusCode(), e.Domain)
				}
				for _, secret := range []string{requestToken, requestSessionToken, fixtureSessionToken} {
					if strings.Contains(err.Error(), secret) || strings.Contains(e.Status().Message(), secret) {
						t.Errorf("error message leaks a secret: %q", err.Error())
					}
				}
			})
		}
	}
}

func TestResponseSizeCap(t *testing.T) {
	padded := func(n int) []byte { // a JSON object of exactly n bytes
		return []byte(`{"pad":"` + strings.Repeat("x", n-len(`{"pad":""}`)) + `"}`)
	}
	cases := []struct {
		name      string
		limit     int64
		status    int
		body      []byte
		code      codes.Code
		errorType string
	}{
		{"10 KB over a 4 KB cap", 4096, 200, padded(10 << 10), codes.Internal, apierr.TypeUpstreamResponseTooLarge},
		{"10 KB error body over a 4 KB cap", 4096, 500, padded(10 << 10), codes.Internal, apierr.TypeUpstreamResponseTooLarge},
		{"typical over a 4 KB cap", 4096, 200, stytchtest.Typical(), codes.Internal, apierr.TypeUpstreamResponseTooLarge},
		{"one byte over the cap", 4096, 200, padded(4097), codes.Internal, apierr.TypeUpstreamResponseTooLarge},
		// Exactly at the cap is read whole, and then judged on its content.
		{"exactly the cap", 4096, 200, padded(4096), codes.Internal, apierr.TypeUpstreamInvalidResponse},
		{"error exactly the cap", 4096, 503, padded(4096), codes.Unavailable, apierr.TypeUpstreamError},
		{"error over the cap", 4096, 400, padded(4097), codes.Internal, apierr.TypeUpstreamResponseTooLarge},
		// A zero or negative cap means the default, 1 MiB.
		{"zero cap: default admits 1 MiB", 0, 200, padded(upstream.DefaultMaxResponseBytes), codes.Internal, apierr.TypeUpstreamInvalidResponse},
		{"zero cap: default refuses 1 MiB + 1", 0, 200, padded(upstream.DefaultMaxResponseBytes + 1), codes.Internal, apierr.TypeUpstreamResponseTooLarge},
		{"negative cap: default", -1, 200, padded(upstream.DefaultMaxResponseBytes + 1), codes.Internal, apierr.TypeUpstreamResponseTooLarge},
	}
	fake := stytchtest.NewServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := newClient(t, fake.URL, func(o *upstream.Options) { o.MaxResponseBytes = tc.limit })
			fake.Handle(stytchtest.Respond(tc.status, tc.body))
			_, err := client.Attest(ctx(t), validRequest())
			e := apiErr(t, err)
			if e.Code != tc.code || e.Body.GetErrorType() != tc.errorType {
				t.Errorf("got %v %q, want %v %q", e.Code, e.Body.GetErrorType(), tc.code, tc.errorType)
			}
			effective := tc.limit
			if effective <= 0 {
				effective = upstream.DefaultMaxResponseBytes
			}
			if tc.errorType == apierr.TypeUpstreamResponseTooLarge && (e.Body.GetStatusCode() != http.StatusBadGateway ||
				!strings.Contains(e.Body.GetErrorMessage(), fmt.Sprint(effective))) {
				t.Errorf("too-large error: status_code %d message %q", e.Body.GetStatusCode(), e.Body.GetErrorMessage())
			}
		})
	}

	// The largest cap the configuration accepts must mean "no practical cap",
	// not "read nothing".
	t.Run("cap of math.MaxInt64", func(t *testing.T) {
		client := newClient(t, fake.URL, func(o *upstream.Options) { o.MaxResponseBytes = math.MaxInt64 })
		fake.Handle(stytchtest.Respond(http.StatusOK, stytchtest.Typical()))
		if _, err := client.Attest(ctx(t), validRequest()); err != nil {
			t.Errorf("BUG (internal/upstream/client.go readCapped: limit+1 overflows for math.MaxInt64, "+
				"io.LimitReader then reads nothing): a valid answer under a MaxInt64 cap failed: %v", err)
		}
	})
}

func TestTransportFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, fake *stytchtest.Server)
	}{
		{"connection refused", func(t *testing.T, fake *stytchtest.Server) { fake.Close() }},
		{"connection closed mid-body", func(t *testing.T, fake *stytchtest.Server) {
			fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				defer conn.Close()
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n")
				buf.Write(stytchtest.Typical()[:100])
				buf.Flush()
			}))
		}},
		{"connection closed before any answer", func(t *testing.T, fake *stytchtest.Server) {
			fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				conn.Close()
			}))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			client := newClient(t, fake.URL)
			tc.setup(t, fake)
			resp, err := client.Attest(ctx(t), validRequest())
			if resp != nil {
				t.Errorf("got a response: %v", resp)
			}
			e := apiErr(t, err)
			if e.Code != codes.Unavailable || e.Body.GetErrorType() != apierr.TypeUpstreamUnavailable ||
				e.Body.GetStatusCode() != http.StatusServiceUnavailable || e.Domain != apierr.DomainAttestd {
				t.Errorf("got %v %q %d %q, want Unavailable upstream_unavailable 503 attestd",
					e.Code, e.Body.GetErrorType(), e.Body.GetStatusCode(), e.Domain)
			}
			if errors.Unwrap(err) == nil {
				t.Errorf("the transport cause is not kept for logs")
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		// call returns the caller's context; entered is closed when the fake
		// holds the request.
		call      func(t *testing.T, entered <-chan struct{}) context.Context
		code      codes.Code
		errorType string
		status    int32
	}{
		{"Options.Timeout", 100 * time.Millisecond,
			func(t *testing.T, _ <-chan struct{}) context.Context { return ctx(t) },
			codes.DeadlineExceeded, apierr.TypeUpstreamTimeout, http.StatusGatewayTimeout},
		{"caller deadline shorter than Options.Timeout", 10 * time.Second,
			func(t *testing.T, _ <-chan struct{}) context.Context {
				c, cancel := context.WithTimeout(ctx(t), 100*time.Millisecond)
				t.Cleanup(cancel)
				return c
			},
			codes.DeadlineExceeded, apierr.TypeUpstreamTimeout, http.StatusGatewayTimeout},
		{"caller cancels in flight", 10 * time.Second,
			cancelOnEntry,
			codes.Canceled, apierr.TypeRequestCanceled, apierr.StatusClientClosedRequest},
		{"caller canceled before the call", 10 * time.Second,
			func(t *testing.T, _ <-chan struct{}) context.Context {
				c, cancel := context.WithCancel(ctx(t))
				cancel()
				return c
			},
			codes.Canceled, apierr.TypeRequestCanceled, apierr.StatusClientClosedRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			entered := make(chan struct{})
			fake.Handle(hang(t, entered))
			client := newClient(t, fake.URL, func(o *upstream.Options) { o.Timeout = tc.timeout })
			start := time.Now()
			_, err := client.Attest(tc.call(t, entered), validRequest())
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("call took %v: the deadline was not enforced", d)
			}
			e := apiErr(t, err)
			if e.Code != tc.code || e.Body.GetErrorType() != tc.errorType || e.Body.GetStatusCode() != tc.status {
				t.Errorf("got %v %q %d, want %v %q %d",
					e.Code, e.Body.GetErrorType(), e.Body.GetStatusCode(), tc.code, tc.errorType, tc.status)
			}
		})
	}
}

func TestZeroOptionsUseDefaults(t *testing.T) {
	fake := stytchtest.NewServer(t)
	client := upstream.New(upstream.Options{BaseURL: fake.URL, ProjectID: stytchtest.ProjectID, Secret: stytchtest.Secret})
	t.Cleanup(client.CloseIdleConnections)
	r, err := client.Attest(ctx(t), validRequest())
	if err != nil {
		t.Fatalf("Attest with zero Timeout and MaxResponseBytes: %v", err)
	}
	if r.GetMember().GetName() != "Ada Lovelace" {
		t.Errorf("member.name %q", r.GetMember().GetName())
	}
}

func TestRequestOnTheWire(t *testing.T) {
	claims, err := structpb.NewStruct(map[string]any{
		"tenant": "acme", "tier": 2, "flags": []any{true, nil}, "nested": map[string]any{"k": "v"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(stytchtest.ProjectID+":"+stytchtest.Secret))
	cases := []struct {
		name     string
		baseURL  func(fake string) string
		wantPath string
	}{
		{"plain", func(u string) string { return u }, "/v1/b2b/sessions/attest"},
		{"trailing slash", func(u string) string { return u + "/" }, "/v1/b2b/sessions/attest"},
		{"path prefix", func(u string) string { return u + "/prefix" }, "/prefix/v1/b2b/sessions/attest"},
		{"path prefix with trailing slash", func(u string) string { return u + "/prefix/" }, "/prefix/v1/b2b/sessions/attest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := stytchtest.NewServer(t)
			client := newClient(t, tc.baseURL(fake.URL))
			req := validRequest()
			req.OrganizationId = proto.String("organization-test-1")
			req.SessionDurationMinutes = proto.Int32(120)
			req.SessionCustomClaims = claims
			req.SessionJwt = proto.String("")
			req.TelemetryId = proto.String("telemetry-test-1")
			if _, err := client.Attest(ctx(t), req); err != nil {
				t.Fatalf("Attest: %v", err)
			}
			last := fake.Last()
			if last.Method != http.MethodPost || last.Path != tc.wantPath {
				t.Errorf("upstream call %s %s, want POST %s", last.Method, last.Path, tc.wantPath)
			}
			for k, want := range map[string]string{
				"Authorization": wantAuth,
				"Content-Type":  "application/json",
				"Accept":        "application/json",
				"User-Agent":    "attestd-test/1.2.3",
			} {
				if got := last.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			want := `{"profile_id":"trusted-token-profile-test-1","token":"` + requestToken + `",
			  "organization_id":"organization-test-1","session_duration_minutes":120,
			  "session_custom_claims":{"tenant":"acme","tier":2,"flags":[true,null],"nested":{"k":"v"}},
			  "telemetry_id":"telemetry-test-1"}`
			if !stytchtest.JSONEqual(t, last.Body, []byte(want)) {
				t.Errorf("upstream body %s\nwant %s", last.Body, want)
			}
		})
	}
}

func TestEncodeRequest(t *testing.T) {
	claims, err := structpb.NewStruct(map[string]any{"a": 1.5, "b": []any{"x", false}, "c": nil, "d": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   *b2bsessionv1.AttestRequest
		want string
	}{
		{"required only", &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t"},
			`{"profile_id":"p","token":"t"}`},
		{"empty optional strings omitted", &b2bsessionv1.AttestRequest{
			ProfileId: "p", Token: "t", OrganizationId: proto.String(""), SessionToken: proto.String(""),
			SessionJwt: proto.String(""), TelemetryId: proto.String(""),
		}, `{"profile_id":"p","token":"t"}`},
		{"every field", &b2bsessionv1.AttestRequest{
			ProfileId: "p", Token: "t", OrganizationId: proto.String("org"), SessionDurationMinutes: proto.Int32(527040),
			SessionCustomClaims: claims, SessionToken: proto.String("st"), SessionJwt: proto.String("jwt"),
			TelemetryId: proto.String("tel"),
		}, `{"profile_id":"p","token":"t","organization_id":"org","session_duration_minutes":527040,
		    "session_custom_claims":{"a":1.5,"b":["x",false],"c":null,"d":{}},
		    "session_token":"st","session_jwt":"jwt","telemetry_id":"tel"}`},
		{"duration is a number", &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t", SessionDurationMinutes: proto.Int32(5)},
			`{"profile_id":"p","token":"t","session_duration_minutes":5}`},
		{"empty claims object is sent", &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t", SessionCustomClaims: &structpb.Struct{}},
			`{"profile_id":"p","token":"t","session_custom_claims":{}}`},
		// structpb renders non-finite numbers as protojson does: strings.
		{"non-finite claim numbers", &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t",
			SessionCustomClaims: &structpb.Struct{Fields: map[string]*structpb.Value{
				"nan": structpb.NewNumberValue(math.NaN()), "inf": structpb.NewNumberValue(math.Inf(-1)),
			}}},
			`{"profile_id":"p","token":"t","session_custom_claims":{"nan":"NaN","inf":"-Infinity"}}`},
		{"HTML-significant and non-ASCII characters", &b2bsessionv1.AttestRequest{ProfileId: "p<&>", Token: "t\u2028é\"\\"},
			`{"profile_id":"p<&>","token":"t\u2028é\"\\"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := upstream.EncodeRequest(tc.in)
			if err != nil {
				t.Fatalf("EncodeRequest: %v", err)
			}
			if !stytchtest.JSONEqual(t, got, []byte(tc.want)) {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestConnectionReuse(t *testing.T) {
	fake := stytchtest.NewServer(t)
	var mu sync.Mutex
	remotes := map[string]int{}
	ok := stytchtest.Respond(http.StatusOK, stytchtest.Typical())
	fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr]++
		mu.Unlock()
		ok.ServeHTTP(w, r)
	}))
	client := newClient(t, fake.URL)
	for i := range 20 {
		// Error answers must not cost the connection either.
		if i == 10 {
			fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				remotes[r.RemoteAddr]++
				mu.Unlock()
				stytchtest.Error(400, "invalid_trusted_auth_token", "bad token").ServeHTTP(w, r)
			}))
		}
		_, err := client.Attest(ctx(t), validRequest())
		if (i < 10) != (err == nil) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fake.Calls() != 20 {
		t.Errorf("fake saw %d calls, want 20", fake.Calls())
	}
	if len(remotes) > 2 {
		t.Errorf("20 sequential calls used %d connections, want at most 2: %v", len(remotes), remotes)
	}
}

// driftRecorder is a translate.DriftReporter that remembers every report.
type driftRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (d *driftRecorder) UnknownKey(path string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paths = append(d.paths, path)
}

// distinct is the sorted set of reported paths.
func (d *driftRecorder) distinct() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Clone(d.paths)
	slices.Sort(out)
	return slices.Compact(out)
}

func TestDriftReported(t *testing.T) {
	body := mutateJSON(t, stytchtest.Full(), func(m map[string]any) {
		member := m["member"].(map[string]any)
		member["pronouns"] = "she/her"
		member["trusted_metadata"].(map[string]any)["anything"] = map[string]any{"deep": []any{map[string]any{"x": 1}}}
		member["untrusted_metadata"] = map[string]any{"new_key": true}
		session := m["member_session"].(map[string]any)
		for i, f := range session["authentication_factors"].([]any) {
			f.(map[string]any)["sequence_order"] = i
		}
		session["custom_claims"].(map[string]any)["brand_new_claim"] = "x"
		org := m["organization"].(map[string]any)
		org["allowed_oauth_tenants"].(map[string]any)["new_provider"] = []any{"T1"}
	})
	fake := stytchtest.NewServer(t)
	fake.Handle(stytchtest.Respond(http.StatusOK, body))
	drift := &driftRecorder{}
	client := newClient(t, fake.URL, func(o *upstream.Options) { o.Drift = drift })
	resp, err := client.Attest(ctx(t), validRequest())
	if err != nil {
		t.Fatalf("Attest with unknown keys: %v", err)
	}
	if resp.GetMember().GetTrustedMetadata().GetFields()["anything"] == nil {
		t.Errorf("member.trusted_metadata.anything was dropped")
	}
	want := []string{"member.pronouns", "member_session.authentication_factors[].sequence_order"}
	if got := drift.distinct(); !slices.Equal(got, want) {
		t.Errorf("drift paths %v, want %v", got, want)
	}
	if n := len(drift.paths); n != 1+42 {
		t.Errorf("drift reports: %d, want one per occurrence (43)", n)
	}

	// The unmodified fixtures are fully known to the mirror.
	for _, fixture := range []string{"attest-response-full.json", "attest-response-typical.json"} {
		fake.Handle(stytchtest.Respond(http.StatusOK, stytchtest.Fixture(fixture)))
		clean := &driftRecorder{}
		if _, err := newClient(t, fake.URL, func(o *upstream.Options) { o.Drift = clean }).Attest(ctx(t), validRequest()); err != nil {
			t.Fatal(err)
		}
		if got := clean.distinct(); len(got) != 0 {
			t.Errorf("%s reports drift %v", fixture, got)
		}
	}
}

// fuzzBody hands each fuzz input to the shared fake.
type fuzzBody struct {
	mu   sync.Mutex
	body []byte
}

func (f *fuzzBody) set(b []byte) {
	f.mu.Lock()
	f.body = b
	f.mu.Unlock()
}

func (f *fuzzBody) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	b := f.body
	f.mu.Unlock()
	stytchtest.Respond(http.StatusOK, b).ServeHTTP(w, r)
}

func FuzzAttestResponseDecoding(f *testing.F) {
	const limit = 64 << 10
	full, typical := stytchtest.Full(), stytchtest.Typical()
	for _, seed := range [][]byte{
		full, typical, stytchtest.Fixture("attest-error.json"),
		full[:len(full)/2], typical[:len(typical)-1], typical[:1], typical[:0],
		[]byte(`{}`), []byte(`null`), []byte(`[]`), []byte(`"x"`), []byte(`0`), []byte(`{"member":[]}`),
		[]byte(`{"member_session":{},"member":{},"organization":{}}`),
		[]byte(`{"member_session":null,"member":{},"organization":{}}`),
		[]byte(`{"member_session":{"authentication_factors":[{"sequence_order":1,"x":{}}]},"member":{"trusted_metadata":{"a":{"b":[1]}}},"organization":{},"unknown":[[[]]]}`),
		[]byte(`{"status_code":"abc"}`), []byte(`{"a":1,"a":2}`), []byte("\xef\xbb\xbf{}"), []byte("{\"request_id\":\"\xff\"}"),
		[]byte(strings.Repeat("[", 20000)), bytes.Repeat([]byte(" "), limit+1),
	} {
		f.Add(seed)
	}
	fake := stytchtest.NewServer(f)
	body := &fuzzBody{}
	fake.Handle(body)
	client := newClient(f, fake.URL, func(o *upstream.Options) {
		o.MaxResponseBytes = limit
		o.Drift = &driftRecorder{}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		body.set(in)
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client.Attest(c, validRequest())
		if err == nil {
			if resp.GetMemberSession() == nil || resp.GetMember() == nil || resp.GetOrganization() == nil {
				t.Fatalf("success without member_session/member/organization for %q", in)
			}
			return
		}
		if resp != nil {
			t.Fatalf("response alongside error %v", err)
		}
		var e *apierr.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *apierr.Error", err, err)
		}
		switch {
		case e.Code != codes.Internal, e.Body.GetStatusCode() != http.StatusBadGateway,
			e.Body.GetErrorType() != apierr.TypeUpstreamInvalidResponse && e.Body.GetErrorType() != apierr.TypeUpstreamResponseTooLarge:
			t.Fatalf("got %v %q %d for %q", e.Code, e.Body.GetErrorType(), e.Body.GetStatusCode(), in)
		}
	})
}

// TestCustomClaimsCap: Stytch's 4 KB cap counts the claims' JSON bytes;
// exactly 4096 passes, one more is refused before anything is sent.
func TestCustomClaimsCap(t *testing.T) {
	for _, tc := range []struct {
		size    int // JSON bytes of the claims object
		refused bool
	}{{4095, false}, {4096, false}, {4097, true}, {64 << 10, true}} {
		// {"k":"…"} is 8 bytes plus the value.
		claims, err := structpb.NewStruct(map[string]any{"k": strings.Repeat("x", tc.size-8)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = upstream.EncodeRequest(&b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t", SessionCustomClaims: claims})
		var e *apierr.Error
		switch {
		case !tc.refused && err != nil:
			t.Errorf("%d bytes refused: %v", tc.size, err)
		case tc.refused && (!errors.As(err, &e) || e.Body.GetErrorType() != "custom_claims_too_large" || e.Code != codes.InvalidArgument):
			t.Errorf("%d bytes: %v, want custom_claims_too_large", tc.size, err)
		}
	}
}

// cancelOnEntry is a call context its caller cancels as soon as the
// request reaches the server (entered), as a client giving up mid-call.
func cancelOnEntry(t *testing.T, entered <-chan struct{}) context.Context {
	c, cancel := context.WithCancel(ctx(t))
	t.Cleanup(cancel)
	go func() {
		select {
		case <-entered:
		case <-c.Done():
		}
		cancel()
	}()
	return c
}
