package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/jsonlimit"
)

// fakeConn answers every call with an empty answer and keeps the last
// request, so the tests see what the gateway decoded without a server.
type fakeConn struct {
	calls atomic.Int64
	last  atomic.Pointer[b2bsessionv1.AttestRequest]
}

func (c *fakeConn) Invoke(_ context.Context, _ string, args, _ any, _ ...grpc.CallOption) error {
	c.calls.Add(1)
	c.last.Store(proto.Clone(args.(proto.Message)).(*b2bsessionv1.AttestRequest))
	return nil
}

func (c *fakeConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	panic("no streams")
}

func newHandler(t testing.TB) (http.Handler, *fakeConn) {
	t.Helper()
	conn := &fakeConn{}
	h, err := New(context.Background(), conn, Limits{MaxBody: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return h, conn
}

func post(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/b2b/sessions/attest", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// nested is a request whose JSON nests depth levels (the request and its
// claims object being levels 1 and 2), objects or arrays below.
func nested(depth int, arrays bool) string {
	open, closer := `{"a":`, `}`
	if arrays {
		open, closer = `[`, `]`
	}
	return `{"profile_id":"p","token":"t","session_custom_claims":{"k":` +
		strings.Repeat(open, depth-2) + `1` + strings.Repeat(closer, depth-2) + `}}`
}

// TestDecodeBody: nesting is bounded before decoding, trailing data is
// refused, and everything else decodes as protojson did. Refused bodies
// never reach the service.
func TestDecodeBody(t *testing.T) {
	h, conn := newHandler(t)
	const attack = `{"profile_id":"p","token":"t","session_custom_claims":`
	cases := []struct {
		name     string
		body     string
		status   int
		mentions string // in error_message; "" for a success
	}{
		{"objects at the limit", nested(jsonlimit.MaxDepth, false), 200, ""},
		{"arrays at the limit", nested(jsonlimit.MaxDepth, true), 200, ""},
		{"objects one over", nested(jsonlimit.MaxDepth+1, false), 400, "invalid request body: nesting deeper than 32 levels of objects and arrays"},
		{"arrays one over", nested(jsonlimit.MaxDepth+1, true), 400, "invalid request body: nesting deeper than 32 levels of objects and arrays"},
		{"60 KB of nesting, unclosed", attack + strings.Repeat(`{"a":`, 12<<10), 400, "deeper than 32 levels"},
		{"a second object", `{"profile_id":"p","token":"t"}{"x":1}`, 400, "invalid request body: syntax error"},
		{"garbage after", `{"profile_id":"p","token":"t"} garbage`, 400, "invalid request body: syntax error"},
		{"a second array", `{"profile_id":"p","token":"t"}[]`, 400, "invalid request body: syntax error"},
		{"whitespace after", "{\"profile_id\":\"p\",\"token\":\"t\"} \r\n\t ", 200, ""},
		{"unknown field", `{"profile_id":"p","token":"t","profileId2":"x"}`, 400, `unknown field "profileId2"`},
		{"not JSON", `profile_id=p`, 400, "invalid request body"},
		{"brackets in strings do not count", `{"profile_id":"` + strings.Repeat("[", 100) + `","token":"t"}`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := conn.calls.Load()
			w := post(h, tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			called := conn.calls.Load() > before
			if tc.mentions == "" {
				if !called {
					t.Error("the call did not reach the service")
				}
				return
			}
			if called {
				t.Error("a refused body reached the service")
			}
			var e struct {
				ErrorType    string `json:"error_type"`
				ErrorMessage string `json:"error_message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.ErrorType != "bad_request" || !strings.Contains(e.ErrorMessage, tc.mentions) {
				t.Errorf("error %q %q, want bad_request mentioning %q", e.ErrorType, e.ErrorMessage, tc.mentions)
			}
		})
	}

	// An empty body is still an empty request (validation names the
	// fields), as before.
	for _, body := range []string{"", " \n"} {
		if w := post(h, body); w.Code != 200 || !proto.Equal(conn.last.Load(), &b2bsessionv1.AttestRequest{}) {
			t.Errorf("body %q: %d, request %v", body, w.Code, conn.last.Load())
		}
	}
	// What decodes is what protojson decodes.
	body := nested(jsonlimit.MaxDepth, false)
	want := &b2bsessionv1.AttestRequest{}
	if err := protojson.Unmarshal([]byte(body), want); err != nil {
		t.Fatal(err)
	}
	if post(h, body); !proto.Equal(conn.last.Load(), want) {
		t.Error("the decoded request differs from protojson's")
	}
}

// TestProtojsonRecursionBackstop: protojson's own limit is the least that
// admits every request the scan admits, so it only ever backs the scan up.
func TestProtojsonRecursionBackstop(t *testing.T) {
	need := func(body string) int {
		for n := 1; ; n++ {
			if (protojson.UnmarshalOptions{RecursionLimit: n}).Unmarshal([]byte(body), &b2bsessionv1.AttestRequest{}) == nil {
				return n
			}
		}
	}
	most := max(need(nested(jsonlimit.MaxDepth, false)), need(nested(jsonlimit.MaxDepth, true)))
	if most != protojsonRecursionLimit {
		// The scan admits nothing deeper, so a larger backstop would be
		// harmless, a smaller one would refuse valid requests.
		t.Errorf("MaxDepth levels take protojson %d levels; the backstop is %d", most, protojsonRecursionLimit)
	}
}

// TestUnmarshalSameAsDecoder: the marshaler's Unmarshal applies the same
// rules.
func TestUnmarshalSameAsDecoder(t *testing.T) {
	m := &marshaler{}
	cases := []struct {
		body string
		ok   bool
	}{
		{`{"profile_id":"p"}`, true},
		{`{"profile_id":"p"} x`, false},
		{nested(jsonlimit.MaxDepth+1, true), false},
	}
	for _, tc := range cases {
		errU := m.Unmarshal([]byte(tc.body), &b2bsessionv1.AttestRequest{})
		errD := m.NewDecoder(strings.NewReader(tc.body)).Decode(&b2bsessionv1.AttestRequest{})
		if (errU == nil) != tc.ok || (errD == nil) != tc.ok {
			t.Errorf("%.40q: Unmarshal %v, Decode %v, want ok %v", tc.body, errU, errD, tc.ok)
		}
	}
	// Not a message: grpc-gateway's decoding, with the same refusals.
	var s map[string]any
	if err := m.Unmarshal([]byte(`{"a":1} {"b":2}`), &s); err != errTrailingData {
		t.Errorf("non-message with trailing data: %v", err)
	}
	if err := m.Unmarshal([]byte(`{"a":[1]} `), &s); err != nil || len(s) != 1 {
		t.Errorf("non-message: %v %v", err, s)
	}
	if err := m.Unmarshal([]byte(nested(jsonlimit.MaxDepth+1, false)), &s); err == nil {
		t.Error("non-message nested too deeply was accepted")
	}
	if err := m.NewDecoder(io.MultiReader()).Decode(&b2bsessionv1.AttestRequest{}); err != io.EOF {
		t.Errorf("empty body: %v, want io.EOF", err)
	}
}

// attackBody is the attack: 60 KB of nested objects, under the
// 64 KiB body cap, closed and within encoding/json's 10 000 levels so that
// grpc-gateway's own decoder went all the way down.
func attackBody() string {
	const levels = 9900
	return `{"profile_id":"p","token":"t","session_custom_claims":` +
		strings.Repeat(`{"a":`, levels) + `1` + strings.Repeat(`}`, levels) + `}`
}

// BenchmarkRESTNestedAttack: the attack through the whole REST handler
// (guard, decoding, error body); the scan refuses it before any decoding.
func BenchmarkRESTNestedAttack(b *testing.B) {
	h, _ := newHandler(b)
	body := attackBody()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if w := post(h, body); w.Code != 400 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkDecodeNestedAttack and BenchmarkDecodeNestedAttackJSONPb: the
// attack's decoding alone, now and before (grpc-gateway's JSONPb decoder).
func BenchmarkDecodeNestedAttack(b *testing.B) {
	benchmarkAttack(b, func(m *marshaler, r io.Reader) runtime.Decoder { return m.NewDecoder(r) })
}

// BenchmarkDecodeNestedAttackJSONPb is the reference for
// BenchmarkDecodeNestedAttack.
func BenchmarkDecodeNestedAttackJSONPb(b *testing.B) {
	benchmarkAttack(b, func(m *marshaler, r io.Reader) runtime.Decoder { return m.JSONPb.NewDecoder(r) })
}

// benchmarkAttack decodes the attack body; grpc-gateway's decoder accepts
// it (the claims' size rule refused it later, in the chain).
func benchmarkAttack(b *testing.B, newDecoder func(*marshaler, io.Reader) runtime.Decoder) {
	body := []byte(attackBody())
	m := &marshaler{}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = newDecoder(m, bytes.NewReader(body)).Decode(&b2bsessionv1.AttestRequest{})
	}
}

// BenchmarkDecodeTypicalBody and BenchmarkDecodeTypicalBodyJSONPb: a normal
// body's decoding, now and before.
func BenchmarkDecodeTypicalBody(b *testing.B) {
	benchmarkDecode(b, func(m *marshaler, r io.Reader) runtime.Decoder { return m.NewDecoder(r) })
}

// BenchmarkDecodeTypicalBodyJSONPb is the reference for
// BenchmarkDecodeTypicalBody.
func BenchmarkDecodeTypicalBodyJSONPb(b *testing.B) {
	benchmarkDecode(b, func(m *marshaler, r io.Reader) runtime.Decoder { return m.JSONPb.NewDecoder(r) })
}

func benchmarkDecode(b *testing.B, newDecoder func(*marshaler, io.Reader) runtime.Decoder) {
	body := []byte(`{"profile_id":"trusted-token-profile-test-1","token":"` + strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40) +
		`","session_duration_minutes":60,"session_custom_claims":{"roles":["admin","dev"],"team":{"id":"t-1","tier":3}}}`)
	m := &marshaler{}
	b.ReportAllocs()
	for b.Loop() {
		if err := newDecoder(m, bytes.NewReader(body)).Decode(&b2bsessionv1.AttestRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}
