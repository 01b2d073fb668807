package translate

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/service/stytchtest"

	"github.com/google/go-cmp/cmp"
)

// agree checks the fast paths' contract on one body: when the strict one
// decodes, the reference decoder (protojson, strict) decodes the same
// message; when the lenient one does, protojson with DiscardUnknown does.
func agree(t testing.TB, body []byte) (fastOK bool) {
	t.Helper()
	agreeLenient(t, body)
	fast, ref := &b2bsessionv1.AttestResponse{}, &b2bsessionv1.AttestResponse{}
	fastErr := fastUnmarshal(body, fast)
	refErr := RequestUnmarshalOptions.Unmarshal(body, ref)
	if fastErr != nil {
		return false
	}
	if refErr != nil {
		t.Fatalf("fast path accepted what protojson refuses (%v): %.300q", refErr, body)
	}
	if !proto.Equal(fast, ref) {
		t.Fatalf("fast path and protojson differ on %.300q:\n%s", body, cmp.Diff(ref, fast, protocmp.Transform()))
	}
	return true
}

// agreeLenient checks the lenient fast path against protojson's lenient
// decoding, and reports whether it decoded.
func agreeLenient(t testing.TB, body []byte) (fastOK bool) {
	t.Helper()
	fast, ref := &b2bsessionv1.AttestResponse{}, &b2bsessionv1.AttestResponse{}
	if fastUnmarshalLenient(body, fast) != nil {
		return false
	}
	if err := upstreamUnmarshalOptions.Unmarshal(body, ref); err != nil {
		t.Fatalf("lenient fast path accepted what protojson refuses (%v): %.300q", err, body)
	}
	if !proto.Equal(fast, ref) {
		t.Fatalf("lenient fast path and protojson differ on %.300q:\n%s", body, cmp.Diff(ref, fast, protocmp.Transform()))
	}
	return true
}

// TestLenientFastPathTakesNewKeys: an answer whose only novelty is keys the
// mirror lacks, anywhere and holding anything, takes the lenient fast path;
// one with another problem besides does not.
func TestLenientFastPathTakesNewKeys(t *testing.T) {
	withNew := func(path []string, v any) []byte { return mutate(t, path, v) }
	cases := []struct {
		name    string
		body    []byte
		lenient bool
	}{
		{"top-level key", withNew([]string{"brand_new"}, 1), true},
		{"nested key", withNew([]string{"member", "brand_new"}, "x"), true},
		{"key holding nulls and objects", withNew([]string{"member_session", "brand_new"}, []any{nil, map[string]any{"a": nil}}), true},
		{"case-different key", []byte(`{"Member_Id":"a","member_id":"b"}`), true},
		{"new key and an offset timestamp", []byte(`{"brand_new":1,"member":{"created_at":"2024-01-02T03:04:05+02:00"}}`), false},
		{"new key and a duplicate", []byte(`{"brand_new":1,"member_id":"a","member_id":"b"}`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := agreeLenient(t, tc.body); got != tc.lenient {
				t.Errorf("lenient fast path taken = %v, want %v", got, tc.lenient)
			}
		})
	}
}

// mutate returns the typical fixture with one key's value replaced.
func mutate(t testing.TB, path []string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(stytchtest.Typical(), &m); err != nil {
		t.Fatal(err)
	}
	cur := m
	for _, k := range path[:len(path)-1] {
		cur = cur[k].(map[string]any)
	}
	cur[path[len(path)-1]] = v
	b, _ := json.Marshal(m)
	return b
}

func TestFastPathTakesStytchsAnswers(t *testing.T) {
	full, err := os.ReadFile("../stytchtest/testdata/attest-response-full.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"typical": stytchtest.Typical(), "full": full} {
		if !agree(t, body) {
			t.Errorf("%s: the fast path refused Stytch's own answer", name)
		}
	}
}

// TestFastPathEdges: bodies the fast path must either refuse or decode
// exactly as protojson; the comment says which it does.
func TestFastPathEdges(t *testing.T) {
	cases := []struct {
		name string
		body []byte
		fast bool // taken by the fast path
	}{
		{"null optional string", mutate(t, []string{"member", "mfa_phone_number"}, nil), true},
		{"null message", mutate(t, []string{"member", "scim_registration"}, nil), true},
		{"null timestamp", mutate(t, []string{"member", "created_at"}, nil), true},
		{"null struct", mutate(t, []string{"member", "trusted_metadata"}, nil), true},
		{"null scalar string", mutate(t, []string{"member", "name"}, nil), true},
		{"null list", mutate(t, []string{"member", "roles"}, nil), true},
		{"empty struct", mutate(t, []string{"member", "trusted_metadata"}, map[string]any{}), true},
		{"struct with every JSON kind", mutate(t, []string{"member", "trusted_metadata"}, map[string]any{
			"s": "x", "n": 1.5, "big": 1e300, "b": true, "z": nil, "l": []any{1, "a", nil, []any{}}, "o": map[string]any{"k": "v"}}), true},
		{"fractional seconds", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05.123456789Z"), true},
		{"timestamp with offset", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05+02:00"), false},
		{"timestamp lowercase z", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05z"), false},
		{"timestamp garbage", mutate(t, []string{"member", "created_at"}, "yesterday"), false},
		{"timestamp month 13", mutate(t, []string{"member", "created_at"}, "2024-13-02T03:04:05Z"), false},
		{"timestamp as number", mutate(t, []string{"member", "created_at"}, 1700000000), false},
		{"status_code as string", mutate(t, []string{"status_code"}, "200"), false},
		{"status_code float", mutate(t, []string{"status_code"}, 200.5), false},
		{"status_code overflow", mutate(t, []string{"status_code"}, 1e12), false},
		{"unknown key", mutate(t, []string{"brand_new"}, 1), false},
		{"unknown nested key", mutate(t, []string{"member", "brand_new"}, 1), false},
		{"null in a string list", mutate(t, []string{"member_session", "roles"}, []any{"a", nil}), false},
		{"null in a message list", mutate(t, []string{"member", "roles"}, []any{nil}), false},
		{"number in a string list", mutate(t, []string{"member_session", "roles"}, []any{1}), false},
		{"message as string", mutate(t, []string{"member"}, "x"), false},
		{"struct as list", mutate(t, []string{"member", "trusted_metadata"}, []any{}), false},
		{"bool as string", mutate(t, []string{"member", "is_admin"}, "true"), false},
		{"top-level null", []byte("null"), false},
		{"top-level list", []byte("[]"), false},
		{"empty object", []byte("{}"), true},
		{"trailing garbage", append(stytchtest.Typical(), []byte(" x")...), false},
		{"duplicate key", []byte(`{"member_id":"a","member_id":"b"}`), false},
		{"invalid UTF-8", []byte("{\"member_id\":\"\xff\"}"), false},
		{"escaped unicode", []byte(`{"member_id":"\u00e9\ud83d\ude00"}`), true},
		{"lone surrogate", []byte(`{"member_id":"\ud800"}`), false},
		{"case-different key", []byte(`{"Member_Id":"a"}`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := agree(t, tc.body); got != tc.fast {
				t.Errorf("fast path taken = %v, want %v", got, tc.fast)
			}
		})
	}
}

// FuzzFastPathAgreesWithProtojson: on any body, the fast path either
// refuses or decodes exactly what protojson decodes.
func FuzzFastPathAgreesWithProtojson(f *testing.F) {
	f.Add(stytchtest.Typical())
	f.Add([]byte(`{"member":{"trusted_metadata":{"a":[1,null,"x",{"b":true}]},"roles":[{"role_id":"r","sources":[]}]}}`))
	f.Add([]byte(`{"member_session":{"started_at":"2024-01-02T03:04:05.5Z","roles":["a"]},"status_code":200}`))
	f.Add([]byte(`{"member_device":{"visitor_id":"v","ip_address":null}}`))
	f.Add([]byte(strings.Repeat(`{"member":`, 3)))
	f.Fuzz(func(t *testing.T, body []byte) {
		agree(t, body)
	})
}

func BenchmarkDecodeProtojson(b *testing.B) {
	body := stytchtest.Typical()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := RequestUnmarshalOptions.Unmarshal(body, &b2bsessionv1.AttestResponse{}); err != nil {
			b.Fatal(err)
		}
	}
}

// sameJSON checks the fast encoder against protojson on one message: the
// same parsed JSON, or both failing.
func sameJSON(t testing.TB, m proto.Message) {
	t.Helper()
	fast, fastErr := fastMarshal(m)
	ref, refErr := MarshalOptions.Marshal(m)
	if refErr != nil {
		if fastErr == nil {
			t.Fatalf("fast encoder succeeded where protojson fails (%v): %s", refErr, fast)
		}
		return
	}
	if fastErr != nil {
		t.Fatalf("fast encoder failed (%v) where protojson succeeds", fastErr)
	}
	var a, b any
	if err := json.Unmarshal(fast, &a); err != nil {
		t.Fatalf("fast encoder wrote invalid JSON: %v\n%s", err, fast)
	}
	_ = json.Unmarshal(ref, &b)
	if d := cmp.Diff(b, a); d != "" {
		t.Fatalf("fast encoder and protojson differ (-protojson +fast):\n%s", d)
	}
}

func TestFastEncoderMatchesProtojson(t *testing.T) {
	full, err := os.ReadFile("../stytchtest/testdata/attest-response-full.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"typical": stytchtest.Typical(), "full": full} {
		m := &b2bsessionv1.AttestResponse{}
		if err := RequestUnmarshalOptions.Unmarshal(body, m); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { sameJSON(t, m) })
	}
	t.Run("empty", func(t *testing.T) { sameJSON(t, &b2bsessionv1.AttestResponse{}) })
	t.Run("request", func(t *testing.T) {
		m := &b2bsessionv1.AttestRequest{}
		_ = RequestUnmarshalOptions.Unmarshal([]byte(`{"profile_id":"p","token":"t","session_duration_minutes":60,"session_custom_claims":{"a":[1,"x",null,{"b":false}]}}`), m)
		sameJSON(t, m)
	})
	for _, ts := range []string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.000000001Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"} {
		t.Run("timestamp "+ts, func(t *testing.T) {
			sameJSON(t, fromJSON(t, `{"member":{"created_at":"`+ts+`"}}`))
		})
	}
}

func fromJSON(t testing.TB, s string) *b2bsessionv1.AttestResponse {
	t.Helper()
	m := &b2bsessionv1.AttestResponse{}
	if err := RequestUnmarshalOptions.Unmarshal([]byte(s), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzFastEncoderAgreesWithProtojson: random messages (any bytes that
// decode as a binary AttestResponse) render to the same JSON, or fail in
// both encoders (a NaN in a Struct, a timestamp out of range).
func FuzzFastEncoderAgreesWithProtojson(f *testing.F) {
	seed, _ := proto.Marshal(fromJSON(f, string(stytchtest.Typical())))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &b2bsessionv1.AttestResponse{}
		if proto.Unmarshal(b, m) != nil {
			return
		}
		sameJSON(t, m)
	})
}

func BenchmarkEncodeProtojson(b *testing.B) {
	m := &b2bsessionv1.AttestResponse{}
	if err := RequestUnmarshalOptions.Unmarshal(stytchtest.Typical(), m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalOptions.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
