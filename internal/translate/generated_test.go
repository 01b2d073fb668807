package translate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/gen/go/stytchjson"
	"github.com/attestd/attestd/internal/jsonlimit"
	"github.com/attestd/attestd/internal/stytchtest"

	"github.com/google/go-cmp/cmp"
)

// The generated decoder (gen/go/stytchjson) is held to protojson here: on
// any body it either refuses, or decodes the message protojson decodes with
// DiscardUnknown and reports the unknown keys the drift scan reports, in
// the same order.

// keys is a DriftReporter that remembers what it was told.
type keys []string

func (k *keys) UnknownKey(path string) { *k = append(*k, path) }

// agree checks the generated decoder's contract on one body decoded as an
// AttestResponse, and reports whether it took the body.
func agree(t testing.TB, body []byte) (generated bool) {
	t.Helper()
	return agreeAs(t, body, &b2bsessionv1.AttestResponse{})
}

// agreeAs checks the contract on one body decoded into messages of m's
// type: when the generated decoder decodes it, protojson with
// DiscardUnknown decodes the same message, the drift scan reports the same
// keys, and strict protojson decodes it exactly when there were none.
func agreeAs(t testing.TB, body []byte, m proto.Message) (generated bool) {
	t.Helper()
	var drift keys
	if (stytchjson.Options{MaxDepth: jsonlimit.MaxDepth, Drift: &drift}).Unmarshal(body, m) != nil {
		return false
	}
	ref := m.ProtoReflect().Type().New().Interface()
	if err := upstreamUnmarshalOptions.Unmarshal(body, ref); err != nil {
		t.Fatalf("generated decoder accepted what protojson refuses (%v): %.300q", err, body)
	}
	if !proto.Equal(m, ref) {
		t.Fatalf("generated decoder and protojson differ on %.300q:\n%s", body, cmp.Diff(ref, m, protocmp.Transform()))
	}
	var want keys
	reportDrift(body, ref, &want)
	if !slices.Equal(drift, want) {
		t.Fatalf("generated decoder reported drift %q, the drift scan %q, on %.300q", drift, want, body)
	}
	strict := RequestUnmarshalOptions.Unmarshal(body, ref.ProtoReflect().Type().New().Interface())
	if (strict == nil) != (len(drift) == 0) {
		t.Fatalf("strict protojson: %v, with drift %q, on %.300q", strict, drift, body)
	}
	return true
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

// TestGeneratedDecoderTakesNewKeys: an answer whose only novelty is keys the
// mirror lacks, anywhere and holding anything, is decoded in one pass with
// its drift; one with another problem besides is left to protojson.
func TestGeneratedDecoderTakesNewKeys(t *testing.T) {
	withNew := func(path []string, v any) []byte { return mutate(t, path, v) }
	cases := []struct {
		name      string
		body      []byte
		generated bool
	}{
		{"top-level key", withNew([]string{"brand_new"}, 1), true},
		{"nested key", withNew([]string{"member", "brand_new"}, "x"), true},
		{"key holding nulls and objects", withNew([]string{"member_session", "brand_new"}, []any{nil, map[string]any{"a": nil}}), true},
		{"key in a list element", []byte(`{"member":{"roles":[{"role_id":"r","sources":[{"type":"t","weight":1}]}]}}`), true},
		{"keys at every depth", []byte(`{"a":1,"member_session":{"b":2,"authentication_factors":[{"c":3,"email_factor":{"d":4}}]},"member":{"scim_registration":{"scim_attributes":{"e":5,"name":{"f":6},"emails":[{"g":7}],"enterprise_extension":{"manager":{"h":8}}}}},"organization":{"custom_roles":[{"permissions":[{"i":9}]}]},"member_device":{"ip_address_details":{"j":10}}}`), true},
		{"case-different key", []byte(`{"Member_Id":"a","member_id":"b"}`), true},
		{"escaped new key", []byte(`{"brand\u005fnew":1}`), true},
		{"new key and an offset timestamp", []byte(`{"brand_new":1,"member":{"created_at":"2024-01-02T03:04:05+02:00"}}`), false},
		{"new key and a duplicate", []byte(`{"brand_new":1,"member_id":"a","member_id":"b"}`), false},
		{"new key holding a duplicate", []byte(`{"brand_new":{"a":1,"a":2}}`), true},
		{"new key twice", []byte(`{"brand_new":1,"member":{},"brand_new":{}}`), true},
		{"extension syntax", []byte(`{"[stytch.ext]":1}`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := agree(t, tc.body); got != tc.generated {
				t.Errorf("generated decoder took it = %v, want %v", got, tc.generated)
			}
		})
	}
}

// TestDriftOnePass: the drift of a body the generated decoder takes is
// reported once, by path, through Unmarshal.
func TestDriftOnePass(t *testing.T) {
	body := []byte(`{"x":1,"member":{"roles":[{"sources":[{"weight":1},{"weight":2}]}],"trusted_metadata":{"free":1}},"y":null}`)
	var drift keys
	if err := Unmarshal(body, &b2bsessionv1.AttestResponse{}, &drift); err != nil {
		t.Fatal(err)
	}
	want := keys{"x", "member.roles[].sources[].weight", "member.roles[].sources[].weight", "y"}
	if !slices.Equal(drift, want) {
		t.Errorf("drift %q, want %q", drift, want)
	}
	agree(t, body)
}

func TestGeneratedDecoderTakesStytchsAnswers(t *testing.T) {
	errBody := stytchtest.Fixture("attest-error.json")
	for name, body := range map[string][]byte{"typical": stytchtest.Typical(), "full": stytchtest.Full()} {
		if !agree(t, body) {
			t.Errorf("%s: the generated decoder refused Stytch's own answer", name)
		}
	}
	if !agreeAs(t, errBody, &errorv1.StytchError{}) {
		t.Error("the generated decoder refused Stytch's error")
	}
}

// deep nests n objects under key k of a Struct: level 3 is the Struct.
func deep(n int) []byte {
	return []byte(`{"member":{"trusted_metadata":` + strings.Repeat(`{"k":`, n) + `1` + strings.Repeat(`}`, n) + `}}`)
}

// TestGeneratedDecoderEdges: bodies the generated decoder must either
// refuse or decode exactly as protojson; the table says which it does.
func TestGeneratedDecoderEdges(t *testing.T) {
	cases := []struct {
		name      string
		body      []byte
		generated bool
	}{
		{"null optional string", mutate(t, []string{"member", "mfa_phone_number"}, nil), true},
		{"empty optional string", mutate(t, []string{"member", "mfa_phone_number"}, ""), true},
		{"null message", mutate(t, []string{"member", "scim_registration"}, nil), true},
		{"empty message", mutate(t, []string{"member", "scim_registration"}, map[string]any{}), true},
		{"null timestamp", mutate(t, []string{"member", "created_at"}, nil), true},
		{"null struct", mutate(t, []string{"member", "trusted_metadata"}, nil), true},
		{"null scalar string", mutate(t, []string{"member", "name"}, nil), true},
		{"null bool", mutate(t, []string{"member", "is_admin"}, nil), true},
		{"null int32", mutate(t, []string{"status_code"}, nil), true},
		{"null list", mutate(t, []string{"member", "roles"}, nil), true},
		{"null string list", mutate(t, []string{"member_session", "roles"}, nil), true},
		{"empty lists", mutate(t, []string{"member", "roles"}, []any{}), true},
		{"empty struct", mutate(t, []string{"member", "trusted_metadata"}, map[string]any{}), true},
		{"struct with every JSON kind", mutate(t, []string{"member", "trusted_metadata"}, map[string]any{
			"s": "x", "n": 1.5, "big": 1e300, "b": true, "f": false, "z": nil, "l": []any{1, "a", nil, []any{}, false}, "o": map[string]any{"k": "v"}}), true},
		{"struct number beyond float64", []byte(`{"member":{"trusted_metadata":{"n":1e400}}}`), false},
		{"struct number below float64", []byte(`{"member":{"trusted_metadata":{"n":1e-400}}}`), true},
		{"struct with a duplicate key", []byte(`{"member":{"trusted_metadata":{"a":1,"a":2}}}`), false},
		{"struct nesting at the limit", deep(jsonlimit.MaxDepth - 2), true},
		{"struct nesting past the limit", deep(jsonlimit.MaxDepth - 1), false},
		{"struct nesting far past the limit", deep(5000), false},
		{"fractional seconds", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05.123456789Z"), true},
		{"one fraction digit", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05.1Z"), true},
		{"ten fraction digits", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05.1234567891Z"), false},
		{"empty fraction", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05.Z"), false},
		{"leap day", mutate(t, []string{"member", "created_at"}, "2024-02-29T00:00:00Z"), true},
		{"no leap day", mutate(t, []string{"member", "created_at"}, "2023-02-29T00:00:00Z"), false},
		{"century leap day", mutate(t, []string{"member", "created_at"}, "2000-02-29T00:00:00Z"), true},
		{"no century leap day", mutate(t, []string{"member", "created_at"}, "2100-02-29T00:00:00Z"), false},
		{"first timestamp", mutate(t, []string{"member", "created_at"}, "0001-01-01T00:00:00Z"), true},
		{"last timestamp", mutate(t, []string{"member", "created_at"}, "9999-12-31T23:59:59.999999999Z"), true},
		{"year zero", mutate(t, []string{"member", "created_at"}, "0000-12-31T23:59:59Z"), false},
		{"leap second", mutate(t, []string{"member", "created_at"}, "2016-12-31T23:59:60Z"), false},
		{"hour 24", mutate(t, []string{"member", "created_at"}, "2024-01-02T24:00:00Z"), false},
		{"timestamp with offset", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05+02:00"), false},
		{"timestamp lowercase z", mutate(t, []string{"member", "created_at"}, "2024-01-02T03:04:05z"), false},
		{"timestamp garbage", mutate(t, []string{"member", "created_at"}, "yesterday"), false},
		{"timestamp month 13", mutate(t, []string{"member", "created_at"}, "2024-13-02T03:04:05Z"), false},
		{"timestamp as number", mutate(t, []string{"member", "created_at"}, 1700000000), false},
		{"timestamp escaped", []byte(`{"member":{"created_at":"2024-01-02T03:04:05\u005a"}}`), false},
		{"status_code as string", mutate(t, []string{"status_code"}, "200"), false},
		{"status_code float", mutate(t, []string{"status_code"}, 200.5), false},
		{"status_code exponent", []byte(`{"status_code":2e2}`), false},
		{"status_code negative zero", []byte(`{"status_code":-0}`), true},
		{"status_code int32 bounds", []byte(`{"status_code":-2147483648}`), true},
		{"status_code int32 max", []byte(`{"status_code":2147483647}`), true},
		{"status_code overflow", []byte(`{"status_code":2147483648}`), false},
		{"status_code far overflow", mutate(t, []string{"status_code"}, 1e12), false},
		{"null in a string list", mutate(t, []string{"member_session", "roles"}, []any{"a", nil}), false},
		{"null in a message list", mutate(t, []string{"member", "roles"}, []any{nil}), false},
		{"number in a string list", mutate(t, []string{"member_session", "roles"}, []any{1}), false},
		{"string list as object", mutate(t, []string{"member_session", "roles"}, map[string]any{}), false},
		{"message list as object", mutate(t, []string{"member", "roles"}, map[string]any{}), false},
		{"message as string", mutate(t, []string{"member"}, "x"), false},
		{"message as list", mutate(t, []string{"member"}, []any{}), false},
		{"struct as list", mutate(t, []string{"member", "trusted_metadata"}, []any{}), false},
		{"bool as string", mutate(t, []string{"member", "is_admin"}, "true"), false},
		{"string as number", mutate(t, []string{"member", "name"}, 1), false},
		{"top-level null", []byte("null"), false},
		{"top-level list", []byte("[]"), false},
		{"empty body", nil, false},
		{"empty object", []byte("{}"), true},
		{"whitespace around", []byte(" \t\r\n{ \"member_id\" : \"a\" }\n "), true},
		{"two values", []byte("{} {}"), false},
		{"trailing garbage", append(stytchtest.Typical(), []byte(" x")...), false},
		{"truncated", stytchtest.Typical()[:100], false},
		{"duplicate key", []byte(`{"member_id":"a","member_id":"b"}`), false},
		{"duplicate key, one escaped", []byte(`{"member_id":"a","member\u005fid":"b"}`), false},
		{"duplicate null key", []byte(`{"member_id":null,"member_id":"b"}`), false},
		{"escaped key", []byte(`{"member\u005fid":"a","memb\u0065r":{"is_admin":true}}`), true},
		{"invalid UTF-8", []byte("{\"member_id\":\"\xff\"}"), false},
		{"invalid UTF-8 in a new key", []byte("{\"\xff\":1}"), false},
		{"escaped unicode", []byte(`{"member_id":"\u00e9\ud83d\ude00 \"q\" \\ \/ \n"}`), true},
		{"lone surrogate", []byte(`{"member_id":"\ud800"}`), false},
		{"case-different key", []byte(`{"Member_Id":"a"}`), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := agree(t, tc.body); got != tc.generated {
				t.Errorf("generated decoder took it = %v, want %v", got, tc.generated)
			}
		})
	}
}

// TestGeneratedDecoderOtherMessages: the request and the error, whose
// field kinds the answer lacks (optional int32).
func TestGeneratedDecoderOtherMessages(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		m         proto.Message
		generated bool
	}{
		{"request", `{"profile_id":"p","token":"t","organization_id":"","session_duration_minutes":60,"session_custom_claims":{"a":[1]},"telemetry_id":null}`, &b2bsessionv1.AttestRequest{}, true},
		{"request, zero minutes", `{"session_duration_minutes":0}`, &b2bsessionv1.AttestRequest{}, true},
		{"request, null minutes", `{"session_duration_minutes":null}`, &b2bsessionv1.AttestRequest{}, true},
		{"request, fractional minutes", `{"session_duration_minutes":1.5}`, &b2bsessionv1.AttestRequest{}, false},
		{"request, quoted minutes", `{"session_duration_minutes":"5"}`, &b2bsessionv1.AttestRequest{}, false},
		{"error", `{"status_code":400,"error_type":"x","error_details":{"a":null},"extra":[]}`, &errorv1.StytchError{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := agreeAs(t, []byte(tc.body), tc.m); got != tc.generated {
				t.Errorf("generated decoder took it = %v, want %v", got, tc.generated)
			}
		})
	}
}

// TestEveryMessageIsGenerated: each message of the Stytch mirror decodes
// through the generated decoder, so none silently falls back to protojson
// (make gen-check keeps the decoder in step with proto/; the generator
// fails on a field kind it does not know).
func TestEveryMessageIsGenerated(t *testing.T) {
	n := 0
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if !strings.HasPrefix(string(mt.Descriptor().FullName()), "stytch.") {
			return true
		}
		n++
		if err := (stytchjson.Options{}).Unmarshal([]byte(`{}`), mt.New().Interface()); err != nil {
			t.Errorf("%s: %v", mt.Descriptor().FullName(), err)
		}
		return true
	})
	if n < 37 {
		t.Errorf("only %d messages checked; are the stytch packages linked in?", n)
	}
}

// FuzzFastPathAgreesWithProtojson: on any body, the generated decoder
// either refuses or decodes exactly what protojson decodes, with the same
// drift, as each of the messages Stytch's bodies decode into.
func FuzzFastPathAgreesWithProtojson(f *testing.F) {
	f.Add(stytchtest.Typical())
	f.Add(mutate(f, []string{"member", "brand_new"}, map[string]any{"a": []any{nil, 1}}))
	f.Add([]byte(`{"member":{"trusted_metadata":{"a":[1,null,"x",{"b":true}],"c":1e-7,"d":-0.0},"roles":[{"role_id":"r","sources":[{"type":"t","details":{},"weight":1}]}]}}`))
	f.Add([]byte(`{"member_session":{"started_at":"2024-01-02T03:04:05.5Z","roles":["a"],"authentication_factors":[{"email_factor":{"email_id":"e","x":1}}]},"status_code":200}`))
	f.Add([]byte(`{"member_device":{"visitor_id":"v","ip_address":null},"member":{"mfa_phone_number":"","is_admin":false,"scim_registration":{}}}`))
	f.Add([]byte(`{"member\u005fid":"a","Member_Id":"b","\u0062rand":{"x":[]},"[ext]":1}`))
	f.Add([]byte(`{"member_id":"a","member_id":"b"}`))
	f.Add([]byte(`{"status_code":-2147483648,"member":{"created_at":"2024-02-29T23:59:59.123456789Z","updated_at":"0001-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"profile_id":"p","token":"t","session_duration_minutes":5,"session_custom_claims":{"k":"v"},"session_jwt":null}`))
	f.Add([]byte(`{"status_code":429,"error_type":"too_many_requests","error_details":null}`))
	f.Add(deep(jsonlimit.MaxDepth - 2))
	f.Add(deep(jsonlimit.MaxDepth))
	f.Add([]byte(strings.Repeat(`{"member":`, 3)))
	addScannerSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		agree(t, body)
		agreeAs(t, body, &b2bsessionv1.AttestRequest{})
		agreeAs(t, body, &errorv1.StytchError{})
	})
}

// TestDecodedStringsOutliveTheBody: the upstream client reuses the buffer
// an answer was read into once it is decoded, so nothing decoded may share
// its bytes: overwriting the body leaves the message as it was.
func TestDecodedStringsOutliveTheBody(t *testing.T) {
	body := slices.Clone(stytchtest.Full())
	got := &b2bsessionv1.AttestResponse{}
	if err := Unmarshal(body, got, nil); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(got)
	for i := range body {
		body[i] = 'X'
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("the decoded message changed with the body (-before +after):\n%s", diff)
	}
}
