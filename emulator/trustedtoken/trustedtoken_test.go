package trustedtoken_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/attestd/attestd/emulator/trustedtoken"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/testkit/testjwt"
)

var now = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// rsaKey is generated once per test binary.
var rsaKey = testjwt.RSAKey

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pkix is a public key as a "PUBLIC KEY" PEM block.
func pkix(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

var mapping = trustedtoken.AttributeMapping{
	Email: "email", TokenID: "jti", OrganizationID: "org", ExternalMemberID: "uid", RoleIDs: "roles",
}

// config is a valid PEM-key configuration for keys.
func config(c *fakeclock.Clock, keys ...string) trustedtoken.Config {
	return trustedtoken.Config{Issuer: "https://idp.invalid", Audience: "aud", PEMKeys: keys, Mapping: mapping, Now: c.Now}
}

// claims are valid claims at the clock's time.
func claims(c *fakeclock.Clock) map[string]any {
	n := c.Now()
	return map[string]any{
		"iss": "https://idp.invalid", "aud": "aud", "email": "a@x.example", "jti": "tok-1",
		"iat": n.Unix(), "nbf": n.Unix(), "exp": n.Add(5 * time.Minute).Unix(),
	}
}

// sign signs claims; kid "" means no kid header.
func sign(t *testing.T, key crypto.Signer, alg jose.SignatureAlgorithm, kid string, c map[string]any) string {
	t.Helper()
	return testjwt.Sign(t, key, alg, kid, c)
}

func thumbprint(t *testing.T, pub crypto.PublicKey) string { return testjwt.Thumbprint(t, pub) }

func newVerifier(t *testing.T, cfg trustedtoken.Config) *trustedtoken.Verifier {
	t.Helper()
	v, err := trustedtoken.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func wantFailure(t *testing.T, f *trustedtoken.Failure, typ, msg string) {
	t.Helper()
	if f == nil {
		t.Fatalf("verified, want %s: %s", typ, msg)
	}
	if f.Type != typ || f.Message != msg {
		t.Errorf("failure %s: %q\n want    %s: %q", f.Type, f.Message, typ, msg)
	}
	if f.Error() != typ+": "+msg {
		t.Errorf("Error() = %q", f.Error())
	}
}

func TestNewConfigErrors(t *testing.T) {
	c := fakeclock.New(now)
	ec := pkix(t, ecKey(t, elliptic.P256()).Public())
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519 := pkix(t, x.PublicKey())
	ecDER, err := x509.MarshalECPrivateKey(ecKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	ecPrivate := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}))
	edit := func(f func(*trustedtoken.Config)) trustedtoken.Config {
		cfg := config(c, ec)
		f(&cfg)
		return cfg
	}
	for _, tc := range []struct {
		name string
		cfg  trustedtoken.Config
		want string
	}{
		{"no issuer", edit(func(c *trustedtoken.Config) { c.Issuer = "" }), "issuer is required"},
		{"no audience", edit(func(c *trustedtoken.Config) { c.Audience = "" }), "audience is required"},
		{"no email mapping", edit(func(c *trustedtoken.Config) { c.Mapping.Email = "" }), "attribute_mapping.email is required"},
		{"no token_id mapping", edit(func(c *trustedtoken.Config) { c.Mapping.TokenID = "" }), "attribute_mapping.token_id is required"},
		{"JWKS URL and PEM keys", edit(func(c *trustedtoken.Config) { c.JWKSURL = "https://idp.invalid/jwks" }), "set jwks_url or pem_files, not both"},
		{"no keys", edit(func(c *trustedtoken.Config) { c.PEMKeys = nil }), "jwks_url or pem_files is required"},
		{"six PEM keys", edit(func(c *trustedtoken.Config) { c.PEMKeys = []string{ec, ec, ec, ec, ec, ec} }), "at most 5 pem_files are allowed (as in Stytch)"},
		{"not PEM", edit(func(c *trustedtoken.Config) { c.PEMKeys = []string{"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"} }), "pem_files[0]: not a PEM block"},
		{"second key not PEM", edit(func(c *trustedtoken.Config) { c.PEMKeys = []string{ec, "junk"} }), "pem_files[1]: not a PEM block"},
		{"private key", edit(func(c *trustedtoken.Config) { c.PEMKeys = []string{ecPrivate} }), `pem_files[0]: PEM block "EC PRIVATE KEY" is not a public key`},
		{"X25519 key", edit(func(c *trustedtoken.Config) { c.PEMKeys = []string{x25519} }), "pem_files[0]: unsupported public key type *ecdh.PublicKey"},
		{"JWKS URL not http(s)", trustedtoken.Config{Issuer: "i", Audience: "a", Mapping: mapping, JWKSURL: "ftp://idp.invalid/jwks"},
			`jwks_url "ftp://idp.invalid/jwks" is not an absolute http(s) URL`},
		{"JWKS URL relative", trustedtoken.Config{Issuer: "i", Audience: "a", Mapping: mapping, JWKSURL: "/jwks"},
			`jwks_url "/jwks" is not an absolute http(s) URL`},
		{"JWKS URL without host", trustedtoken.Config{Issuer: "i", Audience: "a", Mapping: mapping, JWKSURL: "https:///jwks"},
			`jwks_url "https:///jwks" is not an absolute http(s) URL`},
		{"JWKS URL unparsable", trustedtoken.Config{Issuer: "i", Audience: "a", Mapping: mapping, JWKSURL: "http://[::1"},
			`jwks_url "http://[::1" is not an absolute http(s) URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := trustedtoken.New(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New: %v, %v; want error %q", v, err, tc.want)
			}
		})
	}
}

func TestParsePEMPublicKeyBadDER(t *testing.T) {
	bad := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("not DER")}))
	if k, err := trustedtoken.ParsePEMPublicKey(bad); err == nil {
		t.Errorf("ParsePEMPublicKey of a PUBLIC KEY block that is not DER: %+v", k)
	}
	// Surrounding whitespace, as YAML block scalars leave it, is fine.
	if _, err := trustedtoken.ParsePEMPublicKey("\n\n  " + pkix(t, ecKey(t, elliptic.P256()).Public()) + "\n\n"); err != nil {
		t.Errorf("ParsePEMPublicKey with whitespace: %v", err)
	}
}

func TestVerifyKeyKinds(t *testing.T) {
	rk := rsaKey()
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)}))
	p256, p384, p521, ed := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384()), ecKey(t, elliptic.P521()), edKey(t)
	for _, tc := range []struct {
		name string
		pem  string
		key  crypto.Signer
		alg  jose.SignatureAlgorithm
	}{
		{"RSA SubjectPublicKeyInfo, RS256", pkix(t, rk.Public()), rk, jose.RS256},
		{"RSA PKCS#1 (RSA PUBLIC KEY), RS256", pkcs1, rk, jose.RS256},
		{"RSA PKCS#1, RS384", pkcs1, rk, jose.RS384},
		{"RSA, RS512", pkix(t, rk.Public()), rk, jose.RS512},
		{"RSA, PS256", pkix(t, rk.Public()), rk, jose.PS256},
		{"RSA, PS512", pkix(t, rk.Public()), rk, jose.PS512},
		{"P-256, ES256", pkix(t, p256.Public()), p256, jose.ES256},
		{"P-384, ES384", pkix(t, p384.Public()), p384, jose.ES384},
		{"P-521, ES512", pkix(t, p521.Public()), p521, jose.ES512},
		{"Ed25519, EdDSA", pkix(t, ed.Public()), ed, jose.EdDSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeclock.New(now)
			v := newVerifier(t, config(c, tc.pem))
			for _, kid := range []string{thumbprint(t, tc.key.Public()), ""} {
				id, f := v.Verify(context.Background(), sign(t, tc.key, tc.alg, kid, claims(c)))
				if f != nil {
					t.Fatalf("kid %q: %v", kid, f)
				}
				if id.Email != "a@x.example" || id.TokenID != "tok-1" {
					t.Errorf("identity %+v", id)
				}
			}
		})
	}
}

func TestVerifyWithoutKidTriesEveryKey(t *testing.T) {
	c := fakeclock.New(now)
	rk, ec, ed := rsaKey(), ecKey(t, elliptic.P256()), edKey(t)
	v := newVerifier(t, config(c, pkix(t, rk.Public()), pkix(t, ec.Public()), pkix(t, ed.Public())))
	for name, tok := range map[string]string{
		"first":  sign(t, rk, jose.RS256, "", claims(c)),
		"second": sign(t, ec, jose.ES256, "", claims(c)),
		"third":  sign(t, ed, jose.EdDSA, "", claims(c)),
	} {
		if _, f := v.Verify(context.Background(), tok); f != nil {
			t.Errorf("%s key: %v", name, f)
		}
	}
	other := ecKey(t, elliptic.P256())
	_, f := v.Verify(context.Background(), sign(t, other, jose.ES256, "", claims(c)))
	wantFailure(t, f, trustedtoken.TypeInvalidToken, "The token's signature does not verify with the profile's keys.")

	// A kid restricts the search to its key.
	_, f = v.Verify(context.Background(), sign(t, ec, jose.ES256, thumbprint(t, ed.Public()), claims(c)))
	wantFailure(t, f, trustedtoken.TypeInvalidToken, "The token's signature does not verify with the profile's keys.")
}

func TestVerifyIdentity(t *testing.T) {
	c := fakeclock.New(now)
	key := ecKey(t, elliptic.P256())
	v := newVerifier(t, config(c, pkix(t, key.Public())))
	verify := func(edit func(map[string]any)) (*trustedtoken.Identity, *trustedtoken.Failure) {
		cl := claims(c)
		edit(cl)
		return v.Verify(context.Background(), sign(t, key, jose.ES256, "", cl))
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want trustedtoken.Identity
	}{
		{"every mapped claim", func(c map[string]any) {
			c["org"], c["uid"], c["roles"] = "organization-test-a", "user-7", []string{"editor", "viewer"}
		}, trustedtoken.Identity{Email: "a@x.example", TokenID: "tok-1", Organization: "organization-test-a", ExternalMemberID: "user-7", RoleIDs: []string{"editor", "viewer"}}},
		{"optional claims absent", func(map[string]any) {}, trustedtoken.Identity{Email: "a@x.example", TokenID: "tok-1"}},
		{"optional claims null", func(c map[string]any) { c["org"], c["uid"], c["roles"] = nil, nil, nil },
			trustedtoken.Identity{Email: "a@x.example", TokenID: "tok-1"}},
		{"no roles", func(c map[string]any) { c["roles"] = []string{} }, trustedtoken.Identity{Email: "a@x.example", TokenID: "tok-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, f := verify(tc.edit)
			if f != nil {
				t.Fatal(f)
			}
			if !reflect.DeepEqual(*id, tc.want) {
				t.Errorf("identity %+v, want %+v", *id, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name      string
		edit      func(map[string]any)
		typ, want string
	}{
		{"empty email", func(c map[string]any) { c["email"] = "" }, trustedtoken.TypeInvalidClaims, `The token's "email" claim is not a non-empty string.`},
		{"null email", func(c map[string]any) { c["email"] = nil }, trustedtoken.TypeInvalidClaims, `The token has no "email" claim, which the profile maps.`},
		{"empty organization", func(c map[string]any) { c["org"] = "" }, trustedtoken.TypeInvalidOrgClaim, `The token's "org" claim is not a non-empty string.`},
		{"organization an object", func(c map[string]any) { c["org"] = map[string]any{"id": "x"} }, trustedtoken.TypeInvalidOrgClaim, `The token's "org" claim is not a non-empty string.`},
		{"external ID a number", func(c map[string]any) { c["uid"] = 7 }, trustedtoken.TypeInvalidClaims, `The token's "uid" claim is not a non-empty string.`},
		{"empty role", func(c map[string]any) { c["roles"] = []string{"editor", ""} }, trustedtoken.TypeInvalidClaims, `The token's "roles" claim is not an array of role IDs.`},
		{"roles an object", func(c map[string]any) { c["roles"] = map[string]any{} }, trustedtoken.TypeInvalidClaims, `The token's "roles" claim is not an array of role IDs.`},
		{"exp a string", func(c map[string]any) { c["exp"] = "tomorrow" }, trustedtoken.TypeInvalidToken,
			"The token's registered claims are malformed (iss, sub and jti must be strings, aud a string or an array of strings, exp, nbf and iat numbers)."},
		{"aud a number", func(c map[string]any) { c["aud"] = 1 }, trustedtoken.TypeInvalidToken,
			"The token's registered claims are malformed (iss, sub and jti must be strings, aud a string or an array of strings, exp, nbf and iat numbers)."},
		{"issuer differs in case", func(c map[string]any) { c["iss"] = "https://IDP.invalid" }, trustedtoken.TypeInvalidIssuer, "The token's iss does not match the profile's issuer."},
		{"no aud", func(c map[string]any) { delete(c, "aud") }, trustedtoken.TypeInvalidAudience, "The token's aud does not contain the profile's audience."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f := verify(tc.edit)
			wantFailure(t, f, tc.typ, tc.want)
		})
	}
}

func TestVerifySkew(t *testing.T) {
	c := fakeclock.New(now)
	key := ecKey(t, elliptic.P256())
	cfg := config(c, pkix(t, key.Public()))
	cfg.Skew = 5 * time.Second
	v := newVerifier(t, cfg)
	at := func(claim string, d time.Duration) string {
		cl := claims(c)
		cl[claim] = c.Now().Add(d).Unix()
		return sign(t, key, jose.ES256, "", cl)
	}
	for _, tc := range []struct {
		name, tok, want string
	}{
		{"exp 5 s ago", at("exp", -5*time.Second), ""},
		{"exp 6 s ago", at("exp", -6*time.Second), "The token has expired."},
		{"nbf in 5 s", at("nbf", 5*time.Second), ""},
		{"nbf in 6 s", at("nbf", 6*time.Second), "The token is not valid yet (nbf)."},
		{"iat in 5 s", at("iat", 5*time.Second), ""},
		{"iat in 6 s", at("iat", 6*time.Second), "The token was issued in the future (iat)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f := v.Verify(context.Background(), tc.tok)
			if tc.want == "" {
				if f != nil {
					t.Fatal(f)
				}
				return
			}
			wantFailure(t, f, trustedtoken.TypeInvalidToken, tc.want)
		})
	}
}

func TestVerifyTokenSize(t *testing.T) {
	c := fakeclock.New(now)
	key := ecKey(t, elliptic.P256())
	v := newVerifier(t, config(c, pkix(t, key.Public())))
	cl := claims(c)
	cl["pad"] = strings.Repeat("x", 11_000) // about 15 KB once encoded: still accepted
	tok := sign(t, key, jose.ES256, "", cl)
	if len(tok) > trustedtoken.MaxTokenBytes {
		t.Fatalf("test token is %d bytes", len(tok))
	}
	if _, f := v.Verify(context.Background(), tok); f != nil {
		t.Errorf("%d-byte token: %v", len(tok), f)
	}
	_, f := v.Verify(context.Background(), tok+strings.Repeat("A", trustedtoken.MaxTokenBytes+1-len(tok)))
	wantFailure(t, f, trustedtoken.TypeInvalidToken, "The token is longer than 16384 bytes.")
}

// jwksServer serves whatever its current handler writes, counting calls.
type jwksServer struct {
	srv *httptest.Server

	mu      sync.Mutex
	answer  func(w http.ResponseWriter)
	fetches int
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	js := &jwksServer{}
	js.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.mu.Lock()
		js.fetches++
		answer := js.answer
		js.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(js.srv.Close)
	return js
}

func (js *jwksServer) serve(answer func(w http.ResponseWriter)) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.answer = answer
}

// serveKeys publishes keys as a JWK set.
func (js *jwksServer) serveKeys(keys ...jose.JSONWebKey) {
	js.serve(func(w http.ResponseWriter) { _ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys}) })
}

func (js *jwksServer) count() int {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.fetches
}

func jwksVerifier(t *testing.T, c *fakeclock.Clock, js *jwksServer) *trustedtoken.Verifier {
	t.Helper()
	return newVerifier(t, trustedtoken.Config{Issuer: "https://idp.invalid", Audience: "aud", JWKSURL: js.srv.URL, Mapping: mapping, Now: c.Now})
}

func TestJWKSFailures(t *testing.T) {
	const prefix = "The profile's verification keys could not be loaded: "
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   string
	}{
		{"HTTP 500", func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, "GET JWKS: HTTP 500"},
		{"not JSON", func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>")) },
			"GET JWKS: not a JWK set: invalid character '<' looking for beginning of value"},
		{"only a symmetric key", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"s"}]}`))
		},
			"GET JWKS: no usable signing key"},
		{"no keys", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"keys":[]}`)) }, "GET JWKS: no usable signing key"},
		{"over 1 MiB", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`))
		},
			"GET JWKS: document larger than 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeclock.New(now)
			js := newJWKSServer(t)
			js.serve(tc.answer)
			v := jwksVerifier(t, c, js)
			key := ecKey(t, elliptic.P256())
			tok := sign(t, key, jose.ES256, "k1", claims(c))
			_, f := v.Verify(context.Background(), tok)
			wantFailure(t, f, trustedtoken.TypeInvalidToken, prefix+tc.want)

			// No refetch within 10 s of a failure.
			_, f = v.Verify(context.Background(), tok)
			wantFailure(t, f, trustedtoken.TypeInvalidToken, prefix+"the JWKS URL failed moments ago")
			if n := js.count(); n != 1 {
				t.Errorf("%d fetches, want 1", n)
			}

			// Once the IdP is fixed, the next attempt after the gap succeeds.
			js.serveKeys(jose.JSONWebKey{Key: key.Public(), KeyID: "k1"})
			c.Advance(10 * time.Second)
			if _, f := v.Verify(context.Background(), tok); f != nil {
				t.Errorf("after the IdP recovered: %v", f)
			}
		})
	}
}

func TestJWKSKeySelection(t *testing.T) {
	c := fakeclock.New(now)
	js := newJWKSServer(t)
	sigKey, encKey, privKey := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P256()), ecKey(t, elliptic.P256())
	js.serveKeys(
		jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac", Algorithm: "HS256"},
		jose.JSONWebKey{Key: encKey.Public(), KeyID: "enc", Use: "enc"},
		jose.JSONWebKey{Key: sigKey.Public(), KeyID: "sig", Use: "sig"},
		jose.JSONWebKey{Key: privKey, KeyID: "private"}, // published by mistake: its public half is used
	)
	v := jwksVerifier(t, c, js)
	for _, kid := range []string{"sig", "private"} {
		key := map[string]*ecdsa.PrivateKey{"sig": sigKey, "private": privKey}[kid]
		if _, f := v.Verify(context.Background(), sign(t, key, jose.ES256, kid, claims(c))); f != nil {
			t.Errorf("kid %s: %v", kid, f)
		}
	}
	if _, f := v.Verify(context.Background(), sign(t, privKey, jose.ES256, "", claims(c))); f != nil {
		t.Errorf("no kid: %v", f)
	}
	c.Advance(10 * time.Second)
	_, f := v.Verify(context.Background(), sign(t, encKey, jose.ES256, "enc", claims(c)))
	wantFailure(t, f, trustedtoken.TypeInvalidToken, `The token's key ID "enc" matches none of the profile's keys.`)
	if n := js.count(); n != 2 {
		t.Errorf("%d fetches, want 2 (the unknown kid refetched once)", n)
	}
}

func TestJWKSCache(t *testing.T) {
	c := fakeclock.New(now)
	js := newJWKSServer(t)
	k1, k2 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P256())
	js.serveKeys(jose.JSONWebKey{Key: k1.Public(), KeyID: "k1"})
	v := jwksVerifier(t, c, js)
	verify := func(key *ecdsa.PrivateKey, kid string) *trustedtoken.Failure {
		_, f := v.Verify(context.Background(), sign(t, key, jose.ES256, kid, claims(c)))
		return f
	}
	if f := verify(k1, "k1"); f != nil {
		t.Fatal(f)
	}
	c.Advance(9 * time.Minute)
	if f := verify(k1, "k1"); f != nil || js.count() != 1 {
		t.Fatalf("within the TTL: %v, %d fetches", f, js.count())
	}

	// The IdP fails while the cache is fresh: a new kid keeps the cache.
	js.serve(func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	wantFailure(t, verify(k2, "k2"), trustedtoken.TypeInvalidToken, `The token's key ID "k2" matches none of the profile's keys.`)
	if f := verify(k1, "k1"); f != nil {
		t.Errorf("known kid while the IdP fails: %v", f)
	}

	// Past the TTL the keys are refetched; a stale cache is not used.
	c.Advance(time.Minute)
	wantFailure(t, verify(k1, "k1"), trustedtoken.TypeInvalidToken, "The profile's verification keys could not be loaded: GET JWKS: HTTP 502")
	js.serveKeys(jose.JSONWebKey{Key: k2.Public(), KeyID: "k2"})
	c.Advance(10 * time.Second)
	if f := verify(k2, "k2"); f != nil {
		t.Errorf("after rotation: %v", f)
	}
	c.Advance(10 * time.Second)
	wantFailure(t, verify(k1, "k1"), trustedtoken.TypeInvalidToken, `The token's key ID "k1" matches none of the profile's keys.`)
	if n := js.count(); n != 5 {
		t.Errorf("%d fetches, want 5", n)
	}
}
