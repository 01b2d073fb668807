package translate_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/translate"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// recorder is a DriftReporter that remembers what it was told.
type recorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *recorder) UnknownKey(path string) {
	r.mu.Lock()
	r.keys = append(r.keys, path)
	r.mu.Unlock()
}

func decode(t *testing.T, body []byte) (*b2bsessionv1.AttestResponse, []string) {
	t.Helper()
	var r recorder
	m := &b2bsessionv1.AttestResponse{}
	if err := translate.Unmarshal(body, m, &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m, r.keys
}

func encode(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := translate.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenRoundTrip: upstream JSON → protobuf (checked field by field
// against a golden text proto) → REST JSON equal to the upstream JSON.
func TestGoldenRoundTrip(t *testing.T) {
	for _, name := range []string{"attest-response-full.json", "attest-response-typical.json"} {
		t.Run(name, func(t *testing.T) {
			upstream := stytchtest.Fixture(name)
			got, drift := decode(t, upstream)
			if len(drift) != 0 {
				t.Errorf("the fixture has keys the mirror lacks: %v", drift)
			}

			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".json")+".golden.txtpb")
			if *update {
				b, _ := prototext.MarshalOptions{Multiline: true}.Marshal(got)
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want := &b2bsessionv1.AttestResponse{}
			if err := prototext.Unmarshal(b, want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("decoded message differs from %s:\n%s", golden, diffText(got, want))
			}

			if rest := encode(t, got); !stytchtest.JSONEqual(t, rest, upstream) {
				t.Errorf("REST JSON differs from Stytch's:\n%s", rest)
			}
		})
	}
}

func diffText(got, want proto.Message) string {
	g := strings.Split(prototext.MarshalOptions{Multiline: true}.Format(got), "\n")
	w := strings.Split(prototext.MarshalOptions{Multiline: true}.Format(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("first difference at line %d:\n got: %s\nwant: %s", i+1, g[i], w[i])
		}
	}
	return "lengths differ"
}

// TestFieldChecks spot-checks values at every depth of the full fixture, as a
// gRPC client in another language would read them.
func TestFieldChecks(t *testing.T) {
	m, _ := decode(t, stytchtest.Full())
	ms := m.GetMemberSession()
	scim := m.GetMember().GetScimRegistration().GetScimAttributes()
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"status_code", m.GetStatusCode(), int32(200)},
		{"member_session.started_at", ms.GetStartedAt().AsTime(), time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)},
		{"factor count", len(ms.GetAuthenticationFactors()), 42},
		{"member.mfa_phone_number", m.GetMember().GetMfaPhoneNumber(), "+15555550123"},
		{"member.is_breakglass present", m.GetMember().GetIsBreakglass(), false},
		{"scim manager", scim.GetEnterpriseExtension().GetManager().GetDisplayName(), "Charles Babbage"},
		{"scim x509", scim.GetX509Certificates()[0].GetValue(), "MIIBtestcertificateonlyZmFrZQ=="},
		{"org allowed_oauth_tenants", m.GetOrganization().GetAllowedOauthTenants().GetFields()["slack"].GetListValue().GetValues()[0].GetStringValue(), "T0TESTACME"},
		{"org third party apps empty", len(m.GetOrganization().GetAllowedThirdPartyConnectedApps()), 0},
		{"device country", m.GetMemberDevice().GetIpGeoCountry(), "GB"},
		{"member trusted_metadata number", m.GetMember().GetTrustedMetadata().GetFields()["seats"].GetStructValue().GetFields()["used"].GetNumberValue(), float64(19)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	var trusted int
	for _, f := range ms.GetAuthenticationFactors() {
		if f.GetTrustedAuthTokenFactor() != nil {
			trusted++
			if f.GetType() != "trusted_auth_token" || f.GetDeliveryMethod() != "trusted_token_exchange" {
				t.Errorf("trusted factor pairing %s/%s", f.GetType(), f.GetDeliveryMethod())
			}
		}
	}
	if trusted != 1 {
		t.Errorf("trusted_auth_token factors: %d", trusted)
	}
}

// edit parses the typical fixture, applies f, and re-renders it.
func edit(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(stytchtest.Typical(), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, _ := json.Marshal(m)
	return b
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// dropNulls is what a null becomes on the way through protobuf: absent.
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x != nil {
				out[k] = dropNulls(x)
			}
		}
		return out
	case []any:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return v
}

func TestEdgeCases(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		// want is the REST JSON expected, as parsed values; nil means "equal
		// to the input with nulls dropped".
		want  func(t *testing.T, in map[string]any) map[string]any
		drift []string
		check func(t *testing.T, m *b2bsessionv1.AttestResponse)
	}{
		{
			name: "explicit nulls for optional fields",
			in: edit(t, func(m map[string]any) {
				obj(m, "member")["mfa_phone_number"] = nil
				obj(m, "member")["trusted_metadata"] = nil
				obj(m, "member")["external_id"] = nil
				obj(m, "member")["scim_registration"] = nil
				obj(m, "member_session")["custom_claims"] = nil
				obj(m, "organization")["sso_default_connection_id"] = nil
				obj(m, "organization")["scim_active_connection"] = nil
				obj(m, "organization")["created_at"] = nil
				m["member_device"] = nil
			}),
			check: func(t *testing.T, m *b2bsessionv1.AttestResponse) {
				if m.GetMember().MfaPhoneNumber != nil || m.GetMemberDevice() != nil || m.GetMemberSession().GetCustomClaims() != nil ||
					m.GetOrganization().SsoDefaultConnectionId != nil || m.GetOrganization().GetCreatedAt() != nil {
					t.Error("a null optional field was decoded as present")
				}
			},
		},
		{
			name: "missing optional fields stay absent, empty always-present fields stay present",
			in: edit(t, func(m map[string]any) {
				delete(obj(m, "member"), "created_at")
				delete(obj(m, "member"), "untrusted_metadata")
				delete(obj(m, "organization"), "allowed_oauth_tenants")
				obj(m, "organization")["organization_logo_url"] = ""
				obj(m, "organization")["email_allowed_domains"] = []any{}
				obj(m, "member")["is_admin"] = false
				obj(m, "member")["mfa_phone_number"] = ""
			}),
			check: func(t *testing.T, m *b2bsessionv1.AttestResponse) {
				if m.GetMember().MfaPhoneNumber == nil {
					t.Error(`mfa_phone_number "" must stay present`)
				}
			},
		},
		{
			name: "unknown keys are ignored and reported by path",
			in: edit(t, func(m map[string]any) {
				m["brand_new"] = map[string]any{"nested": true}
				obj(m, "member")["pronouns"] = "she/her"
				f := obj(m, "member_session")["authentication_factors"].([]any)[0].(map[string]any)
				f["sequence_order"] = "PRIMARY"
				obj(m, "member", "trusted_metadata")["not_drift"] = 1 // free-form: fine
			}),
			want: func(t *testing.T, in map[string]any) map[string]any {
				delete(in, "brand_new")
				delete(obj(in, "member"), "pronouns")
				delete(obj(in, "member_session")["authentication_factors"].([]any)[0].(map[string]any), "sequence_order")
				return in
			},
			drift: []string{"brand_new", "member_session.authentication_factors[].sequence_order", "member.pronouns"},
		},
		{
			name: "fractional-second timestamps keep their precision",
			in: edit(t, func(m map[string]any) {
				obj(m, "member_session")["started_at"] = "2026-03-14T09:26:53.123456Z"
				obj(m, "member_session")["expires_at"] = "2026-03-14T10:26:53.5Z"
			}),
			want: func(t *testing.T, in map[string]any) map[string]any {
				// protojson renders 3, 6 or 9 fraction digits.
				obj(in, "member_session")["expires_at"] = "2026-03-14T10:26:53.500Z"
				return in
			},
			check: func(t *testing.T, m *b2bsessionv1.AttestResponse) {
				if n := m.GetMemberSession().GetStartedAt().GetNanos(); n != 123456000 {
					t.Errorf("nanos %d", n)
				}
			},
		},
		{
			name: "unicode in strings and keys",
			in: edit(t, func(m map[string]any) {
				obj(m, "member")["name"] = "Zoë 李 \u202e 🎉 \"quoted\" \\ back"
				obj(m, "organization")["organization_name"] = "Åcme ŞİRKET"
				obj(m, "member", "trusted_metadata")["ключ"] = "значение"
			}),
		},
		{
			name: "numbers inside Struct",
			in: edit(t, func(m map[string]any) {
				obj(m, "member_session")["custom_claims"] = map[string]any{
					"int": 2, "neg": -7, "float": 1.5, "big": 9007199254740991.0, "tiny": 1e-7,
					"zero": 0, "list": []any{1, "a", true, nil, map[string]any{}}, "null": nil,
				}
			}),
			want: func(t *testing.T, in map[string]any) map[string]any { return in }, // a null inside a Struct is a value and stays
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, drift := decode(t, tc.in)
			slices.Sort(drift)
			slices.Sort(tc.drift)
			if !reflect.DeepEqual(drift, tc.drift) {
				t.Errorf("drift %v, want %v", drift, tc.drift)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
			in := stytchtest.Parse(t, tc.in).(map[string]any)
			var want any
			if tc.want != nil {
				want = tc.want(t, in)
			} else {
				want = dropNulls(in)
			}
			if got := stytchtest.Parse(t, encode(t, m)); !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				t.Errorf("REST JSON differs:\n%s", gb)
			}
		})
	}
}

// TestRepeatedUnknownKeys: protojson lets a key the mirror lacks repeat;
// each is reported, and so is drift after it.
func TestRepeatedUnknownKeys(t *testing.T) {
	_, drift := decode(t, []byte(`{"x":1,"x":{"a":1,"a":2},"member":{"y":1}}`))
	if want := []string{"x", "x", "member.y"}; !slices.Equal(drift, want) {
		t.Errorf("drift %q, want %q", drift, want)
	}
}

func TestBadUpstreamJSON(t *testing.T) {
	full := stytchtest.Full()
	cases := map[string][]byte{
		"empty":             nil,
		"truncated":         full[:len(full)/2],
		"not JSON":          []byte("<html>502 Bad Gateway</html>"),
		"array":             []byte(`[]`),
		"status_code text":  []byte(`{"status_code":"abc"}`),
		"member as array":   []byte(`{"member":[]}`),
		"bad timestamp":     []byte(`{"member_session":{"started_at":"yesterday"}}`),
		"null in list":      []byte(`{"member_session":{"authentication_factors":[null]}}`),
		"trailing garbage":  append(append([]byte{}, full...), []byte("}")...),
		"int32 overflow":    []byte(`{"status_code":4294967296}`),
		"fractional int32":  []byte(`{"status_code":200.5}`),
		"bool as string":    []byte(`{"member":{"is_admin":"false"}}`),
		"duplicate key":     []byte(`{"member_id":"a","member_id":"b"}`),
		"invalid utf8":      []byte("{\"member_id\":\"\xff\"}"),
		"deep nesting":      []byte(strings.Repeat(`{"member":`, 2000)),
		"string for object": []byte(`{"organization":"acme"}`),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if err := translate.Unmarshal(body, &b2bsessionv1.AttestResponse{}, &recorder{}); err == nil {
				t.Error("bad upstream JSON decoded without error")
			}
		})
	}
}

// TestJSONNamesAreStytchKeys pins the JSON contract in the schema: every
// field of every attestd message has json_name equal to its snake_case name.
func TestJSONNamesAreStytchKeys(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "stytch.") {
			return true
		}
		var walk func(protoreflect.MessageDescriptors)
		walk = func(ms protoreflect.MessageDescriptors) {
			for i := range ms.Len() {
				md := ms.Get(i)
				for j := range md.Fields().Len() {
					f := md.Fields().Get(j)
					n++
					if f.JSONName() != string(f.Name()) {
						t.Errorf("%s: json_name %q", f.FullName(), f.JSONName())
					}
				}
				walk(md.Messages())
			}
		}
		walk(fd.Messages())
		return true
	})
	if n < 250 {
		t.Errorf("only %d fields checked; are the stytch packages linked in?", n)
	}
}

func BenchmarkDecodeTypical(b *testing.B) {
	body := stytchtest.Typical()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := translate.Unmarshal(body, &b2bsessionv1.AttestResponse{}, &recorder{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeWithDrift is the cost while Stytch sends a key the mirror
// lacks: the same one pass, which skips the key and reports it.
func BenchmarkDecodeWithDrift(b *testing.B) {
	var m map[string]any
	_ = json.Unmarshal(stytchtest.Typical(), &m)
	m["brand_new_key"] = true
	body, _ := json.Marshal(m)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := translate.Unmarshal(body, &b2bsessionv1.AttestResponse{}, &recorder{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTypical(b *testing.B) {
	m := &b2bsessionv1.AttestResponse{}
	if err := translate.Unmarshal(stytchtest.Typical(), m, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := translate.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
