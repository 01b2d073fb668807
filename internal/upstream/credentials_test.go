package upstream_test

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/upstream"
)

// wrongSecret is a secret the credentials fake does not accept at first.
const wrongSecret = "secret-test-wrong-d3Jvbmctc2VjcmV0LW5vdC1hLXNlY3JldA"

var wantRejected = want{apierr.TypeUpstreamCredentialsRejected, codes.Unavailable, http.StatusServiceUnavailable}

// credentialsFake is a Stytch attest route that checks Basic auth against a
// secret the test can change (a rotated secret taking effect), answering a
// wrong one with Stytch's 401 unauthorized_credentials and, as Stytch
// does, judging the body only after the credentials: `{}` gets a 400.
// override, when set, answers every call instead.
type credentialsFake struct {
	*httptest.Server
	secret   atomic.Pointer[string]
	override atomic.Pointer[http.Handler]
	mu       sync.Mutex
	paths    []string // method and path of every call
	auths    []string // Authorization of every call
	bodies   []string // body of every call
}

func newCredentialsFake(t *testing.T, secret string) *credentialsFake {
	f := &credentialsFake{}
	f.accept(secret)
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *credentialsFake) accept(secret string) { f.secret.Store(&secret) }

func (f *credentialsFake) answer(h http.Handler) { f.override.Store(&h) }

func (f *credentialsFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	body, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	if h := f.override.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != stytchtest.ProjectID || secret != *f.secret.Load() {
		stytchtest.Error(http.StatusUnauthorized, "unauthorized_credentials", "Unauthorized credentials.").ServeHTTP(w, r)
		return
	}
	switch {
	case r.Method+" "+r.URL.Path != "POST "+upstream.AttestPath:
		stytchtest.Error(http.StatusNotFound, "route_not_found", "no such route").ServeHTTP(w, r)
	case string(body) == "{}":
		stytchtest.Error(http.StatusBadRequest, "bad_request", "profile_id is a required field.").ServeHTTP(w, r)
	default:
		stytchtest.Respond(http.StatusOK, stytchtest.Typical()).ServeHTTP(w, r)
	}
}

// verdicts records every OnCredentials call.
type verdicts struct {
	mu   sync.Mutex
	seen []bool
}

func (v *verdicts) record(rejected bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = append(v.seen, rejected)
}

func (v *verdicts) get() []bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.seen)
}

// credentialsClient is a client of fake with secret, recording verdicts.
func credentialsClient(t *testing.T, fake *credentialsFake, secret string) (*upstream.Client, *verdicts) {
	v := &verdicts{}
	c := newClient(t, fake.URL, func(o *upstream.Options) { o.Secret, o.OnCredentials = secret, v.record })
	return c, v
}

// expect asserts the state and every verdict so far.
func expect(t *testing.T, c *upstream.Client, v *verdicts, rejected bool, seen ...bool) {
	t.Helper()
	if c.CredentialsRejected() != rejected {
		t.Errorf("CredentialsRejected %v, want %v", c.CredentialsRejected(), rejected)
	}
	if got := v.get(); !slices.Equal(got, seen) {
		t.Errorf("OnCredentials calls %v, want %v", got, seen)
	}
}

// noSecret asserts err says nothing of either secret.
func noSecret(t *testing.T, err error) {
	t.Helper()
	e := apiErr(t, err)
	for _, s := range []string{wrongSecret, stytchtest.Secret} {
		if strings.Contains(err.Error(), s) || strings.Contains(e.Status().String(), s) || strings.Contains(e.Body.String(), s) {
			t.Errorf("the error names a secret: %v", e.Status())
		}
	}
}

// TestCredentialsRejected: Stytch refusing attestd's secret is attestd's
// upstream_credentials_rejected, recorded once; once Stytch accepts the
// secret again (it was rotated to match), CheckCredentials or a successful
// attest clears it, again told once.
func TestCredentialsRejected(t *testing.T) {
	for _, recovery := range []string{"CheckCredentials", "Attest"} {
		t.Run("recovered by "+recovery, func(t *testing.T) {
			fake := newCredentialsFake(t, stytchtest.Secret)
			client, v := credentialsClient(t, fake, wrongSecret)
			expect(t, client, v, false)

			for range 3 {
				err := attest(t, client)
				e := wantRejected.check(t, err)
				if e.Domain != apierr.DomainAttestd || e.Body.GetRequestId() != "request-id-test-fake-0001" ||
					e.Body.GetErrorMessage() != "Stytch rejected attestd's project credentials (project ID and secret): attestd is misconfigured" {
					t.Errorf("got %q %q %q", e.Domain, e.Body.GetRequestId(), e.Body.GetErrorMessage())
				}
				var stytch *apierr.Error
				if !errors.As(errors.Unwrap(err), &stytch) || stytch.Body.GetErrorType() != "unauthorized_credentials" {
					t.Errorf("Stytch's own error is not kept as the cause, for logs: %v", errors.Unwrap(err))
				}
				noSecret(t, err)
			}
			expect(t, client, v, true, true)
			wantRejected.check(t, client.CheckCredentials(ctx(t)))
			expect(t, client, v, true, true)
			if client.BreakerState() != "closed" {
				t.Errorf("breaker %q: Stytch refusing credentials is Stytch up", client.BreakerState())
			}

			fake.accept(wrongSecret)
			switch recovery {
			case "CheckCredentials":
				if err := client.CheckCredentials(ctx(t)); err != nil {
					t.Fatalf("CheckCredentials: %v", err)
				}
			case "Attest":
				if err := attest(t, client); err != nil {
					t.Fatalf("Attest: %v", err)
				}
			}
			expect(t, client, v, false, true, false)
			if err := client.CheckCredentials(ctx(t)); err != nil {
				t.Fatalf("CheckCredentials: %v", err)
			}
			if err := attest(t, client); err != nil {
				t.Fatalf("Attest: %v", err)
			}
			expect(t, client, v, false, true, false)

			// Rotated away again: CheckCredentials sees it first.
			fake.accept(stytchtest.Secret)
			wantRejected.check(t, client.CheckCredentials(ctx(t)))
			expect(t, client, v, true, true, false, true)
		})
	}
}

// TestCheckCredentialsOnTheWire: the check is an attest with the empty
// body `{}` and the project's Basic credentials, under the base URL's
// prefix: it can create nothing, and Stytch's 400 for it says the
// credentials passed.
func TestCheckCredentialsOnTheWire(t *testing.T) {
	for _, prefix := range []string{"", "/prefix", "/prefix/"} {
		t.Run("prefix "+prefix, func(t *testing.T) {
			fake := newCredentialsFake(t, stytchtest.Secret)
			fake.answer(stytchtest.Error(http.StatusBadRequest, "bad_request", "profile_id is a required field."))
			client := newClient(t, fake.URL+prefix)
			if err := client.CheckCredentials(ctx(t)); err != nil {
				t.Fatalf("CheckCredentials: %v", err)
			}
			want := "POST " + strings.TrimSuffix(prefix, "/") + upstream.AttestPath
			wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(stytchtest.ProjectID+":"+stytchtest.Secret))
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if !slices.Equal(fake.paths, []string{want}) || fake.auths[0] != wantAuth || fake.bodies[0] != "{}" {
				t.Errorf("calls %v with %v and %q, want [%s] with the project's Basic auth and {}", fake.paths, fake.auths, fake.bodies, want)
			}
		})
	}
}

// TestCredentialsUnchangedByOtherAnswers: only Stytch's 401
// unauthorized_credentials is a verdict on attestd's credentials. Any other
// answer, to attest or to the check, is the caller's error or tells nothing,
// and changes nothing either way: no caller can make a replica look
// misconfigured, and no proxy can make a misconfigured one look fine.
func TestCredentialsUnchangedByOtherAnswers(t *testing.T) {
	cases := []struct {
		name   string
		answer http.Handler
		// code of Attest's error; the check returns the same answer's error.
		code codes.Code
	}{
		{"Stytch 401 with another error_type", stytchtest.Error(401, "unauthorized_action", "no"), codes.Unauthenticated},
		{"Stytch 403", stytchtest.Error(403, "organization_suspended", "suspended"), codes.PermissionDenied},
		{"Stytch 404", stytchtest.Error(404, "project_not_found", "who"), codes.NotFound},
		{"Stytch 422", stytchtest.Error(422, "invalid_trusted_auth_token", "bad"), codes.InvalidArgument},
		{"HTML 401 from a proxy", typed(401, "text/html", []byte("<html>401</html>")), codes.Unavailable},
		{"Stytch 500", stytchtest.Error(500, "internal_server_error", "boom"), codes.Internal},
		{"307", typed(307, "", nil), codes.Unavailable},
		// An answer that is not Stytch's (a captive portal, a proxy) proves
		// nothing about the credentials.
		{"HTML 200", typed(200, "text/html", []byte("<html>Welcome</html>")), codes.Internal},
		{"HTML 400", typed(400, "text/html", []byte("<html>Bad Request</html>")), codes.Unavailable},
	}
	for _, tc := range cases {
		for _, start := range []bool{false, true} {
			t.Run(map[bool]string{false: "accepted/", true: "rejected/"}[start]+tc.name, func(t *testing.T) {
				fake := newCredentialsFake(t, stytchtest.Secret)
				client, v := credentialsClient(t, fake, stytchtest.Secret)
				var seen []bool
				if start { // get rejected first, by the real verdict
					fake.accept(wrongSecret)
					wantRejected.check(t, attest(t, client))
					seen = []bool{true}
				}
				expect(t, client, v, start, seen...)

				fake.answer(tc.answer)
				err := attest(t, client)
				if e := apiErr(t, err); e.Code != tc.code || e.Body.GetErrorType() == apierr.TypeUpstreamCredentialsRejected {
					t.Errorf("Attest: %v %q, want %v", e.Code, e.Body.GetErrorType(), tc.code)
				}
				if err := client.CheckCredentials(ctx(t)); err == nil ||
					apiErr(t, err).Body.GetErrorType() == apierr.TypeUpstreamCredentialsRejected {
					t.Errorf("CheckCredentials: %v, want an error that is not a verdict", err)
				}
				expect(t, client, v, start, seen...)
			})
		}
	}
}

// TestCheckCredentialsWhenStytchIsDown: a check that gets no answer tells
// nothing.
func TestCheckCredentialsWhenStytchIsDown(t *testing.T) {
	fake := newCredentialsFake(t, wrongSecret)
	client, v := credentialsClient(t, fake, stytchtest.Secret)
	wantRejected.check(t, attest(t, client))
	fake.Close()
	wantUnavailable.check(t, client.CheckCredentials(ctx(t)))
	expect(t, client, v, true, true)
}

// TestCredentialsVerdictToldOnce: many calls seeing the same rejection at
// once tell OnCredentials once, and one success after tells it once.
func TestCredentialsVerdictToldOnce(t *testing.T) {
	fake := newCredentialsFake(t, stytchtest.Secret)
	client, v := credentialsClient(t, fake, wrongSecret)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.Attest(ctx(t), validRequest())
			if e, ok := err.(*apierr.Error); !ok || e.Body.GetErrorType() != apierr.TypeUpstreamCredentialsRejected {
				t.Errorf("Attest: %v", err)
			}
		}()
	}
	wg.Wait()
	expect(t, client, v, true, true)
	fake.accept(wrongSecret)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := client.CheckCredentials(ctx(t)); err != nil {
				t.Errorf("CheckCredentials: %v", err)
			}
		}()
	}
	wg.Wait()
	expect(t, client, v, false, true, false)
}

// TestSecretSourceRotates: with a SecretSource, each request carries the
// secret it returns now: the secret file's rotation reaches Stytch on the
// next call, and a rejection clears once the rotated secret is accepted.
func TestSecretSourceRotates(t *testing.T) {
	fake := newCredentialsFake(t, stytchtest.Secret)
	var current atomic.Pointer[string]
	set := func(s string) { current.Store(&s) }
	set(wrongSecret)
	v := &verdicts{}
	client := newClient(t, fake.URL, func(o *upstream.Options) {
		o.Secret, o.SecretSource, o.OnCredentials = "unused", func() string { return *current.Load() }, v.record
	})
	wantRejected.check(t, attest(t, client))
	set(stytchtest.Secret)
	if err := attest(t, client); err != nil {
		t.Fatalf("Attest after the rotation: %v", err)
	}
	expect(t, client, v, false, true, false)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	want := []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte(stytchtest.ProjectID+":"+wrongSecret)),
		"Basic " + base64.StdEncoding.EncodeToString([]byte(stytchtest.ProjectID+":"+stytchtest.Secret)),
	}
	if !slices.Equal(fake.auths, want) {
		t.Errorf("Authorization headers %q, want %q", fake.auths, want)
	}
}
