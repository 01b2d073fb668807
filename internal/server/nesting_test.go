package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/jsonlimit"
)

// nestedJSON is a valid request whose JSON nests depth levels: the request,
// its claims object, then objects or arrays below.
func nestedJSON(depth int, arrays bool) string {
	open, closer := `{"a":`, `}`
	if arrays {
		open, closer = `[`, `]`
	}
	return `{"profile_id":"trusted-token-profile-test-1","token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","session_custom_claims":{"k":` +
		strings.Repeat(open, depth-2) + `true` + strings.Repeat(closer, depth-2) + `}}`
}

// asProto is the same request as a message (protojson's own limit is far
// above these depths).
func asProto(t *testing.T, js string) *b2bsessionv1.AttestRequest {
	t.Helper()
	req := &b2bsessionv1.AttestRequest{}
	if err := protojson.Unmarshal([]byte(js), req); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestNestingLimitBothProtocols: a request nesting jsonlimit.MaxDepth
// levels goes through on both protocols; one level more is 400 bad_request
// / InvalidArgument naming the limit, and never reaches Stytch.
func TestNestingLimitBothProtocols(t *testing.T) {
	h := start(t)
	for _, arrays := range []bool{false, true} {
		shape := map[bool]string{false: "objects", true: "arrays"}[arrays]
		t.Run(shape, func(t *testing.T) {
			before := h.stytch.Calls()
			at, over := nestedJSON(jsonlimit.MaxDepth, arrays), nestedJSON(jsonlimit.MaxDepth+1, arrays)

			if code, _, body := h.post(t, "/v1/b2b/sessions/attest", at); code != http.StatusOK {
				t.Errorf("REST at the limit: %d %s", code, body)
			}
			if _, err := h.client.Attest(ctx(t), asProto(t, at)); err != nil {
				t.Errorf("gRPC at the limit: %v", err)
			}
			if n := h.stytch.Calls() - before; n != 2 {
				t.Errorf("%d calls at the limit reached Stytch, want 2", n)
			}

			code, _, body := h.post(t, "/v1/b2b/sessions/attest", over)
			m := stytchErrorOf(t, code, body)
			if code != http.StatusBadRequest || m["error_type"] != "bad_request" ||
				m["error_message"] != "invalid request body: nesting deeper than 32 levels of objects and arrays" {
				t.Errorf("REST one level over: %d %s", code, body)
			}
			_, err := h.client.Attest(ctx(t), asProto(t, over))
			st, se, info := details(t, err)
			if st.Code() != codes.InvalidArgument || se.GetErrorType() != "bad_request" || se.GetStatusCode() != 400 || info.GetDomain() != "attestd" ||
				!strings.Contains(se.GetErrorMessage(), "nesting deeper than 32 levels of objects and arrays") {
				t.Errorf("gRPC one level over: %v %v", st.Code(), se)
			}
			if n := h.stytch.Calls() - before; n != 2 {
				t.Errorf("requests over the limit reached Stytch (%d calls in all)", n)
			}
		})
	}
}

// TestRESTTrailingData: one JSON value per body; whitespace after it is
// fine, anything else is 400 bad_request and never reaches Stytch.
func TestRESTTrailingData(t *testing.T) {
	h := start(t)
	cases := []struct {
		name, body string
		status     int
	}{
		{"a second object", validJSON + `{"x":1}`, 400},
		{"garbage", validJSON + ` garbage`, 400},
		{"a second copy", validJSON + validJSON, 400},
		{"a closing brace", validJSON + `}`, 400},
		{"whitespace", validJSON + " \r\n\t", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.stytch.Calls()
			code, _, body := h.post(t, "/v1/b2b/sessions/attest", tc.body)
			if code != tc.status {
				t.Fatalf("%d %s", code, body)
			}
			if tc.status == 200 {
				return
			}
			if m := stytchErrorOf(t, code, body); m["error_type"] != "bad_request" ||
				!strings.HasPrefix(m["error_message"].(string), "invalid request body: ") {
				t.Errorf("%s", body)
			}
			if h.stytch.Calls() != before {
				t.Error("a refused body reached Stytch")
			}
		})
	}
}

// rawCodec sends and receives bytes as they are: a client that speaks
// something other than the message.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// deepWire is a request of size bytes whose claims nest lists as deeply as
// that allows: the attack over gRPC (thousands of levels).
func deepWire(size int) []byte {
	v := structpb.NewBoolValue(true)
	var out []byte
	for {
		req := &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t",
			SessionCustomClaims: &structpb.Struct{Fields: map[string]*structpb.Value{"k": v}}}
		if proto.Size(req) > size {
			return out
		}
		out, _ = proto.Marshal(req)
		for range 100 {
			v = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{v}})
		}
	}
}

// TestUndecodableGRPCRequests: bytes that do not decode — invalid UTF-8,
// not protobuf, nested thousands deep — are InvalidArgument bad_request
// with a Stytch error, logged by the chain's "call" line and counted by its
// metrics like any other call (grpc-go alone answered Internal, unlogged),
// and never reach Stytch. The same bytes on health's stream end it with
// InvalidArgument too.
func TestUndecodableGRPCRequests(t *testing.T) {
	h := start(t)
	valid, err := proto.Marshal(&b2bsessionv1.AttestRequest{ProfileId: "p", Token: "SECRET-TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	deep := deepWire(60 << 10)
	if len(deep) < 50<<10 {
		t.Fatalf("attack of %d bytes", len(deep))
	}
	cases := []struct {
		name    string
		in      []byte
		message string
	}{
		{"invalid UTF-8", bytes.Replace(valid, []byte("SECRET-TOKEN"), []byte("SECRET\xc3\x28TOKE"), 1),
			"request is not a valid protobuf message: invalid UTF-8 in a string field"},
		{"not protobuf", []byte("SECRET-TOKEN \xff\xff\xff\xff"),
			"request is not a valid protobuf message: cannot parse invalid wire-format data"},
		{"nested thousands deep", deep,
			"invalid request: nesting deeper than 32 levels of objects and arrays (google.protobuf.Struct and ListValue values, the request message being level 1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "undecodable-" + strings.ReplaceAll(tc.name, " ", "-")
			c := metadata.AppendToOutgoingContext(ctx(t), "x-request-id", id)
			var out []byte
			err := h.conn.Invoke(c, b2bsessionv1.SessionService_Attest_FullMethodName, tc.in, &out, grpc.ForceCodecV2(rawCodec{}))
			st, se, _ := details(t, err)
			if st.Code() != codes.InvalidArgument || se.GetErrorType() != "bad_request" || se.GetStatusCode() != 400 {
				t.Fatalf("got %v %v", st.Code(), se)
			}
			if st.Message() != tc.message || se.GetRequestId() != id {
				t.Errorf("message %q request_id %q, want %q %q", st.Message(), se.GetRequestId(), tc.message, id)
			}
			line := callLine(t, h, id)
			if line["code"] != "InvalidArgument" || line["error_type"] != "bad_request" || line["method"] != b2bsessionv1.SessionService_Attest_FullMethodName {
				t.Errorf("call line %v", line)
			}
		})
	}
	if strings.Contains(h.logs.String(), "SECRET") {
		t.Error("the request's bytes reached the logs")
	}
	fams := scrape(t, h)
	labels := map[string]string{"protocol": "grpc", "code": "InvalidArgument", "error_type": "bad_request"}
	if n := counter(t, fams, "attestd_attest_calls_total", labels); n != float64(len(cases)) {
		t.Errorf("attestd_attest_calls_total%v = %v, want %d", labels, n, len(cases))
	}
	if n := h.stytch.Calls(); n != 0 {
		t.Errorf("%d calls reached Stytch", n)
	}

	// Streams: health Watch with bytes that are not its request.
	desc := &grpc.StreamDesc{StreamName: "Watch", ServerStreams: true}
	s, err := h.conn.NewStream(ctx(t), desc, grpc_health_v1.Health_Watch_FullMethodName, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte{0xff, 0xff, 0xff}); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	_ = s.CloseSend()
	var out []byte
	if err := s.RecvMsg(&out); status.Code(err) != codes.InvalidArgument {
		t.Errorf("health Watch with garbage: %v", err)
	}
	// And what does decode still works through the codec.
	resp, err := grpc_health_v1.NewHealthClient(h.conn).Check(ctx(t), &grpc_health_v1.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("health Check: %v %v", resp, err)
	}
	if services, err := listServices(t, h.conn); err != nil || len(services) == 0 {
		t.Errorf("reflection: %v %v", services, err)
	}
}

// BenchmarkNestedAttackGRPC and BenchmarkNestedAttackREST: a whole call
// (client included, on loopback) carrying the attack, a request of
// about 60 KB nested as deeply as that allows, refused without decoding
// more than the limit's levels.
func BenchmarkNestedAttackGRPC(b *testing.B) {
	h := startBench(b)
	c, in := ctx(b), deepWire(60<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var out []byte
		if err := h.conn.Invoke(c, b2bsessionv1.SessionService_Attest_FullMethodName, in, &out, grpc.ForceCodecV2(rawCodec{})); status.Code(err) != codes.InvalidArgument {
			b.Fatal(err)
		}
	}
}

// BenchmarkNestedAttackREST is BenchmarkNestedAttackGRPC over REST.
func BenchmarkNestedAttackREST(b *testing.B) {
	body := `{"profile_id":"p","token":"t","session_custom_claims":` + strings.Repeat(`{"a":`, 9900) + `1` + strings.Repeat(`}`, 9900) + `}`
	benchREST(b, startBench(b), body, http.StatusBadRequest)
}
