package emulator_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
)

// Always-present keys of MemberSession, Member, Organization and AttestResponse, as Stytch's API reference lists them.
var (
	responseKeys = []string{"request_id", "member_id", "member_session", "session_token", "session_jwt", "member", "organization", "status_code"}
	sessionKeys  = []string{"member_session_id", "member_id", "started_at", "last_accessed_at", "expires_at", "authentication_factors",
		"organization_id", "roles", "organization_slug"}
	memberKeys = []string{"organization_id", "member_id", "email_address", "status", "name", "sso_registrations", "is_breakglass",
		"member_password_id", "oauth_registrations", "email_address_verified", "mfa_phone_number_verified", "is_admin",
		"totp_registration_id", "retired_email_addresses", "is_locked", "mfa_enrolled", "mfa_phone_number", "default_mfa_method", "roles"}
	organizationKeys = []string{"organization_id", "organization_name", "organization_logo_url", "organization_slug",
		"sso_jit_provisioning", "sso_jit_provisioning_allowed_connections", "sso_active_connections", "email_allowed_domains",
		"email_jit_provisioning", "email_invites", "auth_methods", "allowed_auth_methods", "mfa_policy",
		"rbac_email_implicit_role_assignments", "mfa_methods", "allowed_mfa_methods", "oauth_tenant_jit_provisioning",
		"claimed_email_domains", "first_party_connected_apps_allowed_type", "allowed_first_party_connected_apps",
		"third_party_connected_apps_allowed_type", "allowed_third_party_connected_apps", "custom_roles"}
)

var sessionTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{44}$`)

func TestNewSession(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tok := h.token(t, demo.TokenOptions{})
	a := h.ok(t, req(tok))
	now := stamp(start)

	wantKeys(t, "response", a.json, responseKeys)
	wantKeys(t, "member_session", a.json["member_session"], sessionKeys)
	wantKeys(t, "member", a.json["member"], memberKeys)
	wantKeys(t, "organization", a.json["organization"], organizationKeys)

	if a.StatusCode != 200 || !strings.HasPrefix(a.RequestID, "request-id-test-") {
		t.Errorf("status_code %d, request_id %q", a.StatusCode, a.RequestID)
	}
	if !sessionTokenRE.MatchString(a.SessionToken) {
		t.Errorf("session_token %q is not 44 base64url characters", a.SessionToken)
	}
	if n := strings.Count(a.SessionJWT, "."); n != 2 {
		t.Errorf("session_jwt has %d dots, want a compact JWS", n)
	}
	if !strings.HasPrefix(a.MemberSession.MemberSessionID, "member-session-test-") {
		t.Errorf("member_session_id %q", a.MemberSession.MemberSessionID)
	}
	s := a.json["member_session"]
	for k, want := range map[string]string{
		"member_id":         "member-test-demo-alice",
		"organization_id":   acmeID,
		"organization_slug": "acme",
		"started_at":        now,
		"last_accessed_at":  now,
		"expires_at":        stamp(start.Add(60 * time.Minute)),
	} {
		if got := path(s, k); got != want {
			t.Errorf("member_session.%s = %v, want %s", k, got, want)
		}
	}
	wantJSON(t, "member_session.roles", path(s, "roles"), `["stytch_member","stytch_admin"]`)
	wantJSON(t, "member_session.custom_claims", path(s, "custom_claims"), `{}`)
	wantJSON(t, "member_session.authentication_factors", path(s, "authentication_factors"), `[{
		"type": "trusted_auth_token", "delivery_method": "trusted_token_exchange",
		"last_authenticated_at": "`+now+`", "created_at": "`+now+`", "updated_at": "`+now+`",
		"trusted_auth_token_factor": {"token_id": "`+jtiOf(t, tok)+`"}}]`)

	m := a.json["member"]
	for k, want := range map[string]any{
		"member_id": "member-test-demo-alice", "organization_id": acmeID, "email_address": demo.Email, "status": "active",
		"name": "Alice Admin", "is_admin": true, "email_address_verified": true, "external_id": "idp-user-alice",
		"created_at": now, "updated_at": now, "mfa_phone_number": "", "is_breakglass": false,
	} {
		if got := path(m, k); got != want {
			t.Errorf("member.%s = %v, want %v", k, got, want)
		}
	}
	wantJSON(t, "member.roles", path(m, "roles"), `[
		{"role_id": "stytch_member", "sources": [{"type": "direct_assignment"}]},
		{"role_id": "stytch_admin", "sources": [{"type": "direct_assignment"}]}]`)
	wantJSON(t, "member.trusted_metadata", path(m, "trusted_metadata"), `{"department": "engineering"}`)

	o := a.json["organization"]
	for k, want := range map[string]any{
		"organization_id": acmeID, "organization_name": "Acme Corp", "organization_slug": "acme",
		"organization_external_id": "acme-idp-tenant", "organization_logo_url": "",
		"sso_jit_provisioning": "ALL_ALLOWED", "email_jit_provisioning": "NOT_ALLOWED", "email_invites": "ALL_ALLOWED",
		"auth_methods": "ALL_ALLOWED", "mfa_policy": "OPTIONAL", "mfa_methods": "ALL_ALLOWED",
		"oauth_tenant_jit_provisioning": "NOT_ALLOWED", "first_party_connected_apps_allowed_type": "ALL_ALLOWED",
		"third_party_connected_apps_allowed_type": "ALL_ALLOWED", "created_at": now, "updated_at": now,
	} {
		if got := path(o, k); got != want {
			t.Errorf("organization.%s = %v, want %v", k, got, want)
		}
	}
	wantJSON(t, "organization.email_allowed_domains", path(o, "email_allowed_domains"), `["acme.example"]`)
	wantJSON(t, "organization.trusted_metadata", path(o, "trusted_metadata"), `{"plan": "enterprise"}`)
	wantJSON(t, "organization.custom_roles", path(o, "custom_roles"), `[]`)

	b := h.ok(t, h.alice(t))
	if b.SessionToken == a.SessionToken || b.MemberSession.MemberSessionID == a.MemberSession.MemberSessionID {
		t.Errorf("two attests gave the same session: %s / %s", b.SessionToken, b.MemberSession.MemberSessionID)
	}
	if !sessionTokenRE.MatchString(b.SessionToken) {
		t.Errorf("session_token %q is not 44 base64url characters", b.SessionToken)
	}
}

func TestSessionExtension(t *testing.T) {
	for _, by := range []string{"session_token", "session_jwt"} {
		t.Run(by, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, emulator.Options{})
			tok1 := h.token(t, demo.TokenOptions{})
			first := h.ok(t, req(tok1, "session_custom_claims", obj{"a": 1, "b": "x", "keep": true}))
			credential := map[string]string{"session_token": first.SessionToken, "session_jwt": first.SessionJWT}[by]

			h.clock.Advance(10 * time.Minute) // past the session JWT's own 5 minutes: the session is what counts
			now := stamp(h.clock.Now())
			tok2 := h.token(t, demo.TokenOptions{})
			ext := h.ok(t, req(tok2, by, credential, "session_duration_minutes", 120, "session_custom_claims", obj{
				"a": 2, "b": nil, "c": []any{1, "two"},
				"iss": "evil", "sub": "evil", "aud": "evil", "exp": 1, "nbf": 1, "iat": 1, "jti": "evil",
			}))

			if ext.MemberSession.MemberSessionID != first.MemberSession.MemberSessionID {
				t.Errorf("member_session_id %s, want %s", ext.MemberSession.MemberSessionID, first.MemberSession.MemberSessionID)
			}
			if ext.SessionToken != first.SessionToken {
				t.Errorf("session_token changed on extension")
			}
			s := ext.json["member_session"]
			for k, want := range map[string]string{
				"started_at":       stamp(start),
				"last_accessed_at": now,
				"expires_at":       stamp(h.clock.Now().Add(120 * time.Minute)),
			} {
				if got := path(s, k); got != want {
					t.Errorf("member_session.%s = %v, want %s", k, got, want)
				}
			}
			then := stamp(start)
			wantJSON(t, "authentication_factors", path(s, "authentication_factors"), `[
				{"type": "trusted_auth_token", "delivery_method": "trusted_token_exchange",
				 "last_authenticated_at": "`+then+`", "created_at": "`+then+`", "updated_at": "`+then+`",
				 "trusted_auth_token_factor": {"token_id": "`+jtiOf(t, tok1)+`"}},
				{"type": "trusted_auth_token", "delivery_method": "trusted_token_exchange",
				 "last_authenticated_at": "`+now+`", "created_at": "`+now+`", "updated_at": "`+now+`",
				 "trusted_auth_token_factor": {"token_id": "`+jtiOf(t, tok2)+`"}}]`)
			wantJSON(t, "custom_claims", path(s, "custom_claims"), `{"a": 2, "keep": true, "c": [1, "two"]}`)

			claims := jwtPayload(t, ext.SessionJWT)
			if claims["iss"] != "stytch.com/"+demo.ProjectID || claims["sub"] != "member-test-demo-alice" || claims["jti"] != nil {
				t.Errorf("reserved claims leaked into the session JWT: iss %v sub %v jti %v", claims["iss"], claims["sub"], claims["jti"])
			}
			if _, ok := claims["b"]; ok || claims["a"] != json.Number("2") || claims["keep"] != true {
				t.Errorf("session JWT custom claims a=%v b=%v keep=%v", claims["a"], claims["b"], claims["keep"])
			}

			// The new credential extends the same session again.
			next := map[string]string{"session_token": ext.SessionToken, "session_jwt": ext.SessionJWT}[by]
			again := h.ok(t, req(h.token(t, demo.TokenOptions{}), by, next))
			if again.MemberSession.MemberSessionID != first.MemberSession.MemberSessionID || len(again.MemberSession.AuthenticationFactors) != 3 {
				t.Errorf("third attest: session %s with %d factors, want %s with 3",
					again.MemberSession.MemberSessionID, len(again.MemberSession.AuthenticationFactors), first.MemberSession.MemberSessionID)
			}
			if got, want := stamp(again.MemberSession.ExpiresAt), stamp(h.clock.Now().Add(60*time.Minute)); got != want {
				t.Errorf("expires_at %s, want %s (default 60 minutes from now)", got, want)
			}
		})
	}
}

func TestInvitedMemberBecomesActive(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.clock.Advance(time.Hour)
	a := h.ok(t, req(h.token(t, demo.TokenOptions{Email: "carol@acme.example"})))
	if a.Member.Status != "active" || a.Member.MemberID != "member-test-demo-carol" {
		t.Fatalf("member %s status %q, want member-test-demo-carol active", a.Member.MemberID, a.Member.Status)
	}
	if got, want := path(a.json, "member", "updated_at"), stamp(h.clock.Now()); got != want {
		t.Errorf("updated_at %v, want %s", got, want)
	}
	if got, want := path(a.json, "member", "created_at"), stamp(start); got != want {
		t.Errorf("created_at %v, want %s", got, want)
	}
	h.clock.Advance(time.Hour)
	b := h.ok(t, req(h.token(t, demo.TokenOptions{Email: "carol@acme.example"})))
	if b.Member.Status != "active" || path(b.json, "member", "updated_at") != path(a.json, "member", "updated_at") {
		t.Errorf("second attest: status %q, updated_at %v", b.Member.Status, path(b.json, "member", "updated_at"))
	}
}

func TestJITProvisioning(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	jit := func(roles ...string) attested {
		tok := h.token(t, demo.TokenOptions{Profile: demo.JITProfileID, Email: "newbie@acme.example", Roles: roles})
		return h.ok(t, jitReq(tok))
	}
	a := jit("editor", "viewer")
	m := a.json["member"]
	if !strings.HasPrefix(a.MemberID, "member-test-") || path(m, "member_id") != a.MemberID {
		t.Errorf("member_id %q", a.MemberID)
	}
	for k, want := range map[string]any{
		"organization_id": acmeID, "email_address": "newbie@acme.example", "status": "active",
		"external_id": "idp|newbie@acme.example", "email_address_verified": true, "is_admin": false,
		"name": "", "created_at": stamp(start),
	} {
		if got := path(m, k); got != want {
			t.Errorf("member.%s = %v, want %v", k, got, want)
		}
	}
	wantKeys(t, "member", m, memberKeys)
	wantJSON(t, "member.roles", path(m, "roles"), `[
		{"role_id": "stytch_member", "sources": [{"type": "direct_assignment"}]},
		{"role_id": "editor", "sources": [{"type": "direct_assignment"}]},
		{"role_id": "viewer", "sources": [{"type": "direct_assignment"}]}]`)
	wantJSON(t, "member_session.roles", path(a.json, "member_session", "roles"), `["stytch_member","editor","viewer"]`)

	b := jit()
	if b.MemberID != a.MemberID {
		t.Errorf("second JIT attest: member_id %s, want %s", b.MemberID, a.MemberID)
	}
	wantJSON(t, "member_session.roles", path(b.json, "member_session", "roles"), `["stytch_member","editor","viewer"]`)

	// The RS256 profile (no JIT) now finds the provisioned member too.
	c := h.ok(t, req(h.token(t, demo.TokenOptions{Email: "newbie@acme.example"})))
	if c.MemberID != a.MemberID {
		t.Errorf("demo profile: member_id %s, want %s", c.MemberID, a.MemberID)
	}
}

func TestTokenRolesAddToSessionRolesOnly(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.ok(t, req(h.token(t, demo.TokenOptions{Roles: []string{"auditor", "stytch_admin"}})))
	wantJSON(t, "member_session.roles", path(a.json, "member_session", "roles"), `["stytch_member","stytch_admin","auditor"]`)
	if len(a.Member.Roles) != 2 {
		t.Errorf("member has %d roles, want the 2 of the seed", len(a.Member.Roles))
	}
}

// TestMaxSessions: at the cap, expired sessions go first, then the one that
// expires soonest.
func TestMaxSessions(t *testing.T) {
	h := newHarness(t, emulator.Options{MaxSessions: 2})
	a := h.ok(t, h.alice(t, "session_duration_minutes", 10))
	b := h.ok(t, h.alice(t, "session_duration_minutes", 60))
	c := h.ok(t, h.alice(t, "session_duration_minutes", 30))
	wantError(t, h.attest(t, h.alice(t, "session_token", a.SessionToken)), notFound, "session_not_found", noSession)

	h.clock.Advance(31 * time.Minute) // c has expired, b has not
	h.ok(t, h.alice(t))
	h.ok(t, h.alice(t, "session_token", b.SessionToken))
	wantError(t, h.attest(t, h.alice(t, "session_token", c.SessionToken)), notFound, "session_not_found", noSession)
}

// TestFailedAttestChangesNothing: every check runs before any state
// changes, so a failing attest neither provisions nor activates a member.
func TestFailedAttestChangesNothing(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	jitTok := h.token(t, demo.TokenOptions{Profile: demo.JITProfileID, Email: "ghost@acme.example"})
	wantError(t, h.attest(t, jitReq(jitTok, "session_token", "no-such-session")), notFound, "session_not_found", noSession)
	wantError(t, h.attest(t, req(h.token(t, demo.TokenOptions{Email: "ghost@acme.example"}))), notFound, "member_not_found",
		"No member with the token's email exists in organization organization-test-demo-acme.")

	h.clock.Advance(time.Hour)
	carol := h.token(t, demo.TokenOptions{Email: "carol@acme.example"})
	wantError(t, h.attest(t, req(carol, "session_token", "no-such-session")), notFound, "session_not_found", noSession)
	h.clock.Advance(time.Hour)
	a := h.ok(t, req(h.token(t, demo.TokenOptions{Email: "carol@acme.example"})))
	if got, want := path(a.json, "member", "updated_at"), stamp(h.clock.Now()); got != want {
		t.Errorf("carol was activated by the failed attest: updated_at %v, want %s", got, want)
	}
}
