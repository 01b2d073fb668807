package emulator_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
)

// TestSessionJWTVerifiesWithJWKS checks the session JWT the way a Stytch
// SDK would, with the JWKS fetched over HTTP: its signature by RFC 7518 with
// crypto/rsa alone (not the JOSE library that signed it), its claims with
// go-jose.
func TestSessionJWTVerifiesWithJWKS(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	// Sent as raw JSON so that the numbers' exact text is on the wire.
	const customClaims = `{"big": 12345678901234567890, "pi": 3.14159265358979323846264338, "exp10": 1e3, "price": 10.50,
		"nested": {"n": -0.000001}, "plan": "gold", "flags": [true, null]}`
	body := `{"profile_id": "` + demo.ProfileID + `", "token": "` + h.token(t, demo.TokenOptions{Roles: []string{"auditor"}}) +
		`", "session_custom_claims": ` + customClaims + `}`
	a := decodeOK(t, h.attest(t, body))

	jwksURL := h.srv.URL + "/v1/b2b/sessions/jwks/" + demo.ProjectID
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct{ Keys []obj }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	pub := rs256Verify(t, a.SessionJWT, set.Keys[0])

	tok, err := jwt.ParseSigned(a.SessionJWT, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("jwt.ParseSigned: %v", err)
	}
	var std jwt.Claims
	var custom struct {
		Session map[string]any `json:"https://stytch.com/session"`
		Org     map[string]any `json:"https://stytch.com/organization"`
		Plan    string         `json:"plan"`
	}
	if err := tok.Claims(pub, &std, &custom); err != nil {
		t.Fatalf("claims: %v", err)
	}
	expected := jwt.Expected{Issuer: "stytch.com/" + demo.ProjectID, AnyAudience: jwt.Audience{demo.ProjectID}, Time: h.clock.Now()}
	if err := std.ValidateWithLeeway(expected, 0); err != nil {
		t.Fatalf("registered claims: %v", err)
	}

	if std.Subject != a.MemberID {
		t.Errorf("sub %q, want %q", std.Subject, a.MemberID)
	}
	if !reflect.DeepEqual([]string(std.Audience), []string{demo.ProjectID}) {
		t.Errorf("aud %q, want [%q]", std.Audience, demo.ProjectID)
	}
	iat, exp, nbf := std.IssuedAt.Time(), std.Expiry.Time(), std.NotBefore.Time()
	if !iat.Equal(start.Truncate(time.Second)) || !nbf.Equal(iat) || exp.Sub(iat) != 300*time.Second {
		t.Errorf("iat %v nbf %v exp %v; want iat = nbf = now, exp = iat + 300 s", iat, nbf, exp)
	}

	session, org := custom.Session, custom.Org
	if session == nil || org == nil {
		t.Fatalf("session claim %v, organization claim %v", session, org)
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

	if custom.Plan != "gold" {
		t.Errorf("custom claim plan = %q, want gold at the top level", custom.Plan)
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
	expected.Time = h.clock.Now()
	if err := std.ValidateWithLeeway(expected, 0); err == nil {
		t.Error("the session JWT was accepted after its 5 minutes")
	}
}

// rs256Verify checks a compact JWS by RFC 7515 and 7518 with crypto/rsa
// alone: header alg RS256 and the JWK's kid, a PKCS #1 v1.5 SHA-256
// signature by the RSA key the JWK's n and e describe. It returns that key.
func rs256Verify(t *testing.T, tok string, jwk obj) *rsa.PublicKey {
	t.Helper()
	b64 := func(field string) []byte {
		s, _ := jwk[field].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			t.Fatalf("JWK %s %q is not base64url", field, s)
		}
		return b
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(b64("n")), E: int(new(big.Int).SetBytes(b64("e")).Int64())}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var header struct{ Alg, Kid string }
	if err := json.Unmarshal(rawHeader, &header); err != nil || header.Alg != "RS256" || header.Kid != jwk["kid"] {
		t.Fatalf("header %s (%v), want alg RS256 and kid %v", rawHeader, err, jwk["kid"])
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("RS256 signature: %v", err)
	}
	return pub
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
