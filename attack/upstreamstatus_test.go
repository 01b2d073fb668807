package attack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/internal/stytchtest"
)

// TestUpstreamOddStatuses attacks the translation of Stytch's answer with
// statuses that are neither a success (200, 201) nor a Stytch error: 307
// without Location, 302 to another server, 202 with a success body, 204, a
// 101 Switching Protocols on a hijacked connection, and HTML 404 and 503
// pages as a proxy in front of Stytch would send. Must hold: REST callers get
// 502 upstream_error in Stytch's error shape, gRPC callers Unavailable with
// reason upstream_error, and a redirect is never followed (the other server
// sees no call).
func TestUpstreamOddStatuses(t *testing.T) {
	fake := stytchtest.NewServer(t)
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		stytchtest.Respond(http.StatusOK, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	t.Cleanup(other.Close)
	// Every case answers twice; none may open the breaker for the next.
	tg := start(t, fake, "ATTESTD_BREAKER_FAILURES=1000")

	html := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			_, _ = w.Write([]byte("<html><body><h1>" + http.StatusText(status) + "</h1></body></html>"))
		})
	}
	cases := []struct {
		name    string
		handler http.Handler
	}{
		{"307WithoutLocation", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTemporaryRedirect)
		})},
		{"302Elsewhere", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", other.URL+attestPath)
			w.WriteHeader(http.StatusFound)
		})},
		{"202WithSuccessBody", stytchtest.Respond(http.StatusAccepted, stytchtest.Typical())},
		{"204", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})},
		{"101SwitchingProtocols", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			c, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: attack\r\n\r\nnot http any more")
			_ = buf.Flush()
		})},
		{"HTML404", html(http.StatusNotFound)},
		{"HTML503", html(http.StatusServiceUnavailable)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake.Handle(tc.handler)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			before := fake.Calls()
			r := tg.rest(ctx, []byte(normalBody))
			e, shape := r.stytchError()
			if r.status != http.StatusBadGateway || e.ErrorType != "upstream_error" || shape != "" {
				t.Errorf("REST: %v, want 502 upstream_error %s", r, shape)
			}
			_, err := tg.client.Attest(ctx, normalRequest())
			g := decodeStatus(err)
			if g.code != codes.Unavailable || g.reason != "upstream_error" {
				t.Errorf("gRPC: %v, want Unavailable upstream_error", g)
			}
			if g.body == nil || g.body.GetErrorType() != "upstream_error" {
				t.Errorf("gRPC: the details lack a StytchError upstream_error: %v", g.body)
			}
			if n := fake.Calls() - before; n != 2 {
				t.Errorf("Stytch saw %d calls for 2 Attest calls, want 2 (no retries)", n)
			}
			t.Logf("REST %d %q (%s); gRPC %s", r.status, e.ErrorMessage, e.ErrorType, g.code)
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the server a 302 pointed to was called %d times: a redirect was followed", n)
	}
}
