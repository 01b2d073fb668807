package server_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/stytchtest"
)

// TestBreakerOpensBothProtocols: after BreakerFailures consecutive 503s
// from Stytch, calls over either protocol fail fast with
// upstream_circuit_open and a retry delay, and reach Stytch no more.
func TestBreakerOpensBothProtocols(t *testing.T) {
	h := start(t, func(c *config.Config) { c.BreakerFailures, c.BreakerCooldown = 3, time.Hour })
	h.stytch.Handle(stytchtest.Error(503, "internal_server_error", "down"))
	for range 3 {
		if _, err := h.client.Attest(ctx(t), validRequest()); status.Code(err) != codes.Unavailable {
			t.Fatalf("503 from Stytch: %v", err)
		}
	}
	if got := h.srv.Upstream().BreakerState(); got != "open" {
		t.Fatalf("breaker %s after 3 failures, want open", got)
	}
	calls := h.stytch.Calls()

	_, err := h.client.Attest(ctx(t), validRequest())
	st, body, _ := details(t, err)
	if st.Code() != codes.Unavailable || body.GetErrorType() != "upstream_circuit_open" || body.GetStatusCode() != 503 {
		t.Errorf("gRPC with the circuit open: %v %q %d", st.Code(), body.GetErrorType(), body.GetStatusCode())
	}
	code, header, raw := h.post(t, "/v1/b2b/sessions/attest", validJSON)
	m := stytchErrorOf(t, code, raw)
	if code != 503 || m["error_type"] != "upstream_circuit_open" {
		t.Errorf("REST with the circuit open: %d %v", code, m)
	}
	if s, err := strconv.Atoi(header.Get("Retry-After")); err != nil || s < 3500 {
		t.Errorf("Retry-After %q, want about an hour", header.Get("Retry-After"))
	}
	if n := h.stytch.Calls(); n != calls {
		t.Errorf("%d calls reached Stytch with the circuit open", n-calls)
	}
}

// TestLoadSheddingBothProtocols: with one upstream slot and no queue, a
// second call while the first is at Stytch is shed with
// upstream_overloaded (ResourceExhausted / 503 with Retry-After).
func TestLoadSheddingBothProtocols(t *testing.T) {
	h := start(t, func(c *config.Config) { c.UpstreamMaxConcurrent, c.UpstreamMaxQueue = 1, 0 })
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		<-release
		stytchtest.Respond(200, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	first := make(chan error, 1)
	go func() {
		_, err := h.client.Attest(ctx(t), validRequest())
		first <- err
	}()
	<-entered

	_, err := h.client.Attest(ctx(t), validRequest())
	st, body, _ := details(t, err)
	if st.Code() != codes.ResourceExhausted || body.GetErrorType() != "upstream_overloaded" || body.GetStatusCode() != 503 {
		t.Errorf("gRPC while the slot is taken: %v %q %d", st.Code(), body.GetErrorType(), body.GetStatusCode())
	}
	code, header, raw := h.post(t, "/v1/b2b/sessions/attest", validJSON)
	if m := stytchErrorOf(t, code, raw); code != 503 || m["error_type"] != "upstream_overloaded" || header.Get("Retry-After") == "" {
		t.Errorf("REST while the slot is taken: %d %v Retry-After=%q", code, m, header.Get("Retry-After"))
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("the call holding the slot: %v", err)
	}
}
