package attack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/attestd/attestd/internal/stytchtest"
)

// switchableStytch answers as Stytch does when it rejects the project's
// credentials (401 unauthorized_credentials, judged before anything else)
// while rejecting is set, and otherwise as a healthy Stytch: 400 bad_request
// for an attest body without profile_id or token (such as the `{}` attestd
// may send to test its credentials), the typical answer for the rest. other,
// when set, answers complete attest calls instead.
type switchableStytch struct {
	rejecting atomic.Bool
	other     atomic.Pointer[http.Handler]
}

func (s *switchableStytch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ProfileID string `json:"profile_id"`
		Token     string `json:"token"`
	}
	complete := json.NewDecoder(r.Body).Decode(&body) == nil && body.ProfileID != "" && body.Token != ""
	switch {
	case s.rejecting.Load():
		stytchtest.Error(http.StatusUnauthorized, "unauthorized_credentials", "Unauthorized credentials.").ServeHTTP(w, r)
	case !complete:
		stytchtest.Error(http.StatusBadRequest, "bad_request", "profile_id and token are required.").ServeHTTP(w, r)
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
// callers get attestd's own 5xx upstream_credentials_rejected (REST 503
// without WWW-Authenticate, gRPC Unavailable, domain attestd), never
// Stytch's 401 as if the caller's credentials were wrong; /readyz on the
// admin port turns 503 and gRPC health NOT_SERVING for the service ("" stays
// SERVING); attestd_upstream_credentials_rejected is 1 and the calls are
// counted under their error_type; an ERROR line says so; and once Stytch
// accepts again, /readyz returns to 200 and the gauge to 0 without any
// caller's help (attestd re-checks by itself). Other Stytch 4xx answers
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
	if line := tg.logs.wait(0, 5*time.Second, func(m map[string]any) bool {
		return m["level"] == "ERROR" && strings.HasPrefix(fmt.Sprint(m["msg"]), "Stytch rejects attestd's project credentials")
	}); line == nil {
		t.Errorf("no ERROR line saying Stytch rejects attestd's project credentials")
	}
	tg.checkHealth(t, "with the secret rejected", healthpb.HealthCheckResponse_NOT_SERVING)

	ms := tg.scrape(t)
	calls, _ := ms.sum("attestd_attest_calls_total", "error_type", "upstream_credentials_rejected")
	gauge, ok := ms.sum("attestd_upstream_credentials_rejected")
	var shown []sample
	for _, s := range ms.matching("credentials") {
		if !strings.HasSuffix(s.name, "_bucket") {
			shown = append(shown, s)
		}
	}
	t.Logf("metrics mentioning credentials: %v", shown)
	if calls < 2 {
		t.Errorf("attestd_attest_calls_total{error_type=\"upstream_credentials_rejected\"} = %v after 2 such calls, want 2", calls)
	}
	if !ok || gauge != 1 {
		t.Errorf("attestd_upstream_credentials_rejected = %v (present %v) with the secret rejected, want 1", gauge, ok)
	}

	stytch.rejecting.Store(false)
	code, body, took = tg.waitReadyz(t, http.StatusOK, size(20*time.Second, time.Minute))
	if code != http.StatusOK {
		t.Errorf("/readyz %s after Stytch accepts again, with no calls: %d %s, want 200", took.Round(time.Millisecond), code, body)
	}
	t.Logf("Stytch accepts again: /readyz %d after %s with no caller's help", code, took.Round(time.Millisecond))
	if gauge, _ := tg.scrape(t).sum("attestd_upstream_credentials_rejected"); gauge != 0 {
		t.Errorf("attestd_upstream_credentials_rejected = %v once Stytch accepts again, want 0", gauge)
	}
	tg.checkHealth(t, "once Stytch accepts again", healthpb.HealthCheckResponse_SERVING)
	tg.normalCalls(t, "after Stytch accepts again")
}

// checkHealth checks gRPC health: the service is want, "" always SERVING.
func (tg *target) checkHealth(t *testing.T, when string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(tg.conn)
	for service, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		"": healthpb.HealthCheckResponse_SERVING, "stytch.b2b.session.v1.SessionService": want,
	} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != want {
			t.Errorf("gRPC health %q %s: %v %v, want %s", service, when, resp.GetStatus(), err, want)
		}
	}
}
