package emulator_test

import (
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
	"github.com/attestd/attestd/emulator/seed"
)

func TestAttestAuthErrors(t *testing.T) {
	const msg = "Unauthorized credentials."
	runErrorCases(t, []errorCase{
		{"missing auth", nil, func(t *testing.T, h *harness) response {
			r, err := h.do(http.MethodPost, attestPath, h.alice(t), "", "")
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, 401, "unauthorized_credentials", msg},
		{"wrong secret", nil, func(t *testing.T, h *harness) response {
			r, err := h.do(http.MethodPost, attestPath, h.alice(t), demo.ProjectID, demo.Secret+"x")
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, 401, "unauthorized_credentials", msg},
		{"unknown project", nil, func(t *testing.T, h *harness) response {
			r, err := h.do(http.MethodPost, attestPath, h.alice(t), "project-test-unknown", demo.Secret)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, 401, "unauthorized_credentials", msg},
		{"auth checked before the body", nil, func(t *testing.T, h *harness) response {
			r, err := h.do(http.MethodPost, attestPath, "not json", "", "")
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, 401, "unauthorized_credentials", msg},
	})
}

func TestAttestRequestErrors(t *testing.T) {
	bigClaims := obj{"k": strings.Repeat("x", 4089)} // {"k":"…"} compacts to 4097 bytes
	runErrorCases(t, []errorCase{
		{"malformed JSON", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, `{"profile_id":`)
		}, badRequest, "bad_request", "The request body is not a valid attest request: malformed JSON."},
		{"empty body", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, "")
		}, badRequest, "bad_request", "The request body is not a valid attest request: the body is empty."},
		{"data after the object", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, mustJSON(h.alice(t))+"{}")
		}, badRequest, "bad_request", "The request body has data after the JSON object."},
		{"body over 1 MiB", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "telemetry_id", strings.Repeat("x", 1<<20)))
		}, badRequest, "bad_request", "The request body is larger than 1048576 bytes."},
		{"missing profile_id", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, obj{"token": h.token(t, demo.TokenOptions{})})
		}, badRequest, "bad_request", "profile_id is a required field."},
		{"null profile_id", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, obj{"profile_id": nil, "token": h.token(t, demo.TokenOptions{})})
		}, badRequest, "bad_request", "profile_id is a required field."},
		{"missing token", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, obj{"profile_id": demo.ProfileID})
		}, badRequest, "bad_request", "token is a required field."},
		{"empty token", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(""))
		}, badRequest, "bad_request", "token is a required field."},
		{"profile_id a number", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, obj{"profile_id": 5, "token": h.token(t, demo.TokenOptions{})})
		}, badRequest, "bad_request", "The request body is not a valid attest request: profile_id must be a string, not a JSON number."},
		{"session_duration_minutes a string", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_duration_minutes", "60"))
		}, badRequest, "bad_request", "The request body is not a valid attest request: session_duration_minutes must be an integer, not a JSON string."},
		{"duration beyond int32", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_duration_minutes", int64(1)<<40))
		}, badRequest, "invalid_session_duration_minutes", "session_duration_minutes must be between 5 and 527040."},
		{"duration 4", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_duration_minutes", 4))
		}, badRequest, "invalid_session_duration_minutes", "session_duration_minutes must be between 5 and 527040."},
		{"duration 527041", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_duration_minutes", 527041))
		}, badRequest, "invalid_session_duration_minutes", "session_duration_minutes must be between 5 and 527040."},
		{"session_token and session_jwt", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_token", "a", "session_jwt", "b"))
		}, badRequest, "too_many_session_arguments", "Only one of session_token and session_jwt may be provided."},
		{"custom claims over 4096 bytes", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_custom_claims", bigClaims))
		}, badRequest, "custom_claims_too_large", "session_custom_claims must be at most 4096 bytes."},
		{"merged custom claims over 4096 bytes", nil, func(t *testing.T, h *harness) response {
			first := h.ok(t, h.alice(t, "session_custom_claims", obj{"a": strings.Repeat("x", 3000)}))
			return h.attest(t, h.alice(t, "session_token", first.SessionToken,
				"session_custom_claims", obj{"b": strings.Repeat("y", 2000)}))
		}, badRequest, "custom_claims_too_large", "The session's custom claims would exceed 4096 bytes."},
		{"Stytch claim in custom claims", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_custom_claims", obj{"https://stytch.com/session": obj{"id": "x"}}))
		}, badRequest, "stytch_claims_in_custom_claims", `session_custom_claims may not set Stytch's own claim "https://stytch.com/session".`},
		{"custom claims an array", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_custom_claims", []any{1, 2}))
		}, badRequest, "unable_to_represent_custom_claims_json", "session_custom_claims must be a JSON object."},
		{"custom claims a string", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_custom_claims", "{}"))
		}, badRequest, "unable_to_represent_custom_claims_json", "session_custom_claims must be a JSON object."},
		{"organization_id not an Organization ID", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "organization_id", "acme"))
		}, badRequest, "invalid_organization_id", `organization_id "acme" is not an Organization ID.`},
		{"unknown profile", nil, func(t *testing.T, h *harness) response {
			b := h.alice(t)
			b["profile_id"] = "trusted-token-profile-test-nope"
			return h.attest(t, b)
		}, notFound, "trusted_token_profile_not_found", "Trusted token profile trusted-token-profile-test-nope could not be found."},
	})
}

func TestAttestTokenErrors(t *testing.T) {
	runErrorCases(t, []errorCase{
		{"garbage", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req("not-a-jwt"))
		}, badRequest, invalidTok, badAlgMsg},
		{"alg none", nil, func(t *testing.T, h *harness) response {
			enc := base64.RawURLEncoding.EncodeToString
			return h.attest(t, req(enc([]byte(`{"alg":"none","typ":"JWT"}`))+"."+enc([]byte(mustJSON(h.claims())))+"."))
		}, badRequest, invalidTok, badAlgMsg},
		{"HS256 keyed with the profile's PEM public key", nil, func(t *testing.T, h *harness) response {
			pem := demo.Seed().Projects[0].TrustedTokenProfiles[0].PEMFiles[0]
			return h.attest(t, req(sign(t, []byte(pem), jose.HS256, "", h.claims())))
		}, badRequest, invalidTok, badAlgMsg},
		{"unknown kid", nil, func(t *testing.T, h *harness) response {
			key, _ := demo.PrivateKey(demo.ProfileID)
			return h.attest(t, req(sign(t, key, jose.RS256, "kid-nope", h.claims())))
		}, badRequest, invalidTok, `The token's key ID "kid-nope" matches none of the profile's keys.`},
		{"another key under the profile's kid", nil, func(t *testing.T, h *harness) response {
			key, _ := demo.PrivateKey(demo.ProfileID)
			return h.attest(t, req(sign(t, otherRSAKey(), jose.RS256, kidOf(t, key.Public()), h.claims())))
		}, badRequest, invalidTok, badSigMsg},
		{"another key without kid", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(sign(t, otherRSAKey(), jose.RS256, "", h.claims())))
		}, badRequest, invalidTok, badSigMsg},
		{"the JIT profile's key on the RS256 profile", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(handToken(t, demo.JITProfileID, h.claims())))
		}, badRequest, invalidTok, "The token's key ID \"" + kidOfProfile(t, demo.JITProfileID) + "\" matches none of the profile's keys."},
		{"expired beyond the skew", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) {
				now := h.clock.Now()
				c["iat"], c["nbf"], c["exp"] = now.Add(-5*time.Minute).Unix(), now.Add(-5*time.Minute).Unix(), now.Add(-31*time.Second).Unix()
			}))
		}, badRequest, invalidTok, "The token has expired."},
		{"nbf beyond the skew", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["nbf"] = h.clock.Now().Add(31 * time.Second).Unix() }))
		}, badRequest, invalidTok, "The token is not valid yet (nbf)."},
		{"iat beyond the skew", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["iat"] = h.clock.Now().Add(31 * time.Second).Unix() }))
		}, badRequest, invalidTok, "The token was issued in the future (iat)."},
		{"no exp", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { delete(c, "exp") }))
		}, badRequest, invalidTok, "The token has no exp claim."},
		{"longer than 16 KiB", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["pad"] = strings.Repeat("x", 16<<10) }))
		}, badRequest, invalidTok, "The token is longer than 16384 bytes."},
		{"jti not a string", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["jti"] = 42 }))
		}, badRequest, invalidTok, "The token's registered claims are malformed (iss, sub and jti must be strings, aud a string or an array of strings, exp, nbf and iat numbers)."},
		{"wrong issuer", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["iss"] = "https://evil.invalid" }))
		}, badRequest, "jwt_invalid_issuer", "The token's iss does not match the profile's issuer."},
		{"wrong audience", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["aud"] = []string{"other", "another"} }))
		}, badRequest, "jwt_invalid_audience", "The token's aud does not contain the profile's audience."},
		{"no email", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { delete(c, "email") }))
		}, badRequest, "jwt_invalid_claims", `The token has no "email" claim, which the profile maps.`},
		{"no jti", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { delete(c, "jti") }))
		}, badRequest, "jwt_invalid_claims", `The token has no "jti" claim, which the profile maps.`},
		{"email not a string", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["email"] = []string{demo.Email} }))
		}, badRequest, "jwt_invalid_claims", `The token's "email" claim is not a non-empty string.`},
		{"email not an address", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["email"] = "alice" }))
		}, badRequest, "jwt_invalid_claims", `The token's "email" claim is not an email address.`},
		{"roles not an array", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["roles"] = "stytch_admin" }))
		}, badRequest, "jwt_invalid_claims", `The token's "roles" claim is not an array of role IDs.`},
		{"roles with a number", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["roles"] = []any{"editor", 7} }))
		}, badRequest, "jwt_invalid_claims", `The token's "roles" claim is not an array of role IDs.`},
		{"external member ID not a string", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["sub"] = 7 }))
		}, badRequest, invalidTok, "The token's registered claims are malformed (iss, sub and jti must be strings, aud a string or an array of strings, exp, nbf and iat numbers)."},
	})
}

func TestAttestOrganizationAndMemberErrors(t *testing.T) {
	runErrorCases(t, []errorCase{
		{"no organization anywhere", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{NoOrganizationClaim: true})))
		}, badRequest, "token_missing_organization_id_claim", "organization_id is required when the token carries no organization claim."},
		{"JIT of an unknown member without claim", nil, func(t *testing.T, h *harness) response {
			tok := h.token(t, demo.TokenOptions{Profile: demo.JITProfileID, Email: "new@acme.example", NoOrganizationClaim: true})
			return h.attest(t, jitReq(tok, "organization_id", acmeID))
		}, badRequest, "token_missing_organization_id_claim", "The profile allows JIT provisioning, so the token must carry an organization claim."},
		{"claim disagrees with the body", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "organization_id", suspendedID))
		}, badRequest, "invalid_token_organization_id_claim", "The token's organization claim does not name organization_id " + suspendedID + "."},
		{"claim names an unknown organization, body a known one", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{Organization: "organization-test-other"}), "organization_id", acmeID))
		}, badRequest, "invalid_token_organization_id_claim", "The token's organization claim does not name organization_id " + acmeID + "."},
		{"claim not a string", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["org_id"] = 5 }))
		}, badRequest, "invalid_token_organization_id_claim", `The token's "org_id" claim is not a non-empty string.`},
		{"unknown organization in the body", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{NoOrganizationClaim: true}), "organization_id", "organization-test-nope"))
		}, notFound, "organization_not_found", "Organization organization-test-nope could not be found."},
		{"unknown organization in body and claim", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{Organization: "organization-test-nope"}), "organization_id", "organization-test-nope"))
		}, notFound, "organization_not_found", "Organization organization-test-nope could not be found."},
		{"unknown organization in the claim", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{Organization: "organization-test-nope"})))
		}, notFound, "organization_not_found", "The organization the token names could not be found."},
		{"a slug is no organization claim", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.withClaims(t, func(c obj) { c["org_id"] = "acme" }))
		}, notFound, "organization_not_found", "The organization the token names could not be found."},
		{"suspended organization", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{Email: "dave@suspended.example", Organization: suspendedID})))
		}, http.StatusForbidden, "organization_suspended", "Organization " + suspendedID + " is suspended."},
		{"suspended organization, JIT", nil, func(t *testing.T, h *harness) response {
			tok := h.token(t, demo.TokenOptions{Profile: demo.JITProfileID, Email: "new@suspended.example", Organization: suspendedID})
			return h.attest(t, jitReq(tok))
		}, http.StatusForbidden, "organization_suspended", "Organization " + suspendedID + " is suspended."},
		{"unknown member, no JIT", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{Email: "mallory@acme.example"})))
		}, notFound, "member_not_found", "No member with the token's email exists in organization " + acmeID + "."},
		{"member of another organization", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{Email: "dave@suspended.example"})))
		}, notFound, "member_not_found", "No member with the token's email exists in organization " + acmeID + "."},
		{"deleted member", withDeletedMember, func(t *testing.T, h *harness) response {
			return h.attest(t, req(h.token(t, demo.TokenOptions{Email: "gone@acme.example"})))
		}, notFound, "member_not_found", "No member with the token's email exists in organization " + acmeID + "."},
	})
}

func TestAttestSessionErrors(t *testing.T) {
	runErrorCases(t, []errorCase{
		{"unknown session_token", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_token", "no-such-session"))
		}, notFound, "session_not_found", noSession},
		{"another member's session_token", nil, func(t *testing.T, h *harness) response {
			s := h.ok(t, h.alice(t))
			return h.attest(t, req(h.token(t, demo.TokenOptions{Email: "bob@acme.example"}), "session_token", s.SessionToken))
		}, notFound, "session_not_found", noSession},
		{"another member's session_jwt", nil, func(t *testing.T, h *harness) response {
			s := h.ok(t, h.alice(t))
			return h.attest(t, req(h.token(t, demo.TokenOptions{Email: "bob@acme.example"}), "session_jwt", s.SessionJWT))
		}, notFound, "session_not_found", noSession},
		{"expired session_token", nil, func(t *testing.T, h *harness) response {
			s := h.ok(t, h.alice(t, "session_duration_minutes", 5))
			h.clock.Advance(5 * time.Minute)
			return h.attest(t, h.alice(t, "session_token", s.SessionToken))
		}, notFound, "session_not_found", noSession},
		{"expired session_jwt", nil, func(t *testing.T, h *harness) response {
			s := h.ok(t, h.alice(t, "session_duration_minutes", 5))
			h.clock.Advance(5 * time.Minute)
			return h.attest(t, h.alice(t, "session_jwt", s.SessionJWT))
		}, notFound, "session_not_found", noSession},
		{"expired session stays gone", nil, func(t *testing.T, h *harness) response {
			s := h.ok(t, h.alice(t, "session_duration_minutes", 5))
			h.clock.Advance(5 * time.Minute)
			wantError(t, h.attest(t, h.alice(t, "session_token", s.SessionToken)), notFound, "session_not_found", noSession)
			return h.attest(t, h.alice(t, "session_jwt", s.SessionJWT))
		}, notFound, "session_not_found", noSession},
		{"garbage session_jwt", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_jwt", "garbage"))
		}, badRequest, "unable_to_parse_session_jwt", badSessJWT},
		{"session_jwt of another emulator", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_jwt", otherEmulatorJWT(t)))
		}, badRequest, "unable_to_parse_session_jwt", badSessJWT},
		{"trusted token as session_jwt", nil, func(t *testing.T, h *harness) response {
			return h.attest(t, h.alice(t, "session_jwt", h.token(t, demo.TokenOptions{})))
		}, badRequest, "unable_to_parse_session_jwt", badSessJWT},
	})
}

func TestRoutingErrors(t *testing.T) {
	call := func(method, path string) func(t *testing.T, h *harness) response {
		return func(t *testing.T, h *harness) response {
			r, err := h.do(method, path, nil, demo.ProjectID, demo.Secret)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	get := func(path string) func(t *testing.T, h *harness) response { return call(http.MethodGet, path) }
	runErrorCases(t, []errorCase{
		{"unknown route", nil, get("/v1/b2b/sessions/authenticate"),
			notFound, "route_not_found", "The emulator serves no route GET /v1/b2b/sessions/authenticate."},
		{"root", nil, get("/"),
			notFound, "route_not_found", "The emulator serves no route GET /."},
		{"JWKS without project", nil, get("/v1/b2b/sessions/jwks/"),
			notFound, "route_not_found", "The emulator serves no route GET /v1/b2b/sessions/jwks/."},
		{"JWKS with two segments", nil, get("/v1/b2b/sessions/jwks/" + demo.ProjectID + "/x"),
			notFound, "route_not_found", "The emulator serves no route GET /v1/b2b/sessions/jwks/" + demo.ProjectID + "/x."},
		{"POST on a JWKS path with two segments", nil, call(http.MethodPost, "/v1/b2b/sessions/jwks/a/b"),
			notFound, "route_not_found", "The emulator serves no route POST /v1/b2b/sessions/jwks/a/b."},
	})
	for _, tc := range []struct {
		method, path, allow string
	}{
		{http.MethodGet, attestPath, "POST"},
		{http.MethodPut, attestPath, "POST"},
		{http.MethodPost, "/v1/b2b/sessions/jwks/" + demo.ProjectID, "GET"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			h := newHarness(t, emulator.Options{})
			r, err := h.do(tc.method, tc.path, nil, demo.ProjectID, demo.Secret)
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed on %s.", tc.method, tc.path))
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    emulator.Options
		want string
	}{
		{"project ID without secret", emulator.Options{ProjectID: "project-test-x"},
			"emulator: set both the project ID and the secret, or neither"},
		{"secret without project ID", emulator.Options{Secret: "s"},
			"emulator: set both the project ID and the secret, or neither"},
		{"seed project twice", emulator.Options{ProjectID: "project-test-x", Secret: "s", Seed: &seed.Seed{Projects: []seed.Project{
			{ProjectID: "project-test-x", Secret: "t"}, {},
		}}}, `emulator: project "project-test-x" is defined twice (a seed project without credentials takes the configured ones)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := emulator.New(tc.o)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestAttestAccepts covers the accepting side of each boundary and the two
// demo profiles' algorithms.
func TestAttestAccepts(t *testing.T) {
	for _, tc := range []struct {
		name        string
		body        func(t *testing.T, h *harness) obj
		wantMinutes int
		wantOrg     string
	}{
		{"RS256 demo profile", func(t *testing.T, h *harness) obj { return h.alice(t) }, 60, acmeID},
		{"ES256 JIT demo profile", func(t *testing.T, h *harness) obj {
			return jitReq(h.token(t, demo.TokenOptions{Profile: demo.JITProfileID}))
		}, 60, acmeID},
		{"duration 5", func(t *testing.T, h *harness) obj { return h.alice(t, "session_duration_minutes", 5) }, 5, acmeID},
		{"duration 527040", func(t *testing.T, h *harness) obj { return h.alice(t, "session_duration_minutes", 527040) }, 527040, acmeID},
		{"null optional fields", func(t *testing.T, h *harness) obj {
			return h.alice(t, "session_duration_minutes", nil, "session_custom_claims", nil, "session_token", nil, "session_jwt", nil, "organization_id", nil, "telemetry_id", nil)
		}, 60, acmeID},
		{"expired within the skew", func(t *testing.T, h *harness) obj {
			h.clock.Advance(start.Truncate(time.Second).Add(time.Second).Sub(start)) // exp -30 s exactly
			return h.withClaims(t, func(c obj) {
				now := h.clock.Now()
				c["iat"], c["nbf"], c["exp"] = now.Add(-5*time.Minute).Unix(), now.Add(-5*time.Minute).Unix(), now.Add(-30*time.Second).Unix()
			})
		}, 60, acmeID},
		{"nbf and iat within the skew", func(t *testing.T, h *harness) obj {
			return h.withClaims(t, func(c obj) {
				c["iat"], c["nbf"] = h.clock.Now().Add(30*time.Second).Unix(), h.clock.Now().Add(30*time.Second).Unix()
			})
		}, 60, acmeID},
		{"no nbf, no iat, aud as array", func(t *testing.T, h *harness) obj {
			return h.withClaims(t, func(c obj) { delete(c, "nbf"); delete(c, "iat"); c["aud"] = []string{"x", demo.Audience} })
		}, 60, acmeID},
		{"token without kid", func(t *testing.T, h *harness) obj {
			key, _ := demo.PrivateKey(demo.ProfileID)
			return req(sign(t, key, jose.RS256, "", h.claims()))
		}, 60, acmeID},
		{"custom claims of exactly 4096 bytes", func(t *testing.T, h *harness) obj {
			return h.alice(t, "session_custom_claims", obj{"k": strings.Repeat("x", 4088)})
		}, 60, acmeID},
		{"organization from the body alone", func(t *testing.T, h *harness) obj {
			return req(h.token(t, demo.TokenOptions{NoOrganizationClaim: true}), "organization_id", acmeID)
		}, 60, acmeID},
		{"organization claim as external ID", func(t *testing.T, h *harness) obj {
			return h.withClaims(t, func(c obj) { c["org_id"] = "acme-idp-tenant" }, "organization_id", acmeID)
		}, 60, acmeID},
		{"email matched case-insensitively", func(t *testing.T, h *harness) obj {
			return req(h.token(t, demo.TokenOptions{Email: "Alice@ACME.example"}))
		}, 60, acmeID},
		{"JIT profile, existing member, organization from the body", func(t *testing.T, h *harness) obj {
			tok := h.token(t, demo.TokenOptions{Profile: demo.JITProfileID, NoOrganizationClaim: true})
			return jitReq(tok, "organization_id", acmeID)
		}, 60, acmeID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, emulator.Options{})
			a := h.ok(t, tc.body(t, h))
			now := h.clock.Now().Truncate(time.Second)
			if a.MemberID != "member-test-demo-alice" {
				t.Errorf("member_id %q, want member-test-demo-alice", a.MemberID)
			}
			if a.Organization.OrganizationID != tc.wantOrg {
				t.Errorf("organization %q, want %q", a.Organization.OrganizationID, tc.wantOrg)
			}
			if got, want := a.MemberSession.ExpiresAt, now.Add(time.Duration(tc.wantMinutes)*time.Minute); !got.Equal(want) {
				t.Errorf("expires_at %v, want %v", got, want)
			}
		})
	}
}

// TestJWKSURLProfile runs a profile whose keys come from a JWKS URL: a kid
// seen at the first fetch, a kid rotated in later, and an unknown kid.
func TestJWKSURLProfile(t *testing.T) {
	h, ks, k1 := newJWKSHarness(t)
	body := func(key *ecdsa.PrivateKey, kid string) obj { return h.jwksBody(t, key, kid) }
	a := h.ok(t, body(k1, "kid-1"))
	if a.Organization.OrganizationID != "organization-test-jwks" || a.Member.EmailAddress != "erin@jwks.example" {
		t.Errorf("attested %s / %s", a.Organization.OrganizationID, a.Member.EmailAddress)
	}
	h.ok(t, body(k1, "kid-1"))
	if n := ks.fetchCount(); n != 1 {
		t.Errorf("%d JWKS fetches after two tokens of a known kid, want 1 (cached)", n)
	}

	k2 := ks.publish(t, "kid-2")
	h.clock.Advance(10 * time.Second) // a new kid refetches, at most once per 10 s
	h.ok(t, body(k2, "kid-2"))
	h.ok(t, body(k1, "kid-1"))
	if n := ks.fetchCount(); n != 2 {
		t.Errorf("%d JWKS fetches after the rotation, want 2", n)
	}

	h.clock.Advance(10 * time.Second)
	const unknown = `The token's key ID "kid-nope" matches none of the profile's keys.`
	wantError(t, h.attest(t, body(k2, "kid-nope")), badRequest, invalidTok, unknown)
	wantError(t, h.attest(t, body(k2, "kid-nope")), badRequest, invalidTok, unknown)
	if n := ks.fetchCount(); n != 3 {
		t.Errorf("%d JWKS fetches after two unknown kids, want 3 (one refetch)", n)
	}
	wantError(t, h.attest(t, body(k1, "kid-2")), badRequest, invalidTok, badSigMsg)
}

// TestJWKSURLRotationWaitsForRefetchGap: a kid published moments after the
// last fetch is refused until the refetch gap has passed (the guard that
// keeps made-up kids from hammering the IdP).
func TestJWKSURLRotationWaitsForRefetchGap(t *testing.T) {
	h, ks, k1 := newJWKSHarness(t)
	body := func(key *ecdsa.PrivateKey, kid string) obj { return h.jwksBody(t, key, kid) }
	h.ok(t, body(k1, "kid-1"))
	k2 := ks.publish(t, "kid-2")
	h.clock.Advance(9 * time.Second)
	wantError(t, h.attest(t, body(k2, "kid-2")), badRequest, invalidTok, `The token's key ID "kid-2" matches none of the profile's keys.`)
	h.clock.Advance(time.Second)
	h.ok(t, body(k2, "kid-2"))
	if n := ks.fetchCount(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2", n)
	}
}

// TestProjectsAreIsolated: two projects in one emulator share nothing;
// neither credentials, nor sessions, nor session JWTs.
func TestProjectsAreIsolated(t *testing.T) {
	ks := newKeyServer(t)
	key := ks.publish(t, "kid-1")
	a, b := parseSeed(t, jwksSeed(ks.srv.URL, "project-test-a")), parseSeed(t, jwksSeed(ks.srv.URL, "project-test-b"))
	s := &seed.Seed{Projects: append(a.Projects, b.Projects...)}
	h := newHarness(t, emulator.Options{Seed: s})
	body := func(extra ...any) obj { return h.jwksBody(t, key, "kid-1", extra...) }
	as := func(project string, body obj) response {
		r, err := h.do(http.MethodPost, attestPath, body, project, "secret-test-jwks")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	inA := decodeOK(t, as("project-test-a", body()))
	if !strings.HasPrefix(inA.MemberSession.MemberSessionID, "member-session-test-") {
		t.Errorf("member_session_id %q", inA.MemberSession.MemberSessionID)
	}
	wantError(t, as("project-test-b", body("session_token", inA.SessionToken)), notFound, "session_not_found", noSession)
	wantError(t, as("project-test-b", body("session_jwt", inA.SessionJWT)), badRequest, "unable_to_parse_session_jwt", badSessJWT)
	r, err := h.do(http.MethodPost, attestPath, body(), demo.ProjectID, demo.Secret)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r, http.StatusUnauthorized, "unauthorized_credentials", "Unauthorized credentials.")
	decodeOK(t, as("project-test-a", body("session_jwt", inA.SessionJWT)))
}
