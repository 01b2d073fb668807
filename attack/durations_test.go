package attack

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/attestd/attestd/internal/stytchtest"
)

// TestClampedDurations attacks the retry-delay arithmetic: Stytch answers 429
// with a Retry-After of 99999999999999999999 seconds (past what a
// time.Duration holds), a far-future HTTP-date, or a negative or garbage
// value. Must hold, for callers with a 5 s deadline on both protocols: the
// REST answer's Retry-After is a positive integer ≤ 3600 (absent is allowed
// only for the unreadable values), gRPC's RetryInfo is positive and ≤ 1 h
// (likewise), and each call returns promptly: attestd neither sleeps the
// delay out nor retries into the deadline.
func TestClampedDurations(t *testing.T) {
	fake := stytchtest.NewServer(t)
	tg := start(t, fake, "ATTESTD_BREAKER_FAILURES=1000")
	cases := []struct {
		name, retryAfter string
		mustCarry        bool // a readable, huge delay: the caller must be told (clamped)
	}{
		{"Overflowing", "99999999999999999999", true},
		{"FarFutureDate", "Fri, 31 Dec 9999 23:59:59 GMT", true},
		{"Negative", "-5", false},
		{"Garbage", "soon, maybe", false},
	}
	const promptly = 2 * time.Second // the caller's deadline is 5 s
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := stytchtest.ErrorBody(http.StatusTooManyRequests, "too_many_requests", "Too many requests.")
			fake.Handle(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", tc.retryAfter)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write(body)
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			before := fake.Calls()

			r := tg.rest(ctx, []byte(normalBody), "Grpc-Timeout", "5S")
			e, shape := r.stytchError()
			if r.status != http.StatusTooManyRequests || e.ErrorType != "too_many_requests" || shape != "" {
				t.Errorf("REST: %v, want Stytch's 429 too_many_requests %s", r, shape)
			}
			ra, present := r.header.Get("Retry-After"), len(r.header.Values("Retry-After")) > 0
			secs, err := strconv.ParseInt(ra, 10, 64)
			switch {
			case !present && tc.mustCarry:
				t.Errorf("REST: no Retry-After for Stytch's %q, want a positive integer ≤ 3600", tc.retryAfter)
			case present && (err != nil || secs <= 0 || secs > 3600):
				t.Errorf("REST: Retry-After %q for Stytch's %q, want a positive integer ≤ 3600", ra, tc.retryAfter)
			}
			if r.took > promptly {
				t.Errorf("REST: answered after %s, want well under the 5 s deadline", r.took)
			}

			begin := time.Now()
			_, gerr := tg.client.Attest(ctx, normalRequest())
			grpcTook := time.Since(begin)
			g := decodeStatus(gerr)
			if g.code != codes.ResourceExhausted || g.reason != "too_many_requests" {
				t.Errorf("gRPC: %v, want ResourceExhausted too_many_requests", g)
			}
			var delay time.Duration
			switch {
			case g.retry == nil && tc.mustCarry:
				t.Errorf("gRPC: no RetryInfo for Stytch's %q, want one within (0, 1h]", tc.retryAfter)
			case g.retry != nil:
				if err := g.retry.GetRetryDelay().CheckValid(); err != nil {
					t.Errorf("gRPC: RetryInfo %v is not a valid duration: %v", g.retry, err)
				}
				delay = g.retry.GetRetryDelay().AsDuration()
				if delay <= 0 || delay > time.Hour {
					t.Errorf("gRPC: RetryInfo %v for Stytch's %q, want within (0, 1h]", g.retry.GetRetryDelay(), tc.retryAfter)
				}
			}
			if grpcTook > promptly {
				t.Errorf("gRPC: answered after %s, want well under the 5 s deadline", grpcTook)
			}
			if n := fake.Calls() - before; n != 2 {
				t.Errorf("Stytch saw %d calls for 2 Attest calls, want 2: a retry with a delay that cannot fit the deadline", n)
			}
			t.Logf("Stytch's Retry-After %q → REST Retry-After %q in %s; gRPC RetryInfo %s in %s; %d calls reached Stytch",
				tc.retryAfter, ra, r.took.Round(time.Microsecond), delay, grpcTook.Round(time.Microsecond), fake.Calls()-before)
		})
	}
}
