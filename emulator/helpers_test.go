package emulator_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
	"github.com/attestd/attestd/emulator/seed"
	"github.com/attestd/attestd/emulator/trustedtoken"
	"github.com/attestd/attestd/emulator/wire"
	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/testkit/testjwt"
)

// Answers the tests expect in several places.
const (
	badRequest  = http.StatusBadRequest
	notFound    = http.StatusNotFound
	invalidTok  = "invalid_trusted_auth_token"
	badAlgMsg   = "The token is not a JWS-signed JWT with an accepted algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)."
	badSigMsg   = "The token's signature does not verify with the profile's keys."
	noSession   = "Session could not be found."
	badSessJWT  = "session_jwt is not a session JWT issued for this project."
	acmeID      = demo.OrganizationID
	suspendedID = demo.SuspendedOrganizationID
)

// obj is a JSON object literal.
type obj = map[string]any

// start is the fake clock's initial time; the fraction checks that the
// emulator renders whole seconds.
var start = time.Date(2031, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// sessionKey signs session JWTs; one key per test binary keeps tests fast.
var sessionKey = testjwt.RSAKey

// otherRSAKey is an RSA key no profile and no emulator trusts.
var otherRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// harness is one emulator behind a real HTTP server, with a fake clock.
type harness struct {
	clock             *fakeclock.Clock
	srv               *httptest.Server
	projectID, secret string
}

// newHarness serves an emulator built from o; Now and SigningKey default to
// the harness clock and the shared key, credentials to the demo ones.
func newHarness(t *testing.T, o emulator.Options) *harness {
	t.Helper()
	h := &harness{clock: fakeclock.New(start), projectID: demo.ProjectID, secret: demo.Secret}
	if o.Now == nil {
		o.Now = h.clock.Now
	}
	if o.SigningKey == nil {
		o.SigningKey = sessionKey()
	}
	if o.ProjectID != "" {
		h.projectID, h.secret = o.ProjectID, o.Secret
	}
	e, err := emulator.New(o)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	h.srv = httptest.NewServer(e)
	t.Cleanup(h.srv.Close)
	return h
}

// response is an HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with an optional JSON body (a string is sent as is)
// and Basic auth when user is not empty. It is safe in any goroutine.
func (h *harness) do(method, path string, body any, user, pass string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

const attestPath = "/v1/b2b/sessions/attest"

// send posts an attest request with the harness credentials.
func (h *harness) send(body any) (response, error) {
	return h.do(http.MethodPost, attestPath, body, h.projectID, h.secret)
}

// attest posts an attest request with the harness credentials.
func (h *harness) attest(t *testing.T, body any) response {
	t.Helper()
	r, err := h.send(body)
	if err != nil {
		t.Fatalf("POST attest: %v", err)
	}
	return r
}

// attested is a successful attest answer, typed and as generic JSON.
type attested struct {
	wire.AttestResponse
	json obj
	body []byte
}

// ok posts an attest request that must succeed.
func (h *harness) ok(t *testing.T, body any) attested {
	t.Helper()
	return decodeOK(t, h.attest(t, body))
}

func decodeOK(t *testing.T, r response) attested {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("attest: HTTP %d, want 200: %s", r.status, r.body)
	}
	a := attested{body: r.body}
	if err := json.Unmarshal(r.body, &a.AttestResponse); err != nil {
		t.Fatalf("attest answer: %v", err)
	}
	if err := json.Unmarshal(r.body, &a.json); err != nil {
		t.Fatalf("attest answer: %v", err)
	}
	return a
}

// token mints a demo token issued at the harness clock's time.
func (h *harness) token(t *testing.T, o demo.TokenOptions) string {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = h.clock.Now()
	}
	tok, _, err := demo.Token(o)
	if err != nil {
		t.Fatalf("demo.Token: %v", err)
	}
	return tok
}

// claims are the claims of a valid token for Alice from the RS256 demo
// profile at the harness clock's time; tests edit them to break them.
func (h *harness) claims() obj {
	now := h.clock.Now()
	return obj{
		"iss":    demo.Issuer,
		"aud":    demo.Audience,
		"sub":    "idp|alice",
		"email":  demo.Email,
		"jti":    "hand-" + randomHex(),
		"org_id": demo.OrganizationID,
		"iat":    now.Unix(),
		"nbf":    now.Unix(),
		"exp":    now.Add(5 * time.Minute).Unix(),
	}
}

// handToken signs claims with a demo profile's key and its kid.
func handToken(t *testing.T, profile string, claims obj) string {
	t.Helper()
	key, err := demo.PrivateKey(profile)
	if err != nil {
		t.Fatal(err)
	}
	alg := jose.RS256
	if profile == demo.JITProfileID {
		alg = jose.ES256
	}
	return sign(t, key, alg, kidOf(t, key.Public()), claims)
}

// sign signs claims as a compact JWT; kid "" leaves the header without one.
func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, claims obj) string {
	t.Helper()
	return testjwt.Sign(t, key, alg, kid, claims)
}

// kidOf is the kid the emulator expects for a key: its RFC 7638 thumbprint.
func kidOf(t *testing.T, pub crypto.PublicKey) string { return testjwt.Thumbprint(t, pub) }

// jtiOf reads a token's jti without verifying it.
func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, trustedtoken.Algorithms)
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// wantError checks an answer is exactly Stytch's error body for status and
// type; only request_id's prefix is checked.
func wantError(t *testing.T, r response, status int, typ, msg string) {
	t.Helper()
	if r.status != status {
		t.Errorf("HTTP status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got obj
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %s", err, r.body)
	}
	rid, _ := got["request_id"].(string)
	if !strings.HasPrefix(rid, "request-id-test-") {
		t.Errorf("request_id %q lacks the prefix request-id-test-", got["request_id"])
	}
	want := obj{
		"status_code":   float64(status),
		"request_id":    rid,
		"error_type":    typ,
		"error_message": msg,
		"error_url":     fmt.Sprintf("https://stytch.com/docs/api-reference/b2b/api/errors/%d#%s", status, typ),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("error body\n got  %s\n want %s", mustJSON(got), mustJSON(want))
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// errorCase is one request that must fail; run builds and sends it against
// a fresh emulator (built from opts).
type errorCase struct {
	name   string
	opts   func() emulator.Options
	run    func(t *testing.T, h *harness) response
	status int
	typ    string
	msg    string
}

func runErrorCases(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var o emulator.Options
			if tc.opts != nil {
				o = tc.opts()
			}
			h := newHarness(t, o)
			wantError(t, tc.run(t, h), tc.status, tc.typ, tc.msg)
		})
	}
}

// keyServer publishes a JWKS over HTTP and counts the fetches.
type keyServer struct {
	srv *httptest.Server

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches int
}

func newKeyServer(t *testing.T) *keyServer {
	t.Helper()
	ks := &keyServer{}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		ks.fetches++
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), ks.keys...)}
		ks.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

// publish adds a fresh P-256 key under kid and returns its private half.
func (ks *keyServer) publish(t *testing.T, kid string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys = append(ks.keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"})
	return k
}

func (ks *keyServer) fetchCount() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
}

// stamp renders t as Stytch does: RFC 3339, UTC, whole seconds.
func stamp(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// path walks nested JSON objects.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(obj)
		v = m[k]
	}
	return v
}

// wantJSON compares a value with a JSON literal, both parsed.
func wantJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad JSON literal for %s: %v", what, err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s\n got  %s\n want %s", what, mustJSON(got), want)
	}
}

func wantKeys(t *testing.T, what string, v any, keys []string) {
	t.Helper()
	m, ok := v.(obj)
	if !ok {
		t.Fatalf("%s is %T, not an object", what, v)
	}
	for _, k := range keys {
		if val, ok := m[k]; !ok || val == nil {
			t.Errorf("%s lacks always-present key %q (or it is null)", what, k)
		}
	}
}

// jwtPayload decodes a JWT's claims without verifying them, keeping numbers
// as written.
func jwtPayload(t *testing.T, tok string) obj {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var c obj
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// concurrently runs f(i) for i in [0, n) in n goroutines released at once,
// and returns their answers in order.
func concurrently(n int, f func(i int) (response, error)) ([]response, []error) {
	resps, errs := make([]response, n), make([]error, n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-release
			resps[i], errs[i] = f(i)
		})
	}
	close(release)
	wg.Wait()
	return resps, errs
}

// with sets extra key/value pairs in an attest body.
func with(b obj, extra ...any) obj {
	for i := 0; i+1 < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

// req is an attest body for a demo-profile token, with extra key/value pairs.
func req(token string, extra ...any) obj {
	return with(obj{"profile_id": demo.ProfileID, "token": token}, extra...)
}

// jitReq is an attest body for a JIT-profile token, with extra key/value pairs.
func jitReq(token string, extra ...any) obj {
	return with(obj{"profile_id": demo.JITProfileID, "token": token}, extra...)
}

// alice is a valid attest body for Alice.
func (h *harness) alice(t *testing.T, extra ...any) obj {
	t.Helper()
	return req(h.token(t, demo.TokenOptions{}), extra...)
}

// withClaims is a demo-profile attest body for hand-made claims.
func (h *harness) withClaims(t *testing.T, edit func(c obj), extra ...any) obj {
	t.Helper()
	c := h.claims()
	edit(c)
	return req(handToken(t, demo.ProfileID, c), extra...)
}

// kidOfProfile is the kid of a demo profile's key.
func kidOfProfile(t *testing.T, profile string) string {
	t.Helper()
	key, err := demo.PrivateKey(profile)
	if err != nil {
		t.Fatal(err)
	}
	return kidOf(t, key.Public())
}

// withDeletedMember is the demo seed plus a deleted member of Acme.
func withDeletedMember() emulator.Options {
	s := demo.Seed()
	org := &s.Projects[0].Organizations[0]
	org.Members = append(org.Members, wire.Member{EmailAddress: "gone@acme.example", Status: "deleted"})
	return emulator.Options{Seed: s}
}

// otherEmulatorJWT is a session JWT from another emulator (another key).
func otherEmulatorJWT(t *testing.T) string {
	t.Helper()
	h := newHarness(t, emulator.Options{SigningKey: otherRSAKey()})
	return h.ok(t, h.alice(t)).SessionJWT
}

// jwksBody is an attest body for the member of jwksSeed, with a token
// signed by key under kid.
func (h *harness) jwksBody(t *testing.T, key *ecdsa.PrivateKey, kid string, extra ...any) obj {
	t.Helper()
	tok := sign(t, key, jose.ES256, kid, obj{
		"iss": "https://idp.jwks.invalid", "aud": "jwks-aud", "mail": "erin@jwks.example", "token_id": "t-" + randomHex(),
		"tenant": "tenant-7", "exp": h.clock.Now().Add(time.Minute).Unix(),
	})
	return with(obj{"profile_id": "jwks-profile", "token": tok}, extra...)
}

// parseSeed parses a YAML seed or fails the test.
func parseSeed(t *testing.T, yaml string) *seed.Seed {
	t.Helper()
	s, err := seed.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newJWKSHarness is an emulator whose one project (project-test-jwks) has a
// JWKS-URL profile, with the key server and the key published as kid-1.
func newJWKSHarness(t *testing.T) (*harness, *keyServer, *ecdsa.PrivateKey) {
	t.Helper()
	ks := newKeyServer(t)
	k1 := ks.publish(t, "kid-1")
	s := parseSeed(t, jwksSeed(ks.srv.URL, "project-test-jwks"))
	return newHarness(t, emulator.Options{ProjectID: "project-test-jwks", Secret: "secret-test-jwks", Seed: s}), ks, k1
}

// jwksSeed is a seed, in YAML, with one project whose profile reads its
// keys from jwksURL and maps non-default claim names.
func jwksSeed(jwksURL, projectID string) string {
	return fmt.Sprintf(`
projects:
  - project_id: %s
    secret: secret-test-jwks
    trusted_token_profiles:
      - profile_id: jwks-profile
        issuer: https://idp.jwks.invalid
        audience: jwks-aud
        jwks_url: %s
        attribute_mapping: {email: mail, token_id: token_id, organization_id: tenant}
    organizations:
      - organization_id: organization-test-jwks
        organization_name: JWKS Co
        organization_slug: jwks-co
        organization_external_id: tenant-7
        members:
          - email_address: erin@jwks.example
`, projectID, jwksURL)
}
