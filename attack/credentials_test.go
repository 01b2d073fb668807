package attack

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/service/stytchtest"
)

// switchableStytch answers as Stytch does when it rejects the project's
// credentials (401 unauthorized_credentials on every route) while rejecting
// is set, and otherwise as a healthy Stytch: the typical attest answer, and a
// JWKS on Stytch's JWKS route (which attestd may use to test its
// credentials). other, when set, answers attest calls instead.
type switchableStytch struct {
	rejecting atomic.Bool
	other     atomic.Pointer[http.Handler]
}

func (s *switchableStytch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.rejecting.Load():
		stytchtest.Error(http.StatusUnauthorized, "unauthorized_credentials", "Unauthorized credentials.").ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/b2b/sessions/jwks/"):
		stytchtest.Respond(http.StatusOK, []byte(`{"keys":[],"request_id":"request-id-test-jwks","status_code":200}`)).ServeHTTP(w, r)
	case s.other.Load() != nil:
		(*s.other.Load()).ServeHTTP(w, r)
	default:
		stytchtest.Respond(http.StatusOK, stytchtest.Typical()).ServeHTTP(w, r)
	}
}

// readyz is the admin listener's /readyz status.
func (tg *target) readyz(t *testing.T) (int, string) {
	t.Helper()
	code, body, err := tg.get("/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	return code, strings.TrimSpace(body)
}

// waitReadyz polls /readyz until it answers want, at most for d.
func (tg *target) waitReadyz(t *testing.T, want int, d time.Duration) (int, string, time.Duration) {
	t.Helper()
	begin := time.Now()
	for {
		code, body := tg.readyz(t)
		if code == want || time.Since(begin) > d {
			return code, body, time.Since(begin)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWrongStytchSecret attacks readiness and blame with Stytch rejecting
// attestd's own credentials (401 unauthorized_credentials). Must hold:
// callers get attestd's own 5xx upstream_credentials_rejected (REST 503,
// gRPC Unavailable, domain attestd), never Stytch's 401 as if the caller's
// credentials were wrong; /readyz on the admin port turns 503; a metric
// shows it (attestd_attest_calls_total names the error_type); and once Stytch accepts again, /readyz returns to 200 without
// any caller's help (attestd re-checks by itself). Other Stytch 4xx answers
// (404 member_not_found, 403 organization_suspended, 401 of another type)
// never make attestd unready: no caller can take a replica out.
func TestWrongStytchSecret(t *testing.T) {
	fake := stytchtest.NewServer(t)
	stytch := &switchableStytch{}
	fake.Handle(stytch)
	tg := start(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if code, body := tg.readyz(t); code != http.StatusOK {
		t.Fatalf("/readyz before the attack: %d %s", code, body)
	}

	// The caller's own 4xx: answered as Stytch's, readiness untouched.
	for _, h := range []struct {
		status    int
		errorType string
		code      codes.Code
	}{
		{http.StatusNotFound, "member_not_found", codes.NotFound},
		{http.StatusForbidden, "organization_suspended", codes.PermissionDenied},
		{http.StatusUnauthorized, "invalid_trusted_auth_token", codes.Unauthenticated},
	} {
		var handler http.Handler = stytchtest.Error(h.status, h.errorType, "attack")
		stytch.other.Store(&handler)
		r := tg.rest(ctx, []byte(normalBody))
		if e, _ := r.stytchError(); r.status != h.status || e.ErrorType != h.errorType {
			t.Errorf("Stytch %d %s: REST %v", h.status, h.errorType, r)
		}
		_, err := tg.client.Attest(ctx, normalRequest())
		if g := decodeStatus(err); g.code != h.code || g.reason != h.errorType {
			t.Errorf("Stytch %d %s: gRPC %v, want %s", h.status, h.errorType, g, h.code)
		}
		if code, body := tg.readyz(t); code != http.StatusOK {
			t.Errorf("/readyz after Stytch's %d %s: %d %s, want 200", h.status, h.errorType, code, body)
		}
	}
	stytch.other.Store(nil)

	stytch.rejecting.Store(true)
	r := tg.rest(ctx, []byte(normalBody))
	e, shape := r.stytchError()
	if r.status < 500 || e.ErrorType != "upstream_credentials_rejected" || shape != "" {
		t.Errorf("REST with the secret rejected: %v, want a 5xx upstream_credentials_rejected %s", r, shape)
	}
	if r.header.Get("WWW-Authenticate") != "" {
		t.Errorf("REST with the secret rejected carries WWW-Authenticate %q: the caller is blamed", r.header.Get("WWW-Authenticate"))
	}
	_, err := tg.client.Attest(ctx, normalRequest())
	g := decodeStatus(err)
	if g.code != codes.Unavailable || g.reason != "upstream_credentials_rejected" || g.info.GetDomain() != "attestd" {
		t.Errorf("gRPC with the secret rejected: %v domain %q, want Unavailable upstream_credentials_rejected from attestd", g, g.info.GetDomain())
	}
	code, body, took := tg.waitReadyz(t, http.StatusServiceUnavailable, 5*time.Second)
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the secret rejected: %d %s, want 503", code, body)
	}
	t.Logf("secret rejected: REST %d %s, gRPC %s; /readyz %d %q after %s", r.status, e.ErrorType, g.code, code, body, took.Round(time.Millisecond))

	ms := tg.scrape(t)
	calls, _ := ms.sum("attestd_attest_calls_total", "error_type", "upstream_credentials_rejected")
	var counted []sample
	for _, s := range ms {
		if s.name == "attestd_attest_calls_total" && s.labels["code"] != "OK" {
			counted = append(counted, s)
		}
	}
	t.Logf("metrics mentioning credentials: %v; failed calls counted: %v", ms.matching("credentials"), counted)
	if calls < 2 {
		t.Errorf("attestd_attest_calls_total{error_type=\"upstream_credentials_rejected\"} = %v after 2 such calls, want 2 (error_type is one of the names in README's Errors, else \"other\")", calls)
	}

	stytch.rejecting.Store(false)
	code, body, took = tg.waitReadyz(t, http.StatusOK, size(20*time.Second, time.Minute))
	if code != http.StatusOK {
		t.Errorf("/readyz %s after Stytch accepts again, with no calls: %d %s, want 200", took.Round(time.Millisecond), code, body)
	}
	t.Logf("Stytch accepts again: /readyz %d after %s", code, took.Round(time.Millisecond))
	tg.normalCalls(t, "after Stytch accepts again")
}
