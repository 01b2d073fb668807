package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/attestd/attestd/emulator/wire/wiretest"
)

var fixtures = []string{"attest-response-full.json", "attest-response-typical.json"}

// loadFixture returns a wiretest fixture parsed into generic JSON values.
func loadFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := wiretest.Fixtures.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// decodeStrict encodes v and decodes it into dst, rejecting unknown keys.
func decodeStrict(t *testing.T, v, dst any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("strict decode into %T: %v", dst, err)
	}
}

// asJSON marshals v and parses the result back into generic JSON values.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// trustedOnly returns a shallow copy of a member_session object whose
// authentication_factors keep only trusted-auth-token factors (the only
// sub-factor AuthenticationFactor models).
func trustedOnly(t *testing.T, session any) map[string]any {
	t.Helper()
	s, ok := session.(map[string]any)
	if !ok {
		t.Fatalf("member_session is %T", session)
	}
	out := make(map[string]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	factors := []any{}
	for _, f := range s["authentication_factors"].([]any) {
		if _, ok := f.(map[string]any)["trusted_auth_token_factor"]; ok {
			factors = append(factors, f)
		}
	}
	if len(factors) == 0 {
		t.Fatal("fixture has no trusted_auth_token factor")
	}
	out["authentication_factors"] = factors
	return out
}

func TestFixtureRoundTrip(t *testing.T) {
	type normalizer interface{ Normalize() }
	parts := []struct {
		name string
		pick func(t *testing.T, doc map[string]any) any
		dst  func() normalizer
	}{
		{"member", func(_ *testing.T, d map[string]any) any { return d["member"] }, func() normalizer { return new(Member) }},
		{"organization", func(_ *testing.T, d map[string]any) any { return d["organization"] }, func() normalizer { return new(Organization) }},
		{"member_session", func(t *testing.T, d map[string]any) any { return trustedOnly(t, d["member_session"]) }, func() normalizer { return new(MemberSession) }},
		{"response", func(t *testing.T, d map[string]any) any {
			r := make(map[string]any, len(d))
			for k, v := range d {
				r[k] = v
			}
			delete(r, "member_device") // not modelled: the emulator never sends it
			r["member_session"] = trustedOnly(t, d["member_session"])
			return r
		}, func() normalizer { return new(AttestResponse) }},
	}
	for _, file := range fixtures {
		for _, p := range parts {
			t.Run(strings.TrimSuffix(file, ".json")+"/"+p.name, func(t *testing.T) {
				want := p.pick(t, loadFixture(t, file))
				dst := p.dst()
				decodeStrict(t, want, dst)
				dst.Normalize() // must not disturb fully populated values
				if got := asJSON(t, dst); !reflect.DeepEqual(got, want) {
					t.Errorf("round trip mismatch\n got: %v\nwant: %v", got, want)
				}
			})
		}
	}
}

func TestErrorRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"status_code":400,"request_id":"request-id-test-1","error_type":"invalid_trusted_auth_token","error_message":"m","error_url":"https://stytch.com/docs/api-reference/b2b/api/errors/400#invalid_trusted_auth_token"}`,
		`{"status_code":401,"request_id":"","error_type":"","error_message":"","error_url":"","error_details":{}}`,
		`{"status_code":429,"request_id":"r","error_type":"t","error_message":"m","error_url":"u","error_details":{"retry":[1,"a",null]}}`,
	} {
		var want any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		var e Error
		decodeStrict(t, want, &e)
		if got := asJSON(t, e); !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

// nulls returns the paths of all JSON nulls within v.
func nulls(path string, v any) []string {
	switch v := v.(type) {
	case nil:
		return []string{path}
	case map[string]any:
		var out []string
		for k, e := range v {
			out = append(out, nulls(path+"."+k, e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, nulls(path+"[]", e)...)
		}
		return out
	}
	return nil
}

func TestZeroValueKeys(t *testing.T) {
	member, org, session := &Member{}, &Organization{}, &MemberSession{}
	member.Normalize()
	org.Normalize()
	session.Normalize()
	tests := []struct {
		name string
		v    any
		keys []string
	}{
		{"Member", member, []string{
			"organization_id", "member_id", "email_address", "status", "name", "sso_registrations",
			"is_breakglass", "member_password_id", "oauth_registrations", "email_address_verified",
			"mfa_phone_number_verified", "is_admin", "totp_registration_id", "retired_email_addresses",
			"is_locked", "mfa_enrolled", "mfa_phone_number", "default_mfa_method", "roles",
		}},
		{"Organization", org, []string{
			"organization_id", "organization_name", "organization_logo_url", "organization_slug",
			"sso_jit_provisioning", "sso_jit_provisioning_allowed_connections", "sso_active_connections",
			"email_allowed_domains", "email_jit_provisioning", "email_invites", "auth_methods",
			"allowed_auth_methods", "mfa_policy", "rbac_email_implicit_role_assignments", "mfa_methods",
			"allowed_mfa_methods", "oauth_tenant_jit_provisioning", "claimed_email_domains",
			"first_party_connected_apps_allowed_type", "allowed_first_party_connected_apps",
			"third_party_connected_apps_allowed_type", "allowed_third_party_connected_apps", "custom_roles",
		}},
		{"MemberSession", session, []string{
			"member_session_id", "member_id", "started_at", "last_accessed_at", "expires_at",
			"authentication_factors", "organization_id", "roles", "organization_slug",
		}},
	}
	wantCounts := map[string]int{"Member": 19, "Organization": 23, "MemberSession": 9}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.keys) != wantCounts[tt.name] {
				t.Fatalf("test table lists %d keys, want %d", len(tt.keys), wantCounts[tt.name])
			}
			obj := asJSON(t, tt.v).(map[string]any)
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range obj {
					if !yield(k) {
						return
					}
				}
			})
			if want := slices.Sorted(slices.Values(tt.keys)); !slices.Equal(got, want) {
				t.Errorf("keys\n got: %v\nwant: %v", got, want)
			}
			if n := nulls("", obj); len(n) > 0 {
				t.Errorf("null values at %v", n)
			}
		})
	}
}

func TestNormalizeRecursive(t *testing.T) {
	tests := []struct {
		name string
		v    interface{ Normalize() }
	}{
		{"member children", &Member{
			Roles:            []MemberRole{{RoleID: "stytch_member"}},
			SCIMRegistration: &SCIMRegistration{SCIMAttributes: &SCIMAttributes{}},
		}},
		{"organization children", &Organization{
			CustomRoles: []CustomRole{{RoleID: "r", Permissions: []CustomRolePermission{{ResourceID: "x"}}}},
		}},
		{"scim attributes", &SCIMAttributes{}},
		{"attest response", &AttestResponse{Member: Member{Roles: []MemberRole{{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.v.Normalize()
			if n := nulls("", asJSON(t, tt.v)); len(n) > 0 {
				t.Errorf("null values at %v", n)
			}
		})
	}
}
