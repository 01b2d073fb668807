package apierr_test

import (
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/internal/apierr"
)

// Bounds on what leaves attestd: a rendered status must stay well under the
// 8 KiB of trailers grpc C-core clients accept, a REST body small.
const (
	maxStatusBytes  = 4 << 10 // proto.Size of the whole google.rpc.Status
	maxTrailerBytes = 7 << 10 // the trailers that carry it, as HPACK counts them
	maxBodyBytes    = 4 << 10 // the body as JSON
)

// trailerBytes is the size of the trailers grpc-go sends for st, as HPACK
// (and grpc C-core's limit) counts them: name, value and 32 bytes for each
// of grpc-status, grpc-message (percent-encoded: every byte that is not
// printable ASCII, and '%', takes 3) and grpc-status-details-bin (unpadded
// base64 of the status).
func trailerBytes(t *testing.T, st *status.Status) int {
	t.Helper()
	raw, err := proto.Marshal(st.Proto())
	if err != nil {
		t.Fatal(err)
	}
	msg := 0
	for i := 0; i < len(st.Message()); i++ {
		if c := st.Message()[i]; c < ' ' || c > '~' || c == '%' {
			msg += 3
		} else {
			msg++
		}
	}
	return len("grpc-status") + len(strconv.Itoa(int(st.Code()))) + 32 +
		len("grpc-message") + msg + 32 +
		len("grpc-status-details-bin") + base64.RawStdEncoding.EncodedLen(len(raw)) + 32
}

// bigDetails is error_details far over the cap.
func bigDetails(t *testing.T) *structpb.Struct {
	t.Helper()
	list := make([]any, 200)
	for i := range list {
		list[i] = map[string]any{"field": "f", "message": strings.Repeat("m", 100)}
	}
	s, err := structpb.NewStruct(map[string]any{"violations": list})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// justUnderCap is the largest error_details of its shape within the cap.
func justUnderCap(t *testing.T) *structpb.Struct {
	t.Helper()
	var list []any
	var last *structpb.Struct
	for {
		list = append(list, map[string]any{"field": "f", "message": strings.Repeat("m", 20)})
		s, err := structpb.NewStruct(map[string]any{"violations": list})
		if err != nil {
			t.Fatal(err)
		}
		if proto.Size(s) > apierr.MaxErrorDetailsBytes {
			return last
		}
		last = s
	}
}

func TestBound(t *testing.T) {
	huge := strings.Repeat("x", 900<<10)
	// A 2-byte rune straddles the cut whatever the marker's length.
	accents := strings.Repeat("é", 900)
	smallDetails, err := structpb.NewStruct(map[string]any{"violations": []any{map[string]any{"field": "token", "rule": "required"}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		body *errorv1.StytchError
		// want* are the fields expected after bounding; wantMessage is a
		// prefix when cut.
		wantMessage string
		cut         bool
		wantType    string
		wantURL     string
		wantID      string
		// detailsKept: error_details unchanged; else replaced by the note.
		detailsKept bool
	}{
		{name: "within bounds: untouched",
			body:        &errorv1.StytchError{ErrorType: "invalid_token", ErrorMessage: "bad", ErrorUrl: "https://stytch.com/docs", RequestId: "request-id-1", ErrorDetails: smallDetails},
			wantMessage: "bad", wantType: "invalid_token", wantURL: "https://stytch.com/docs", wantID: "request-id-1", detailsKept: true},
		{name: "900 KiB message", body: &errorv1.StytchError{ErrorType: "t", ErrorMessage: huge},
			wantMessage: strings.Repeat("x", apierr.MaxErrorMessageBytes-len("… (truncated)")), cut: true, wantType: "t", detailsKept: true},
		{name: "multi-byte message cut on a rune boundary", body: &errorv1.StytchError{ErrorType: "t", ErrorMessage: accents},
			wantMessage: strings.Repeat("é", (apierr.MaxErrorMessageBytes-len("… (truncated)"))/2), cut: true, wantType: "t", detailsKept: true},
		{name: "message of exactly the cap", body: &errorv1.StytchError{ErrorMessage: strings.Repeat("x", apierr.MaxErrorMessageBytes)},
			wantMessage: strings.Repeat("x", apierr.MaxErrorMessageBytes), detailsKept: true},
		{name: "invalid UTF-8 everywhere", body: &errorv1.StytchError{ErrorType: "t\xff", ErrorMessage: "a\xffb", ErrorUrl: "u\xfe", RequestId: "r\xc3"},
			wantMessage: "a\uFFFDb", wantType: "t\uFFFD", wantURL: "u\uFFFD", wantID: "r\uFFFD", detailsKept: true},
		{name: "long error_type, request_id, error_url",
			body:     &errorv1.StytchError{ErrorType: strings.Repeat("t", 1000), RequestId: strings.Repeat("r", 1000), ErrorUrl: "https://x/" + strings.Repeat("u", 1000)},
			wantType: strings.Repeat("t", apierr.MaxErrorTypeBytes), wantID: strings.Repeat("r", apierr.MaxRequestIDBytes), wantURL: "", detailsKept: true},
		{name: "details over the cap", body: &errorv1.StytchError{ErrorType: "t", ErrorMessage: "m", ErrorDetails: bigDetails(t)},
			wantMessage: "m", wantType: "t"},
		{name: "everything at once, the message not ASCII",
			body: &errorv1.StytchError{ErrorType: strings.Repeat("t", 1000), ErrorMessage: accents, RequestId: strings.Repeat("r", 1000),
				ErrorUrl: strings.Repeat("u", 200), ErrorDetails: justUnderCap(t)},
			wantMessage: strings.Repeat("é", (apierr.MaxErrorMessageBytes-len("… (truncated)"))/2), cut: true,
			wantType: strings.Repeat("t", apierr.MaxErrorTypeBytes), wantURL: strings.Repeat("u", 200),
			wantID: strings.Repeat("r", apierr.MaxRequestIDBytes), detailsKept: true},
		{name: "everything at once",
			body: &errorv1.StytchError{ErrorType: strings.Repeat("t", 1000), ErrorMessage: huge, RequestId: strings.Repeat("r", 1000),
				ErrorUrl: strings.Repeat("u", 1000), ErrorDetails: bigDetails(t)},
			wantMessage: strings.Repeat("x", apierr.MaxErrorMessageBytes-len("… (truncated)")), cut: true,
			wantType: strings.Repeat("t", apierr.MaxErrorTypeBytes), wantID: strings.Repeat("r", apierr.MaxRequestIDBytes)},
	}
	// Every way an error is built or rendered must bound it.
	builds := []struct {
		name  string
		build func(t *testing.T, b *errorv1.StytchError) *apierr.Error
	}{
		{"FromStytch", func(_ *testing.T, b *errorv1.StytchError) *apierr.Error { return apierr.FromStytch(400, b) }},
		{"Kind.New, then the body changed", func(_ *testing.T, b *errorv1.StytchError) *apierr.Error {
			e := apierr.BadRequest.New("short")
			e.Body = b // as code that rewrites a message or adds details after New
			e.Body.StatusCode = 400
			return e
		}},
		{"FromStatus of an unbounded status", func(t *testing.T, b *errorv1.StytchError) *apierr.Error {
			b.StatusCode = 400
			st, err := status.New(codes.InvalidArgument, "m").WithDetails(b)
			if err != nil {
				t.Skipf("no such status can be sent: %v", err) // invalid UTF-8 does not marshal
			}
			return apierr.FromStatus(st)
		}},
	}
	for _, tc := range cases {
		for _, bl := range builds {
			t.Run(tc.name+"/"+bl.name, func(t *testing.T) {
				e := bl.build(t, proto.Clone(tc.body).(*errorv1.StytchError))
				st := e.Status()
				// The status renders whole, details included, and small.
				body, info := apierr.Details(st)
				if body == nil || info == nil {
					t.Fatalf("status lost its details: %v", st.Proto())
				}
				if n := proto.Size(st.Proto()); n > maxStatusBytes {
					t.Errorf("status is %d bytes as protobuf, want at most %d", n, maxStatusBytes)
				}
				if n := trailerBytes(t, st); n > maxTrailerBytes {
					t.Errorf("trailers are %d bytes, want at most %d", n, maxTrailerBytes)
				}
				if st.Message() != body.GetErrorMessage() || info.GetReason() != body.GetErrorType() || info.GetMetadata()["request_id"] != body.GetRequestId() {
					t.Errorf("status message %q reason %q request_id %q disagree with the body", st.Message(), info.GetReason(), info.GetMetadata()["request_id"])
				}
				// REST writes the error's own body, once bounded.
				rest := e.Bound().Body
				if !proto.Equal(rest, body) {
					t.Errorf("REST body %v differs from the gRPC details %v", rest, body)
				}
				if j, err := protojson.Marshal(rest); err != nil || len(j) > maxBodyBytes {
					t.Errorf("REST body: %d bytes, %v", len(j), err)
				}
				for _, s := range []string{body.GetErrorMessage(), body.GetErrorType(), body.GetErrorUrl(), body.GetRequestId()} {
					if !utf8.ValidString(s) {
						t.Errorf("invalid UTF-8 left: %q", s)
					}
				}
				msg := body.GetErrorMessage()
				switch {
				case tc.cut && (!strings.HasPrefix(msg, tc.wantMessage) || msg != tc.wantMessage+"… (truncated)"):
					t.Errorf("message %q…, want %q… (truncated)", msg[:min(len(msg), 20)], tc.wantMessage[:min(len(tc.wantMessage), 20)])
				case !tc.cut && msg != tc.wantMessage:
					t.Errorf("message %q, want %q", msg, tc.wantMessage)
				}
				if len(msg) > apierr.MaxErrorMessageBytes {
					t.Errorf("message is %d bytes", len(msg))
				}
				if body.GetErrorType() != tc.wantType || body.GetErrorUrl() != tc.wantURL || body.GetRequestId() != tc.wantID {
					t.Errorf("error_type %q error_url %q request_id %q, want %q %q %q",
						body.GetErrorType(), body.GetErrorUrl(), body.GetRequestId(), tc.wantType, tc.wantURL, tc.wantID)
				}
				switch d := body.GetErrorDetails(); {
				case tc.detailsKept && !proto.Equal(d, tc.body.GetErrorDetails()):
					t.Errorf("error_details changed: %v", d)
				case !tc.detailsKept && d.GetFields()["omitted"].GetStringValue() != "error_details was over 1536 bytes":
					t.Errorf("error_details %v, want the omission note", d)
				}
			})
		}
	}
}

// TestStatusDoesNotModifyTheError: rendering bounds a copy, so an error
// rendered concurrently (the gRPC status and a log line, say) is never
// written to.
func TestStatusDoesNotModifyTheError(t *testing.T) {
	e := apierr.BadRequest.New("m")
	e.Body.ErrorMessage = strings.Repeat("x", 10<<10)
	_ = e.Status()
	if len(e.Body.GetErrorMessage()) != 10<<10 {
		t.Errorf("Status changed the error's body")
	}
}

func TestKindNewBoundsCallerInput(t *testing.T) {
	e := apierr.RouteNotFound.New("no route for GET /" + strings.Repeat("a", 16<<10) + "\xff")
	if n := len(e.Body.GetErrorMessage()); n > apierr.MaxErrorMessageBytes || !utf8.ValidString(e.Body.GetErrorMessage()) {
		t.Errorf("message of %d bytes, valid UTF-8 %v", n, utf8.ValidString(e.Body.GetErrorMessage()))
	}
	if e.WithRequestID(strings.Repeat("i", 1000)); len(e.Body.GetRequestId()) != apierr.MaxRequestIDBytes {
		t.Errorf("request_id of %d bytes", len(e.Body.GetRequestId()))
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want int64
	}{
		{math.MinInt64, 0},
		{-time.Hour, 0},
		{-1, 0},
		{0, 0},
		{1, 1},
		{time.Second - 1, 1},
		{time.Second, 1},
		{time.Second + 1, 2},
		{1500 * time.Millisecond, 2},
		{time.Hour - time.Second, 3599},
		{time.Hour, 3600},
		{time.Hour + 1, 3600},
		{100 * time.Hour, 3600},
		{math.MaxInt64 - time.Second + 2, 3600}, // (d+1s-1) would overflow
		{math.MaxInt64, 3600},
	}
	for _, tc := range cases {
		if got := apierr.RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%d) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// TestRetryInfoClamped: the RetryInfo rendered, and the one read back from a
// status that came from anywhere, lie within [0, MaxRetryAfter].
func TestRetryInfoClamped(t *testing.T) {
	cases := []struct {
		name string
		in   time.Duration
		want time.Duration // 0: no RetryInfo
	}{
		{"none", 0, 0},
		{"negative", -time.Second, 0},
		{"a second", time.Second, time.Second},
		{"an hour", time.Hour, time.Hour},
		{"a year", 365 * 24 * time.Hour, time.Hour},
		{"the largest Duration", math.MaxInt64, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := apierr.UpstreamOverloaded.New("busy")
			e.RetryAfter = tc.in
			if got := retryInfo(e.Status()); got != tc.want {
				t.Errorf("rendered RetryInfo %v, want %v", got, tc.want)
			}
			// A status from elsewhere, with whatever RetryInfo it likes.
			st, err := status.New(codes.Unavailable, "x").WithDetails(
				&errorv1.StytchError{StatusCode: 503, ErrorType: "x"},
				&errdetails.RetryInfo{RetryDelay: durationpb.New(tc.in)})
			if err != nil {
				t.Fatal(err)
			}
			want := max(min(tc.in, time.Hour), 0)
			if got := apierr.FromStatus(st).RetryAfter; got != want {
				t.Errorf("FromStatus RetryAfter %v, want %v", got, want)
			}
		})
	}
	// durationpb can hold far more than a Duration: AsDuration saturates.
	st, err := status.New(codes.Unavailable, "x").WithDetails(
		&errorv1.StytchError{StatusCode: 503, ErrorType: "x"},
		&errdetails.RetryInfo{RetryDelay: &durationpb.Duration{Seconds: math.MaxInt64}})
	if err != nil {
		t.Fatal(err)
	}
	if got := apierr.FromStatus(st).RetryAfter; got != time.Hour {
		t.Errorf("FromStatus RetryAfter %v for 2^63 seconds, want 1h", got)
	}
}

func retryInfo(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			return r.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

func TestUpstreamKinds(t *testing.T) {
	cases := []struct {
		name      string
		e         *apierr.Error
		code      codes.Code
		status    int32
		errorType string
		message   string
	}{
		{"HTML 404 from a proxy", apierr.UpstreamError(404), codes.Unavailable, http.StatusBadGateway, apierr.TypeUpstreamError,
			"Stytch answered HTTP 404 with neither an attest response nor a Stytch error"},
		{"307", apierr.UpstreamError(307), codes.Unavailable, http.StatusBadGateway, apierr.TypeUpstreamError,
			"Stytch answered HTTP 307 with neither an attest response nor a Stytch error"},
		{"credentials rejected", apierr.UpstreamCredentialsRejected.New("m"), codes.Unavailable, http.StatusServiceUnavailable,
			apierr.TypeUpstreamCredentialsRejected, "m"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.e.Code != tc.code || tc.e.Body.GetStatusCode() != tc.status || tc.e.Body.GetErrorType() != tc.errorType ||
				tc.e.Domain != apierr.DomainAttestd || tc.e.Body.GetErrorMessage() != tc.message || tc.e.Body.GetErrorUrl() != "" {
				t.Errorf("got %v %d %q %q %q %q", tc.e.Code, tc.e.Body.GetStatusCode(), tc.e.Body.GetErrorType(),
					tc.e.Domain, tc.e.Body.GetErrorMessage(), tc.e.Body.GetErrorUrl())
			}
			// Over gRPC and back, as the gateway reads it.
			back := apierr.FromStatus(tc.e.Status())
			if back.Code != tc.code || !proto.Equal(back.Body, tc.e.Body) || back.Domain != apierr.DomainAttestd {
				t.Errorf("round trip: %v %v %q", back.Code, back.Body, back.Domain)
			}
		})
	}
}

// TestTypes: every kind's name is among Types with the kind's HTTP status,
// and error_url points at Stytch's documentation for exactly the kinds that
// carry a Stytch name.
func TestTypes(t *testing.T) {
	known := map[string]bool{}
	for _, n := range apierr.Types() {
		known[n] = true
	}
	stytchNamed := map[string]bool{
		apierr.TypeBadRequest: true, apierr.TypeInvalidSessionDurationMinutes: true, apierr.TypeTooManySessionArguments: true,
		apierr.TypeCustomClaimsTooLarge: true, apierr.TypeInternal: true, apierr.TypeUnauthorizedCredentials: true,
		apierr.TypeTooManyRequests: true,
	}
	for _, k := range []apierr.Kind{
		apierr.BadRequest, apierr.InvalidSessionDurationMinutes, apierr.TooManySessionArguments, apierr.CustomClaimsTooLarge,
		apierr.RequestTooLarge, apierr.RouteNotFound, apierr.MethodNotAllowed, apierr.UnsupportedMediaType, apierr.UpstreamTimeout,
		apierr.UpstreamUnavailable, apierr.UpstreamInvalidResponse, apierr.UpstreamResponseTooLarge, apierr.RequestCanceled,
		apierr.Internal, apierr.UnauthorizedCredentials, apierr.TooManyRequests, apierr.UpstreamOverloaded,
		apierr.UpstreamCircuitOpen, apierr.UpstreamCredentialsRejected,
	} {
		if !known[k.Type] || apierr.HTTPStatusOf(k.Type) != k.HTTPStatus {
			t.Errorf("%s: known %v, HTTPStatusOf %d, want %d", k.Type, known[k.Type], apierr.HTTPStatusOf(k.Type), k.HTTPStatus)
		}
		want := ""
		if stytchNamed[k.Type] {
			want = "https://stytch.com/docs/api-reference/b2b/api/errors/" + strconv.Itoa(k.HTTPStatus) + "#" + k.Type
		}
		if got := k.New("m").Body.GetErrorUrl(); got != want {
			t.Errorf("%s: error_url %q, want %q", k.Type, got, want)
		}
	}
	for n, want := range map[string]int{
		apierr.TypeInvalidTrustedAuthToken: http.StatusBadRequest, apierr.TypeOrganizationSuspended: http.StatusForbidden,
		apierr.TypeProjectNotFound: http.StatusNotFound, "unauthenticated": http.StatusUnauthorized,
		"use_https": 0, // recognised, status not recorded
	} {
		if !known[n] || apierr.HTTPStatusOf(n) != want {
			t.Errorf("%s: known %v, HTTPStatusOf %d, want %d", n, known[n], apierr.HTTPStatusOf(n), want)
		}
	}
	if known["made_up"] || apierr.HTTPStatusOf("made_up") != 0 {
		t.Error("a made-up name is known")
	}
}
