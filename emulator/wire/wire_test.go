package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var fixtures = []string{"attest-response-full.json", "attest-response-typical.json"}

// loadFixture returns a testdata fixture parsed into generic JSON values.
func loadFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
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

type mutation[T any] struct {
	name string
	mut  func(*T)
}

// checkClone verifies, for each mutation on a fresh original, that the clone
// equals the original, that the mutation changes the clone, and that the
// original is left untouched.
func checkClone[T any](t *testing.T, build func() *T, clone func(*T) *T, muts []mutation[T]) {
	t.Helper()
	var zero *T
	if clone(zero) != nil {
		t.Error("Clone of nil is not nil")
	}
	for _, m := range muts {
		t.Run(m.name, func(t *testing.T) {
			orig, pristine := build(), build()
			c := clone(orig)
			if !reflect.DeepEqual(c, orig) {
				t.Fatal("clone differs from original")
			}
			m.mut(c)
			if reflect.DeepEqual(c, pristine) {
				t.Fatal("mutation did not change the clone")
			}
			if !reflect.DeepEqual(orig, pristine) {
				t.Error("mutating the clone changed the original")
			}
		})
	}
}

func hourLater(p *time.Time) { *p = p.Add(time.Hour) }

func TestMemberClone(t *testing.T) {
	build := func() *Member {
		m := new(Member)
		decodeStrict(t, loadFixture(t, "attest-response-full.json")["member"], m)
		return m
	}
	scim := func(m *Member) *SCIMAttributes { return m.SCIMRegistration.SCIMAttributes }
	checkClone(t, build, (*Member).Clone, []mutation[Member]{
		{"sso_registrations", func(m *Member) { m.SSORegistrations[0].ConnectionID = "x" }},
		{"sso_attributes nested", func(m *Member) { m.SSORegistrations[0].SSOAttributes["email"].([]any)[0] = "x" }},
		{"sso_attributes key", func(m *Member) { m.SSORegistrations[0].SSOAttributes["new"] = true }},
		{"oauth locale", func(m *Member) { *m.OAuthRegistrations[0].Locale = "x" }},
		{"oauth picture", func(m *Member) { *m.OAuthRegistrations[0].ProfilePictureURL = "x" }},
		{"retired emails", func(m *Member) { m.RetiredEmailAddresses[0].EmailID = "x" }},
		{"roles", func(m *Member) { m.Roles[0].RoleID = "x" }},
		{"role sources", func(m *Member) { m.Roles[1].Sources[0].Type = "x" }},
		{"role source details", func(m *Member) { m.Roles[1].Sources[0].Details["email_domain"] = "x" }},
		{"empty role source details", func(m *Member) { m.Roles[0].Sources[0].Details["k"] = "v" }},
		{"trusted_metadata nested", func(m *Member) { m.TrustedMetadata["seats"].(map[string]any)["used"] = 0.0 }},
		{"untrusted_metadata nested", func(m *Member) { m.UntrustedMetadata["recent_projects"].([]any)[0] = "x" }},
		{"created_at", func(m *Member) { hourLater(m.CreatedAt) }},
		{"updated_at", func(m *Member) { hourLater(m.UpdatedAt) }},
		{"lock_created_at", func(m *Member) { hourLater(m.LockCreatedAt) }},
		{"lock_expires_at", func(m *Member) { hourLater(m.LockExpiresAt) }},
		{"external_id", func(m *Member) { *m.ExternalID = "x" }},
		{"scim_registration", func(m *Member) { m.SCIMRegistration.RegistrationID = "x" }},
		{"scim external_id", func(m *Member) { *m.SCIMRegistration.ExternalID = "x" }},
		{"scim attributes", func(m *Member) { scim(m).UserName = "x" }},
		{"scim groups", func(m *Member) { scim(m).Groups[0].Display = "x" }},
		{"scim emails", func(m *Member) { scim(m).Emails[0].Value = "x" }},
		{"scim phone_numbers", func(m *Member) { scim(m).PhoneNumbers[0].Value = "x" }},
		{"scim addresses", func(m *Member) { scim(m).Addresses[0].Country = "x" }},
		{"scim ims", func(m *Member) { scim(m).IMs[0].Primary = true }},
		{"scim photos", func(m *Member) { scim(m).Photos[0].Value = "x" }},
		{"scim entitlements", func(m *Member) { scim(m).Entitlements[0].Value = "x" }},
		{"scim roles", func(m *Member) { scim(m).Roles[0].Value = "x" }},
		{"scim x509certificates", func(m *Member) { scim(m).X509Certificates[0].Value = "x" }},
		{"scim name", func(m *Member) { scim(m).Name.GivenName = "x" }},
		{"scim enterprise_extension", func(m *Member) { scim(m).EnterpriseExtension.Department = "x" }},
		{"scim manager", func(m *Member) { scim(m).EnterpriseExtension.Manager.Value = "x" }},
	})
}

func TestOrganizationClone(t *testing.T) {
	build := func() *Organization {
		o := new(Organization)
		decodeStrict(t, loadFixture(t, "attest-response-full.json")["organization"], o)
		return o
	}
	checkClone(t, build, (*Organization).Clone, []mutation[Organization]{
		{"sso_jit_provisioning_allowed_connections", func(o *Organization) { o.SSOJITProvisioningAllowedConnections[0] = "x" }},
		{"sso_active_connections", func(o *Organization) { o.SSOActiveConnections[1].DisplayName = "x" }},
		{"email_allowed_domains", func(o *Organization) { o.EmailAllowedDomains[0] = "x" }},
		{"allowed_auth_methods", func(o *Organization) { o.AllowedAuthMethods[0] = "x" }},
		{"rbac_email_implicit_role_assignments", func(o *Organization) { o.RBACEmailImplicitRoleAssignments[0].RoleID = "x" }},
		{"allowed_mfa_methods", func(o *Organization) { o.AllowedMFAMethods[0] = "x" }},
		{"claimed_email_domains", func(o *Organization) { o.ClaimedEmailDomains[0] = "x" }},
		{"allowed_first_party_connected_apps", func(o *Organization) { o.AllowedFirstPartyConnectedApps[0] = "x" }},
		{"custom_roles", func(o *Organization) { o.CustomRoles[0].Description = "x" }},
		{"custom_role permissions", func(o *Organization) { o.CustomRoles[0].Permissions[1].ResourceID = "x" }},
		{"custom_role actions", func(o *Organization) { o.CustomRoles[0].Permissions[0].Actions[0] = "x" }},
		{"trusted_metadata", func(o *Organization) { o.TrustedMetadata["plan"] = "x" }},
		{"created_at", func(o *Organization) { hourLater(o.CreatedAt) }},
		{"updated_at", func(o *Organization) { hourLater(o.UpdatedAt) }},
		{"organization_external_id", func(o *Organization) { *o.OrganizationExternalID = "x" }},
		{"sso_default_connection_id", func(o *Organization) { *o.SSODefaultConnectionID = "x" }},
		{"scim_active_connection", func(o *Organization) { o.SCIMActiveConnection.BearerTokenLastFour = "x" }},
		{"scim bearer_token_expires_at", func(o *Organization) { hourLater(o.SCIMActiveConnection.BearerTokenExpiresAt) }},
		{"allowed_oauth_tenants nested", func(o *Organization) { o.AllowedOAuthTenants["slack"].([]any)[0] = "x" }},
	})
}

func TestMemberSessionClone(t *testing.T) {
	// time.Now carries a monotonic reading and a non-UTC location; both must
	// survive Clone exactly (reflect.DeepEqual compares them).
	now := time.Now().In(time.FixedZone("X", 3600))
	build := func() *MemberSession {
		created, last := now.Add(-time.Minute), now
		return &MemberSession{
			MemberSessionID: "member-session-test-1",
			MemberID:        "member-test-1",
			StartedAt:       now,
			LastAccessedAt:  now,
			ExpiresAt:       now.Add(time.Hour),
			AuthenticationFactors: []AuthenticationFactor{{
				Type:                   "trusted_auth_token",
				DeliveryMethod:         "trusted_token_exchange",
				LastAuthenticatedAt:    &last,
				CreatedAt:              &created,
				TrustedAuthTokenFactor: &TrustedAuthTokenFactor{TokenID: "jti-1"},
			}},
			OrganizationID:   "organization-test-1",
			Roles:            []string{"stytch_member"},
			OrganizationSlug: "acme",
			CustomClaims: map[string]any{
				"flags":  []any{"a", map[string]any{"k": "v"}},
				"nested": map[string]any{"tier": 2.0},
				"tags":   []string{"t"},
				"labels": map[string]string{"l": "v"},
			},
		}
	}
	if c := build().Clone(); c.StartedAt != now || c.ExpiresAt != now.Add(time.Hour) {
		t.Error("Clone did not preserve times exactly")
	}
	checkClone(t, build, (*MemberSession).Clone, []mutation[MemberSession]{
		{"roles", func(s *MemberSession) { s.Roles[0] = "x" }},
		{"factor", func(s *MemberSession) { s.AuthenticationFactors[0].Type = "x" }},
		{"factor last_authenticated_at", func(s *MemberSession) { hourLater(s.AuthenticationFactors[0].LastAuthenticatedAt) }},
		{"factor created_at", func(s *MemberSession) { hourLater(s.AuthenticationFactors[0].CreatedAt) }},
		{"trusted_auth_token_factor", func(s *MemberSession) { s.AuthenticationFactors[0].TrustedAuthTokenFactor.TokenID = "x" }},
		{"custom_claims key", func(s *MemberSession) { s.CustomClaims["new"] = 1.0 }},
		{"custom_claims []any", func(s *MemberSession) { s.CustomClaims["flags"].([]any)[0] = "x" }},
		{"custom_claims map in []any", func(s *MemberSession) { s.CustomClaims["flags"].([]any)[1].(map[string]any)["k"] = "x" }},
		{"custom_claims map", func(s *MemberSession) { s.CustomClaims["nested"].(map[string]any)["tier"] = 3.0 }},
		{"custom_claims []string", func(s *MemberSession) { s.CustomClaims["tags"].([]string)[0] = "x" }},
		{"custom_claims map[string]string", func(s *MemberSession) { s.CustomClaims["labels"].(map[string]string)["l"] = "x" }},
	})
}

func TestClonePreservesNilVersusEmpty(t *testing.T) {
	normalized := &Member{}
	normalized.Normalize()
	for _, m := range []*Member{{}, normalized, {TrustedMetadata: map[string]any{}}} {
		if c := m.Clone(); !reflect.DeepEqual(c, m) {
			t.Errorf("Clone(%+v) = %+v", m, c)
		}
	}
	org := &Organization{}
	org.Normalize()
	if c := org.Clone(); !reflect.DeepEqual(c, org) {
		t.Errorf("Organization clone differs")
	}
}
