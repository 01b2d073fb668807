package emulator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
)

// TestSessionJWTVerifiesWithJWKS checks the session JWT the way a Stytch
// SDK would, with another JOSE library (jwx) and the emulator's JWKS.
func TestSessionJWTVerifiesWithJWKS(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	// Sent as raw JSON so that the numbers' exact text is on the wire.
	const customClaims = `{"big": 12345678901234567890, "pi": 3.14159265358979323846264338, "exp10": 1e3, "price": 10.50,
		"nested": {"n": -0.000001}, "plan": "gold", "flags": [true, null]}`
	body := `{"profile_id": "` + demo.ProfileID + `", "token": "` + h.token(t, demo.TokenOptions{Roles: []string{"auditor"}}) +
		`", "session_custom_claims": ` + customClaims + `}`
	a := decodeOK(t, h.attest(t, body))

	jwksURL := h.srv.URL + "/v1/b2b/sessions/jwks/" + demo.ProjectID
	set, err := jwk.Fetch(context.Background(), jwksURL)
	if err != nil {
		t.Fatalf("jwk.Fetch: %v", err)
	}
	if set.Len() != 1 {
		t.Fatalf("JWKS has %d keys, want 1", set.Len())
	}
	tok, err := jwt.Parse([]byte(a.SessionJWT),
		jwt.WithKeySet(set),
		jwt.WithIssuer("stytch.com/"+demo.ProjectID),
		jwt.WithAudience(demo.ProjectID),
		jwt.WithClock(jwt.ClockFunc(h.clock.Now)))
	if err != nil {
		t.Fatalf("jwt.Parse: %v", err)
	}

	if sub, _ := tok.Subject(); sub != a.MemberID {
		t.Errorf("sub %q, want %q", sub, a.MemberID)
	}
	if aud, _ := tok.Audience(); !reflect.DeepEqual(aud, []string{demo.ProjectID}) {
		t.Errorf("aud %q, want [%q]", aud, demo.ProjectID)
	}
	iat, _ := tok.IssuedAt()
	exp, _ := tok.Expiration()
	nbf, _ := tok.NotBefore()
	if !iat.Equal(start.Truncate(time.Second)) || !nbf.Equal(iat) || exp.Sub(iat) != 300*time.Second {
		t.Errorf("iat %v nbf %v exp %v; want iat = nbf = now, exp = iat + 300 s", iat, nbf, exp)
	}

	var session, org map[string]any
	if err := tok.Get("https://stytch.com/session", &session); err != nil {
		t.Fatalf("session claim: %v", err)
	}
	if err := tok.Get("https://stytch.com/organization", &org); err != nil {
		t.Fatalf("organization claim: %v", err)
	}
	ms := a.json["member_session"]
	for _, k := range []string{"started_at", "last_accessed_at", "expires_at", "roles", "authentication_factors"} {
		if !reflect.DeepEqual(session[k], path(ms, k)) {
			t.Errorf("session claim %s = %s, want %s (as in member_session)", k, mustJSON(session[k]), mustJSON(path(ms, k)))
		}
	}
	if session["id"] != a.MemberSession.MemberSessionID {
		t.Errorf("session claim id %v, want %s", session["id"], a.MemberSession.MemberSessionID)
	}
	wantJSON(t, "session claim roles", session["roles"], `["stytch_member","stytch_admin","auditor"]`)
	wantJSON(t, "session claim attributes", session["attributes"], `{"ip_address": "127.0.0.1", "user_agent": "Go-http-client/1.1"}`)
	wantJSON(t, "organization claim", org, `{"organization_id": "`+acmeID+`", "slug": "acme"}`)

	var plan string
	if err := tok.Get("plan", &plan); err != nil || plan != "gold" {
		t.Errorf("custom claim plan = %q (%v), want gold at the top level", plan, err)
	}
	// Numbers keep their exact text in the JWT and in the response.
	claims := jwtPayload(t, a.SessionJWT)
	for k, want := range map[string]json.Number{"big": "12345678901234567890", "pi": "3.14159265358979323846264338", "exp10": "1e3", "price": "10.50"} {
		if claims[k] != want {
			t.Errorf("session JWT claim %s = %v, want %s", k, claims[k], want)
		}
	}
	if n := path(claims["nested"], "n"); n != json.Number("-0.000001") {
		t.Errorf("session JWT claim nested.n = %v, want -0.000001", n)
	}
	var raw struct {
		MemberSession struct {
			CustomClaims json.RawMessage `json:"custom_claims"`
		} `json:"member_session"`
	}
	if err := json.Unmarshal(a.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, lit := range []string{`"big":12345678901234567890`, `"pi":3.14159265358979323846264338`, `"exp10":1e3`, `"price":10.50`} {
		if !strings.Contains(string(raw.MemberSession.CustomClaims), lit) {
			t.Errorf("member_session.custom_claims %s lacks %s", raw.MemberSession.CustomClaims, lit)
		}
	}

	h.clock.Advance(5*time.Minute + time.Second)
	if _, err := jwt.Parse([]byte(a.SessionJWT), jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(h.clock.Now))); err == nil {
		t.Error("jwx accepted the session JWT after its 5 minutes")
	}
}

func TestJWKSEndpoint(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r, err := h.do(http.MethodGet, "/v1/b2b/sessions/jwks/"+demo.ProjectID, nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("HTTP %d %s: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var body obj
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body["status_code"] != float64(200) || !strings.HasPrefix(body["request_id"].(string), "request-id-test-") {
		t.Errorf("status_code %v request_id %v", body["status_code"], body["request_id"])
	}
	keys, _ := body["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("keys: %s", mustJSON(body["keys"]))
	}
	k := keys[0].(obj)
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["n"] == nil || k["e"] == nil ||
		!strings.HasPrefix(k["kid"].(string), "jwk-") || k["d"] != nil {
		t.Errorf("JWKS key %s is not a public RS256 signing key", mustJSON(k))
	}
	if k["kid"] != "jwk-"+kidOf(t, sessionKey().Public()) {
		t.Errorf("kid %v, want jwk- and the key's thumbprint", k["kid"])
	}

	r, err = h.do(http.MethodGet, "/v1/b2b/sessions/jwks/project-test-unknown", nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r, http.StatusNotFound, "project_not_found", "Project project-test-unknown could not be found.")
}
